import { test } from "node:test";
import assert from "node:assert/strict";
import { DurationEstimate, PATIENT_MIN_MS, waitPatiently } from "../../src/gpu/patient-wait.ts";

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("short or unknown work is awaited at once; the estimate learns from it", async () => {
  const estimate = new DurationEstimate();
  assert.equal(estimate.ms, undefined);
  const started = performance.now();
  await waitPatiently(estimate, true, started, () => delay(2));
  assert.ok(estimate.ms! >= 2 && estimate.ms! < PATIENT_MIN_MS + 50);
});

test("long work on a busy-polling adapter sleeps first, so the promise is created late", async () => {
  const estimate = new DurationEstimate();
  estimate.observe(100);
  const submitted = performance.now();
  let createdAfter = -1;
  await waitPatiently(estimate, true, submitted, () => {
    createdAfter = performance.now() - submitted;
    return delay(30);
  });
  assert.ok(createdAfter >= 75, `the promise was created ${createdAfter} ms after submit; expected about 80`);
  // Without busy polling (a browser) there is no reason to sleep.
  const again = performance.now();
  await waitPatiently(estimate, false, again, () => {
    createdAfter = performance.now() - again;
    return Promise.resolve();
  });
  assert.ok(createdAfter < 5);
});

test("a wait that finds the work already done halves the estimate", async () => {
  const estimate = new DurationEstimate();
  estimate.observe(40);
  // The "GPU" is done immediately: the sleep (32 ms) overshoots, and the next estimate is smaller.
  await waitPatiently(estimate, true, performance.now(), () => Promise.resolve());
  assert.ok(estimate.ms! < 25, `estimate ${estimate.ms}`);
});
