// A StaQ policy in a dozen lines: a stack of Q-network snapshots on the GPU, its logits for a
// batch of states, and actions sampled from the ε-softmax policy. Run: npx tsx examples/quickstart.ts
import { createGpu, createStack, stackLogits, policyFromLogits, saveStack, randomMlpWeights } from "staq";

const gpu = await createGpu(); // Dawn in Node; pass { device } to use a GPUDevice you already have
const mlp = { inputs: 4, hidden: [64, 64], outputs: 2 }; // CartPole-sized Q-network
const stack = createStack(gpu, { mlp, memory: 300, ensemble: 2, eta: 20, tau: 1.4 });

// After each policy-evaluation phase, push the trained Q-networks (PyTorch nn.Linear layout:
// weight [out, in], bias [out]); here random ones stand in for them.
for (let iteration = 0; iteration < 10; iteration++) {
  const networks = [0, 1].map(() => randomMlpWeights(mlp, () => Math.random() * 2 - 1));
  stack.push(networks, { tau: 1.4 - 0.05 * iteration }); // τ may be annealed between pushes
}

const states = Float32Array.from({ length: 3 * mlp.inputs }, () => Math.random() - 0.5);
const logits = await stackLogits(stack, states); // [3 × 2]: correction · mean_e Σ_i c_i Q_{e,i}(s)
const { probs, greedy, sampled } = await policyFromLogits(gpu, logits, mlp.outputs, { epsilon: 0.05, seed: 7, step: 0 });
console.log({ logits, probs, greedy, sampled, coefficients: stack.coefficients[0], correction: stack.correction });

await saveStack(stack, process.argv[2] ?? "quickstart.safetensors"); // readable by `safetensors` in Python
stack.destroy();
gpu.destroy();
