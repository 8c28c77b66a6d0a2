/**
 * The demo pages in a real browser: Chromium headless through playwright-core, with WebGPU on
 * SwiftShader (Chromium's own CPU implementation) here, against the pages as `npm run build` makes
 * them, served by the demo server. The setup installs Chromium when it is missing (see
 * chromium-setup.ts).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { startDemoServer, type DemoServer } from "../../demo/server.ts";
import { createStack, type Stack } from "../../src/stack/stack.ts";
import { stackLogits } from "../../src/stack/stack-logits.ts";
import { stackLogitsReference } from "../../src/stack/reference.ts";
import { saveStack } from "../../src/node/stack-files.ts";
import type { MlpSpec } from "../../src/stack/mlp.ts";
import { randomSnapshots, randomStates } from "../helpers/random.ts";
import { testGpu } from "../helpers/gpu.ts";
import { CHROMIUM_ARGS, ensureChromium } from "./chromium-setup.ts";

/** Where the screenshot of the trained page goes (git-ignored; CI keeps it as an artifact). */
export const ARTIFACTS = join(import.meta.dirname, "..", "..", "test-artifacts", "browser");
const WAIT_MS = 240_000;

const chromiumSetup = ensureChromium();

if ("skip" in chromiumSetup) {
  test("the demo pages in a browser", { skip: chromiumSetup.skip }, () => {});
} else {
  describe("the demo pages in headless Chromium", { timeout: 15 * 60_000 }, () => {
    let server: DemoServer;
    let browser: Browser;
    const scratch = mkdtempSync(join(tmpdir(), "staq-browser-"));
    // Node's side of the comparisons; asked for here so that it is released after the suite.
    const nodeGpu = testGpu();

    before(async () => {
      server = await startDemoServer({ port: 0 });
      browser = await chromium.launch({ executablePath: chromiumSetup.path, args: CHROMIUM_ARGS });
    });
    after(async () => {
      await browser?.close();
      await server?.close();
      rmSync(scratch, { recursive: true, force: true });
    });

    /** A new page that fails the test on any uncaught page error. */
    async function openPage(
      path: string,
      options: { withoutWebGpu?: boolean; readyAttribute?: string } = {},
    ): Promise<{ page: Page; errors: string[] }> {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const errors: string[] = [];
      page.on("pageerror", (error) => errors.push(error.message));
      page.on("console", (message) => {
        if (message.type() === "error" && !/favicon/.test(message.text())) errors.push(message.text());
      });
      if (options.withoutWebGpu) {
        // What a browser without WebGPU looks like to the page: no navigator.gpu at all.
        await page.addInitScript({ content: "delete Navigator.prototype.gpu;" });
      }
      await page.goto(`${server.origin}${path}`);
      await page.waitForFunction((name) => document.body.dataset[name] !== undefined, options.readyAttribute ?? "ready", {
        timeout: WAIT_MS,
      });
      return { page, errors };
    }

    test("the training page finds an adapter, trains, grows the stack to M and draws the learning curve", async () => {
      const memory = 3;
      const iterations = 5;
      const settings = `memory=${memory}&stepsPerIteration=200&gradientSteps=40&batchSize=32&replayCapacity=2000&evalEvery=400&evalEpisodes=2&totalSteps=100000`;
      const { page, errors } = await openPage(`/demo/?autostart=1&${settings}`);
      assert.equal(
        await page.getAttribute("#gpu-status", "data-state"),
        "ok",
        `the page found no adapter: ${await page.textContent("#gpu-status")}`,
      );

      // Each pushed iteration adds a snapshot until the stack holds M; then the oldest makes way.
      const seen = new Map<number, number>();
      while (true) {
        await page.waitForFunction(
          (after) =>
            Number(document.getElementById("status")!.dataset.iteration) > after || document.getElementById("error")!.textContent !== "",
          Math.max(0, ...seen.keys()),
          { timeout: WAIT_MS },
        );
        const errorText = await page.textContent("#error");
        assert.equal(errorText, "", `the page reported an error: ${errorText}`);
        const { iteration, stackSize } = await page.$eval("#status", (status) => ({
          iteration: Number(status.dataset.iteration),
          stackSize: Number(status.dataset.stackSize),
        }));
        seen.set(iteration, stackSize);
        if (iteration >= iterations) break;
      }
      for (const [iteration, stackSize] of seen)
        assert.equal(stackSize, Math.min(iteration, memory), `after iteration ${iteration} the stack holds ${stackSize}`);

      await page.click("#pause");
      await page.waitForFunction(() => document.getElementById("status")!.dataset.state === "paused", undefined, { timeout: WAIT_MS });
      assert.match((await page.textContent("#stack-size")) ?? "", new RegExp(`^${memory} / ${memory}$`));

      // The curve: its points (training iterations with finished episodes, and evaluations at
      // steps 0, 400, 800) and pixels of the training line's colour on the canvas.
      const curve = await page.$eval("#curve", (canvas) => {
        const element = canvas as HTMLCanvasElement;
        const accent = getComputedStyle(document.documentElement).getPropertyValue("--accent").trim();
        const probe = document.createElement("canvas").getContext("2d")!;
        probe.fillStyle = accent;
        probe.fillRect(0, 0, 1, 1);
        const [r, g, b] = probe.getImageData(0, 0, 1, 1).data;
        const pixels = element.getContext("2d")!.getImageData(0, 0, element.width, element.height).data;
        let coloured = 0;
        for (let k = 0; k < pixels.length; k += 4) {
          if (Math.abs(pixels[k] - r) + Math.abs(pixels[k + 1] - g) + Math.abs(pixels[k + 2] - b) < 30 && pixels[k + 3] > 200) coloured++;
        }
        return { points: Number(element.dataset.points), coloured };
      });
      assert.ok(curve.points >= 3, `the curve shows ${curve.points} points`);
      assert.ok(curve.coloured >= 100, `the curve's training line covers ${curve.coloured} pixels`);
      // The stack view was drawn on the cart's state.
      await page.waitForFunction(() => document.querySelectorAll("#stack-view canvas").length > 0, undefined, { timeout: WAIT_MS });

      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, "demo-trained.png"), fullPage: true });
      assert.deepEqual(errors, []);
      await page.close();
    });

    test("without WebGPU the training page says so and what to use, and nothing can start", async () => {
      const { page } = await openPage("/demo/", { withoutWebGpu: true });
      assert.equal(await page.getAttribute("#gpu-status", "data-state"), "missing");
      assert.match((await page.textContent("#gpu-status")) ?? "", /no WebGPU.*Chrome/);
      assert.equal(await page.isDisabled("#start"), true);
      await page.close();
    });

    /** A random stack (2 members, M = 4, pushed 6 times so the ring has wrapped) saved as a file. */
    async function makeStackFile(spec: MlpSpec): Promise<{ file: string; stack: Stack }> {
      const stack = createStack(await nodeGpu, { mlp: spec, memory: 4, ensemble: 2, eta: 1.5, tau: 0.3 });
      for (let k = 0; k < 6; k++)
        stack.push([randomSnapshots(spec, 1, 10 + k)[0], randomSnapshots(spec, 1, 100 + k)[0]], { tau: 0.3 + 0.05 * k });
      const file = join(scratch, `stack-${spec.inputs}.safetensors`);
      await saveStack(stack, file);
      return { file, stack };
    }

    test("the stack viewer's logits for a dropped safetensors stack equal Node's on the same states", async () => {
      const spec: MlpSpec = { inputs: 5, hidden: [12, 7], outputs: 4 };
      const { file, stack } = await makeStackFile(spec);
      const batch = 7;
      const states = randomStates(batch, spec.inputs, 5, 3);
      const nodeLogits = await stackLogits(stack, states);
      const reference = stackLogitsReference(
        { spec, snapshots: await stack.readSnapshots(), coefficients: stack.coefficients, correction: stack.correction },
        states,
        batch,
      );
      stack.destroy();

      const { page, errors } = await openPage("/demo/stack.html");
      assert.equal(await page.getAttribute("#gpu-status", "data-state"), "ok");
      // Dropped on the drop zone, as a person would (the file picker is the other way in, below).
      const dataTransfer = await page.evaluateHandle(
        ({ name, data }) => {
          const transfer = new DataTransfer();
          transfer.items.add(new File([new Uint8Array(data)], name));
          return transfer;
        },
        { name: "stack.safetensors", data: Array.from(readFileSync(file)) },
      );
      await page.dispatchEvent("#drop-zone", "dragover", { dataTransfer });
      await page.dispatchEvent("#drop-zone", "drop", { dataTransfer });
      await page.waitForFunction(() => document.body.dataset.computed === "1", undefined, { timeout: WAIT_MS });
      const rows = Array.from({ length: batch }, (_, b) => Array.from(states.subarray(b * spec.inputs, (b + 1) * spec.inputs)).join(", "));
      await page.fill("#states", rows.join("\n"));
      await page.click("#compute");
      await page.waitForFunction(() => document.body.dataset.computed === "2", undefined, { timeout: WAIT_MS });
      assert.equal(await page.getAttribute("#logits-output", "data-batch"), String(batch));
      const browserLogits = JSON.parse((await page.getAttribute("#logits-output", "data-logits")) ?? "[]") as number[];
      assert.equal(browserLogits.length, batch * spec.outputs);
      // Both are float32 evaluations of the same stack (the file keeps float32 coefficients, and
      // the states' text is their shortest round-trip decimal, so the browser reads the same
      // floats). Each is within the derived bound of the float64 reference (src/stack/reference.ts),
      // so they are within twice that bound of each other, whatever the two GPUs round differently.
      for (let k = 0; k < browserLogits.length; k++) {
        assert.ok(
          Math.abs(browserLogits[k] - reference.logits[k]) <= reference.bound[k],
          `browser logit ${k}: ${browserLogits[k]} vs reference ${reference.logits[k]} (bound ${reference.bound[k]})`,
        );
        assert.ok(
          Math.abs(browserLogits[k] - nodeLogits[k]) <= 2 * reference.bound[k],
          `logit ${k}: browser ${browserLogits[k]}, Node ${nodeLogits[k]}`,
        );
      }
      assert.deepEqual(errors, []);
      await page.close();
    });

    test("the stack viewer explains a malformed file and a bad state line instead of failing silently", async () => {
      const { page } = await openPage("/demo/stack.html");
      const junk = join(scratch, "junk.safetensors");
      writeFileSync(junk, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]));
      await page.setInputFiles("#stack-file", junk);
      await page.waitForFunction(() => document.getElementById("load-error")!.textContent !== "", undefined, { timeout: WAIT_MS });
      assert.match((await page.textContent("#load-error")) ?? "", /junk\.safetensors is not a valid staq stack file: .*header/);

      const { file, stack } = await makeStackFile({ inputs: 3, hidden: [4], outputs: 2 });
      stack.destroy();
      await page.setInputFiles("#stack-file", file);
      await page.waitForFunction(() => document.body.dataset.computed === "1", undefined, { timeout: WAIT_MS });
      await page.fill("#states", "0.5, 1, 2\n1, two, 3");
      await page.click("#compute");
      await page.waitForFunction(() => document.getElementById("state-error")!.textContent !== "", undefined, { timeout: WAIT_MS });
      assert.match((await page.textContent("#state-error")) ?? "", /Line 2, value 2: "two" is not a number/);
      assert.equal(await page.evaluate(() => document.body.dataset.computed), "1", "a bad line computes nothing");
      await page.close();
    });

    test("the README's embedding example trains, acts and saves in a page of its own", async () => {
      const { page, errors } = await openPage("/demo/embed.html?steps=2000", { readyAttribute: "done" });
      const done = JSON.parse((await page.getAttribute("body", "data-done")) ?? "{}");
      assert.equal(done.error, undefined, `the page failed: ${done.error}`);
      assert.equal(done.steps, 2000);
      assert.ok(done.action === 0 || done.action === 1);
      assert.ok(done.bytes > 1000, `a stack file of ${done.bytes} bytes`);
      assert.deepEqual(errors, []);
      await page.close();
    });
  });
}
