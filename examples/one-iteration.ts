// One StaQ iteration on the GPU, by hand: collect CartPole transitions, let the stack precompute
// π_k on every next state, fit the active Q-networks to π_k's soft Q-function (the soft Q fit), and freeze them
// into the stack. (The agent does this in a loop; this is what each piece is for.)
//   npx tsx examples/one-iteration.ts
import {
  createGpu,
  createMlpTrainer,
  createReplayBuffer,
  createSoftQFit,
  createStack,
  createVectorEnv,
  fitSoftQ,
  initialQNetworks,
  makeEnv,
  pushSnapshot,
} from "staq";

const gpu = await createGpu();
const mlp = { inputs: 4, hidden: [64, 64], outputs: 2 };
const ensemble = 2;
const stack = createStack(gpu, { mlp, memory: 10, ensemble, eta: 20, tau: 1 });
const replay = createReplayBuffer(gpu, { capacity: 5000, inputs: 4, actions: 2 });

// 2000 steps of 8 CartPoles under the uniform policy π_0 (the stack is empty).
const envs = createVectorEnv(() => makeEnv("CartPole-v1"), 8);
let obs = envs.reset({ seed: 1 });
for (let t = 0; t < 250; t++) {
  const actions = Int32Array.from({ length: 8 }, () => (Math.random() < 0.5 ? 0 : 1));
  const step = envs.step(actions);
  // The transition's next state is the episode's last observation when it ended, not the reset one.
  const nextObs = step.obs.slice();
  step.finalObs.forEach((final, i) => final && nextObs.set(final, i * 4));
  replay.add({ obs, actions, rewards: step.rewards, terminated: step.terminated, nextObs });
  obs = step.obs;
}

await replay.precomputePolicy(stack); // π_k(·|s') and its entropy for every stored transition
const trainer = await createMlpTrainer(gpu, { mlp, ensemble, batch: 64, adam: { lr: 1e-3 }, targetNetworks: true });
trainer.setWeights(initialQNetworks(mlp, ensemble, 1)); // zero head: Q_0 ≡ 0
const fit = await createSoftQFit(gpu, {
  trainer,
  replay,
  seed: 1,
  gamma: 0.99,
  rewardScale: 10,
  targetUpdate: { kind: "hard", every: 200 },
});
for (let round = 0; round < 3; round++) {
  const summary = await fitSoftQ(fit, { steps: 500, tau: 1 });
  console.log(
    `steps ${fit.gradientSteps}: loss ${summary.meanLoss.map((x) => x.toFixed(3)).join(", ")}; mean |Q| ${summary.meanAbsQ.map((x) => x.toFixed(2)).join(", ")}`,
  );
}
// A GPU copy into the ring and the PMD coefficient step; the replay rows' logits follow it (two
// snapshot evaluations per row), so the next precompute only has new rows to do.
await replay.followPush(stack, 1, () => pushSnapshot(stack, trainer, { tau: 1 }));
console.log(`stack size ${stack.size}, coefficients ${Array.from(stack.coefficients[0], (c) => c.toFixed(4)).join(", ")}`);

for (const thing of [fit, trainer, replay, stack]) thing.destroy();
gpu.destroy();
