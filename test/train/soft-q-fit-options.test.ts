// The soft Q fit's options, checked before anything is made: a destroyed trainer or replay buffer
// is refused (submitting its buffers would fail every later call on the Gpu), values are numbers
// (not strings or null that compare like them) that float32 can hold, misspelt keys are refused,
// and a missing options object is a StaqInputError, not a TypeError.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { MlpSpec } from "../../src/stack/mlp.ts";
import { createMlpTrainer } from "../../src/train/mlp-trainer.ts";
import { createReplayBuffer, type ReplayBuffer } from "../../src/train/replay-buffer.ts";
import { createSoftQFit, fitSoftQ, type FitSoftQOptions, type SoftQFitOptions } from "../../src/train/soft-q-fit.ts";
import { testGpu } from "../helpers/gpu.ts";

const gpu = await testGpu();
const SPEC: MlpSpec = { inputs: 3, hidden: [4], outputs: 2 };
const BATCH = 4;

function filledReplay(): ReplayBuffer {
  const replay = createReplayBuffer(gpu, { capacity: 16, inputs: SPEC.inputs, actions: SPEC.outputs });
  replay.add({
    obs: new Float32Array(8 * SPEC.inputs).map((_, i) => i / 10),
    nextObs: new Float32Array(8 * SPEC.inputs).map((_, i) => i / 20),
    actions: [0, 1, 0, 1, 0, 1, 0, 1],
    rewards: [1, 0, 1, 0, 1, 0, 1, 0],
    terminated: [false, false, false, true, false, false, false, false],
  });
  return replay;
}

/** The max rule needs no precomputed policy, so these fits run without a stack. */
const BASE = { seed: 0, gamma: 0.9, rewardScale: 1, target: { kind: "max" } } as const;

async function trainer() {
  return createMlpTrainer(gpu, { mlp: SPEC, batch: BATCH, adam: { lr: 1e-3 }, targetNetworks: true });
}

/** Counts the buffers made on the Gpu's device while `run` runs. */
async function buffersMadeBy(run: () => Promise<unknown>): Promise<number> {
  const device = gpu.device as GPUDevice & { createBuffer: GPUDevice["createBuffer"] };
  const original = device.createBuffer;
  let made = 0;
  device.createBuffer = function (this: GPUDevice, descriptor: GPUBufferDescriptor) {
    made++;
    return original.call(this, descriptor);
  };
  try {
    await run().catch(() => undefined);
  } finally {
    device.createBuffer = original;
  }
  return made;
}

test("a destroyed replay buffer or trainer is refused before its buffers are submitted, and the Gpu stays usable", async () => {
  const t = await trainer();
  const replay = filledReplay();
  const fit = await createSoftQFit(gpu, { trainer: t, replay, ...BASE });
  await fitSoftQ(fit, { steps: 1, tau: 0 });
  replay.destroy();
  await assert.rejects(fitSoftQ(fit, { steps: 1, tau: 0 }), {
    name: "StaqGpuError",
    message: "fitSoftQ: the replay buffer was destroyed; create a new replay buffer and a soft Q fit on it",
  });
  await assert.rejects(createSoftQFit(gpu, { trainer: t, replay, ...BASE }), {
    name: "StaqGpuError",
    message: "createSoftQFit: the replay buffer was destroyed; create a new replay buffer and a soft Q fit on it",
  });
  assert.throws(() => fit.syncTargets(), /syncTargets: the replay buffer was destroyed/);
  await assert.rejects(fit.readLastStep(), /readLastStep: the replay buffer was destroyed/);
  fit.destroy();

  // Nothing was submitted with a destroyed buffer: a new fit on the same Gpu still runs.
  const fresh = filledReplay();
  const again = await createSoftQFit(gpu, { trainer: t, replay: fresh, ...BASE });
  const summary = await fitSoftQ(again, { steps: 2, tau: 0 });
  assert.ok(Number.isFinite(summary.meanLoss[0]));
  t.destroy();
  await assert.rejects(fitSoftQ(again, { steps: 1, tau: 0 }), {
    name: "StaqGpuError",
    message: "fitSoftQ: the trainer was destroyed; create a new trainer and a soft Q fit on it",
  });
  await assert.rejects(createSoftQFit(gpu, { trainer: t, replay: fresh, ...BASE }), /createSoftQFit: the trainer was destroyed/);
  again.destroy();
  fresh.destroy();
});

