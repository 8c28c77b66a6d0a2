// The StaQ agent from code: create, learn with a callback, act, save, load and continue, and load
// the trained policy alone for greedy evaluation.
//   npx tsx examples/train-agent.ts [STEPS] [CHECKPOINT_DIR]
import { StaQ } from "staq";

const steps = Number(process.argv[2] ?? 4000);
const checkpoint = process.argv[3] ?? "runs/example-agent/checkpoint";
const agent = await StaQ.create({ env: "CartPole-v1", preset: "quick", seed: 1, evalEvery: 2000 });
await agent.learn({
  steps,
  onIteration: (m) =>
    console.log(
      `step ${m.global_step}: return ${m["charts/episodic_return"]?.toFixed(1) ?? "-"}, td loss ${m["losses/td_loss"]?.toFixed(3) ?? "-"}, KL ${m["policy/kl"]?.toFixed(4) ?? "-"}`,
    ),
  onEvaluation: (e) => console.log(`greedy evaluation at step ${e.global_step}: ${e["eval/mean_return"].toFixed(1)}`),
});

// Batched acting: a Float32Array of [batch × 4] observations in, one action per row out.
const obs = new Float32Array([0, 0, 0.05, 0, 0, 0, -0.05, 0]);
console.log("greedy actions:", Array.from(await agent.act(obs, { greedy: true })));

await agent.save(checkpoint); // a checkpoint directory, written atomically
agent.destroy();

const again = await StaQ.load(checkpoint); // continues exactly where it stopped
console.log(`loaded at step ${again.globalStep}, stack of ${again.stack.size} snapshots`);
await again.learn({ steps: 1000 });
console.log(`now at step ${again.globalStep}`);
again.destroy();

// The trained policy alone: state.json and stack.safetensors, no replay buffer or Adam state.
const policy = await StaQ.loadPolicy(checkpoint);
const evaluation = await policy.evaluate({ episodes: 3 });
console.log(
  `policy from the checkpoint (step ${policy.globalStep}): mean greedy return ${evaluation["eval/mean_return"].toFixed(1)} over 3 episodes`,
);
policy.destroy();
