// The README's screenshot of the demo: trains CartPole-v1 in headless Chromium (the quick preset,
// WebGPU on SwiftShader when there is no GPU) until a greedy evaluation reaches --return or
// --steps are taken, then saves a picture of the page. Run after `npm run build`:
//   npx tsx scripts/demo-screenshot.ts [--steps 40000] [--return 475] [--out docs/browser/demo.png]
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";
import { startDemoServer } from "../demo/server.ts";
import { CHROMIUM_ARGS, ensureChromium } from "../test/browser/chromium-setup.ts";

const { values } = parseArgs({
  options: {
    steps: { type: "string", default: "40000" },
    return: { type: "string", default: "475" },
    out: { type: "string", default: "docs/browser/demo.png" },
    settings: { type: "string", default: "" },
  },
});
const steps = Number(values.steps);
const goal = Number(values.return);
const setup = ensureChromium();
if ("skip" in setup) {
  console.error(setup.skip);
  process.exit(1);
}
const server = await startDemoServer({ port: 0 });
const browser = await chromium.launch({ executablePath: setup.path, args: CHROMIUM_ARGS });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on("pageerror", (error) => console.error(`page error: ${error.message}`));
  await page.goto(`${server.origin}/demo/?autostart=1${values.settings ? `&${values.settings}` : ""}`);
  const started = performance.now();
  let lastLine = "";
  for (;;) {
    await page.waitForTimeout(2000);
    const status = await page.evaluate(() => ({
      step: Number(document.getElementById("status")!.dataset.globalStep),
      evaluation: document.getElementById("last-eval")!.textContent ?? "",
      error: document.getElementById("error")!.textContent ?? "",
    }));
    if (status.error) throw new Error(`the page reported: ${status.error}`);
    const line = `${((performance.now() - started) / 60_000).toFixed(1)} min: step ${status.step}, last evaluation ${status.evaluation}`;
    if (line !== lastLine) console.log(line);
    lastLine = line;
    const evaluated = Number.parseFloat(status.evaluation);
    if (status.step >= steps || (Number.isFinite(evaluated) && evaluated >= goal)) break;
  }
  await page.click("#pause");
  await page.waitForFunction(() => document.getElementById("status")!.dataset.state === "paused", undefined, { timeout: 120_000 });
  await page.waitForTimeout(1500); // a few more animation frames and stack-view updates
  mkdirSync(dirname(values.out), { recursive: true });
  await page.screenshot({ path: values.out, fullPage: true });
  console.log(`saved ${values.out}`);
} finally {
  await browser.close();
  await server.close();
}
