// `npm run demo`: serves the demo pages (built into dist/ by `npm run build`) on localhost.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_ROOT, startDemoServer } from "../demo/server.ts";

const USAGE = `usage: npm run demo -- [--port N] [--host ADDRESS]
Serves the staq demo pages: the training demo (CartPole-v1 trained in the tab) and the stack viewer.
  --port N        the port (default 8080; the next free one when it is taken)
  --host ADDRESS  the address to listen on (default 127.0.0.1; 0.0.0.0 to share on a network,
                  where browsers give WebGPU only to https pages or localhost)`;

let values: { port?: string; host?: string; help?: boolean };
try {
  ({ values } = parseArgs({ options: { port: { type: "string" }, host: { type: "string" }, help: { type: "boolean", short: "h" } } }));
} catch (error) {
  console.error(`${(error as Error).message}\n${USAGE}`);
  process.exit(2);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const requested = values.port === undefined ? 8080 : Number(values.port);
if (!(Number.isInteger(requested) && requested >= 1 && requested <= 65535)) {
  console.error(`--port must be an integer from 1 to 65535; got ${JSON.stringify(values.port)}\n${USAGE}`);
  process.exit(2);
}
if (!existsSync(join(DEFAULT_ROOT, "demo", "index.html")) || !existsSync(join(DEFAULT_ROOT, "browser", "staq.js"))) {
  console.error("The demo is not built: run `npm run build` first (`npm run demo` does).");
  process.exit(1);
}

// A taken port moves on to the next (only when no port was asked for explicitly).
let server;
for (let port = requested; ; port++) {
  try {
    server = await startDemoServer({ port, host: values.host });
    break;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE" && values.port === undefined && port < requested + 20) continue;
    console.error(
      code === "EADDRINUSE" ? `port ${port} is in use; pick another with --port` : `cannot serve the demo: ${(error as Error).message}`,
    );
    process.exit(1);
  }
}
const shown = values.host === undefined ? server.origin.replace("127.0.0.1", "localhost") : server.origin;
console.log(`staq demo: ${shown}/demo/  (the stack viewer: ${shown}/demo/stack.html)`);
console.log("Open it in a browser with WebGPU (Chrome or Edge 113+, Safari 26, Firefox 141+ on Windows). Ctrl-C stops.");
process.on("SIGINT", () => void server.close().then(() => process.exit(0)));