test("createSoftQFit takes numbers, not values that compare like them, and ones float32 holds", async () => {
  const t = await trainer();
  const replay = filledReplay();
  const make = (extra: Record<string, unknown>) =>
    createSoftQFit(gpu, { trainer: t, replay, ...BASE, ...extra } as unknown as SoftQFitOptions);
  // null >= 0, [] >= 0 and "" >= 0 are true in JavaScript: each acted as γ = 0; "0.5" passed.
  for (const [gamma, shown] of [
    [null, "null"],
    [[], "an array []"],
    ["", 'the string ""'],
    ["0.5", 'the string "0.5"'],
  ] as const)
    await assert.rejects(make({ gamma }), { name: "StaqInputError", message: `gamma must be in [0, 1) (a number); got ${shown}` });
  await assert.rejects(make({ rewardScale: "10" }), /rewardScale must be a finite number; got the string "10"/);
  // Infinity in float32: the loss came back NaN.
  await assert.rejects(make({ rewardScale: 1e40 }), /rewardScale 1e\+40 is outside float32's normal range.*there it is Infinity/);
  await assert.rejects(make({ rewardScale: -1e-40 }), /rewardScale -1e-40 is outside float32's normal range.*there it is 0/);
  await assert.rejects(make({ label: 3 }), /label must be a string; got 3/);
  await assert.rejects(make({ gradientSteps: "2" }), /gradientSteps must be an integer >= 0; got the string "2"/);
  await assert.rejects(make({ target: { kind: "munchausen", alpha: 1e40 } }), /target\.alpha 1e\+40 is outside float32's normal range/);
  await assert.rejects(
    make({ target: { kind: "munchausen", alhpa: 0.5 } }),
    /target: unknown option "alhpa"; the options are: kind, alpha, clipMin/,
  );
  await assert.rejects(
    make({ smoothness: { state: 1, sigmas: 0.1 } }),
    /smoothness: unknown option "sigmas"; the options are: state, transition, sigma/,
  );
  await assert.rejects(make({ smoothness: { state: 1e40 } }), /smoothness\.state 1e\+40 is outside float32's normal range/);

  // "0.5" > 0 is true: ρ passed its check and failed in the kernel's constants, after the sampler
  // and the statistics buffers were made (and never freed). Now it fails before any buffer.
  let error: unknown;
  const made = await buffersMadeBy(async () => {
    try {
      await make({ targetUpdate: { kind: "polyak", rho: "0.5" } });
    } catch (caught) {
      error = caught;
    }
  });
  assert.match(String(error), /StaqInputError: targetUpdate\.rho must be a number in \(0, 1\]; got the string "0\.5"/);
  assert.equal(made, 0, "buffers made before the bad option was refused");
  await assert.rejects(make({ targetUpdate: { kind: "polyak", rho: 1e-40 } }), /targetUpdate\.rho 1e-40 is outside float32's normal range/);
  await assert.rejects(
    make({ targetUpdate: { kind: "hard", every: "5" } }),
    /targetUpdate\.every must be an integer >= 1; got the string "5"/,
  );
  await assert.rejects(
    make({ targetUpdate: "hard" }),
    /targetUpdate must be \{ kind: "hard", every \} or \{ kind: "polyak", rho \}; got the string "hard"/,
  );
  await assert.rejects(
    make({ targetUpdate: { kind: "hard", every: 5, rho: 0.5 } }),
    /targetUpdate: unknown option "rho"; the options are: kind, every/,
  );
  // A misspelt option was ignored, and the default used in its place.
  await assert.rejects(make({ targetUpdates: { kind: "hard", every: 5 } }), {
    name: "StaqInputError",
    message:
      'createSoftQFit: unknown option "targetUpdates"; the options are: trainer, replay, seed, gamma, rewardScale, target, nextAction, targetUpdate, gradientSteps, path, smoothness, label',
  });
  // The options the fit is made with still work.
  const fit = await make({ gamma: 0, rewardScale: 0, targetUpdate: { kind: "polyak", rho: 1 } });
  await fitSoftQ(fit, { steps: 1, tau: 0 });
  fit.destroy();
  t.destroy();
  replay.destroy();
});

test("a missing options object is a StaqInputError, not a TypeError", async () => {
  const t = await trainer();
  const replay = filledReplay();
  const untyped = createSoftQFit as unknown as (...args: unknown[]) => Promise<unknown>;
  await assert.rejects(untyped(gpu), { name: "StaqInputError", message: "createSoftQFit needs an options object; got undefined" });
  await assert.rejects(untyped(), { name: "StaqInputError", message: "createSoftQFit needs a Gpu (createGpu); got undefined" });
  await assert.rejects(
    untyped(gpu, { ...BASE, replay }),
    /createSoftQFit: trainer must be an MlpTrainer \(createMlpTrainer\); got undefined/,
  );
  await assert.rejects(
    untyped(gpu, { ...BASE, trainer: t }),
    /createSoftQFit: replay must be a ReplayBuffer \(createReplayBuffer\); got undefined/,
  );
  const fit = await createSoftQFit(gpu, { trainer: t, replay, ...BASE });
  const fitUntyped = fitSoftQ as unknown as (...args: unknown[]) => Promise<unknown>;
  await assert.rejects(fitUntyped(fit), { name: "StaqInputError", message: "fitSoftQ needs an options object; got undefined" });
  await assert.rejects(fitUntyped(), { name: "StaqInputError", message: "fitSoftQ needs a soft Q fit (createSoftQFit); got undefined" });
  await assert.rejects(
    fitSoftQ(fit, { steps: 1, tau: 0, taus: 1 } as FitSoftQOptions),
    /fitSoftQ: unknown option "taus"; the options are: steps, tau/,
  );
  await assert.rejects(
    fitSoftQ(fit, { steps: "1", tau: 0 } as unknown as FitSoftQOptions),
    /steps must be an integer >= 1; got the string "1"/,
  );
  // τ is a float32 uniform: 1e40 is Infinity there, and the loss came back NaN.
  await assert.rejects(fitSoftQ(fit, { steps: 1, tau: 1e40 }), /tau 1e\+40 is outside float32's normal range.*there it is Infinity/);
  await assert.rejects(
    fitSoftQ(fit, { steps: 1, tau: "0.5" } as unknown as FitSoftQOptions),
    /tau must be a finite number >= 0; got the string "0\.5"/,
  );
  // The options are taken when the fit is called: changing them afterwards changes nothing.
  const options = { steps: 2, tau: 0 };
  const summary = fitSoftQ(fit, options);
  options.steps = 0;
  assert.equal((await summary).steps, 2);
  fit.destroy();
  t.destroy();
  replay.destroy();
});
