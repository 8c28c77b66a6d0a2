/**
 * A small static file server for the demo pages: serves dist/ (the bundle and the pages) on
 * localhost. WebGPU needs a secure context, and http://localhost is one; a file:// page is not.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { extname, join, normalize, sep } from "node:path";

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".safetensors": "application/octet-stream",
};

export interface DemoServer {
  /** e.g. http://127.0.0.1:8080 (no trailing slash). */
  readonly origin: string;
  readonly port: number;
  close(): Promise<void>;
}

export interface DemoServerOptions {
  /** The folder served (default: the repository's dist/). */
  root?: string;
  /** 0 picks a free port. */
  port?: number;
  host?: string;
}

export const DEFAULT_ROOT = join(import.meta.dirname, "..", "dist");

/** Starts serving; `/` redirects to the training demo. Rejects when the port is taken. */
export async function startDemoServer(options: DemoServerOptions = {}): Promise<DemoServer> {
  const root = normalize(options.root ?? DEFAULT_ROOT);
  const host = options.host ?? "127.0.0.1";
  const server = createServer((request, response) => {
    // Any page the user visits can send requests to localhost, so no request may end the server:
    // whatever the handler throws becomes this request's error answer.
    serve(root, request, response).catch((error: unknown) => {
      if (response.headersSent) response.destroy();
      else fail(response, 500, `could not answer: ${(error as Error).message}`);
    });
  });
  await listen(server, options.port ?? 0, host);
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the demo server has no TCP address");
  const shownHost = host.includes(":") ? `[${host}]` : host;
  return {
    origin: `http://${shownHost}:${address.port}`,
    port: address.port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Answers one request from the files under `root`. */
async function serve(root: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const relativePath = requestedPath(request.url ?? "/");
  if (relativePath === undefined) return fail(response, 400, "malformed request path");
  if (relativePath === "/" || relativePath === "/demo") {
    response.writeHead(302, { location: "/demo/" });
    response.end();
    return;
  }
  const path = normalize(join(root, relativePath.replace(/\/$/, "/index.html")));
  if (path !== root && !path.startsWith(root + sep)) return fail(response, 403, "outside the served folder");
  if (request.method !== "GET" && request.method !== "HEAD") return fail(response, 405, "only GET and HEAD");
  let size: number;
  try {
    const info = await stat(path);
    if (!info.isFile()) return fail(response, 404, "not a file");
    size = info.size;
  } catch {
    return fail(response, 404, `no such file: ${relativePath}`);
  }
  response.writeHead(200, {
    "content-type": CONTENT_TYPES[extname(path)] ?? "application/octet-stream",
    "content-length": size,
    "cache-control": "no-store",
  });
  if (request.method === "HEAD") return void response.end();
  // pipe() does not forward a read error: without this handler a file that vanishes after stat
  // would throw an unhandled 'error' event. The headers are out, so the connection is cut.
  createReadStream(path)
    .on("error", () => response.destroy())
    .pipe(response);
}

/** The decoded path of a request target, or undefined when it is not a valid URL path or escape. */
function requestedPath(target: string): string | undefined {
  try {
    return decodeURIComponent(new URL(target, "http://localhost").pathname);
  } catch {
    return undefined; // "//" (no host), "%", "%ff" (not UTF-8): new URL or decodeURIComponent throws
  }
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

function fail(response: ServerResponse, status: number, why: string): void {
  response.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
  response.end(`${status}: ${why}\n`);
}
