// Tabular PMD in a few lines: a seeded Garnet MDP, its regularised optimum, and the three PMD
// variants side by side. Writes the MDP as JSON so `npx staq tabular --mdp FILE ...` can run on it.
//   npx tsx examples/tabular-pmd.ts [OUT.json]
import { writeFileSync } from "node:fs";
import { garnetMdp, mdpToArrays, softOptimum, tabularPmd } from "staq";

const mdp = garnetMdp({ states: 20, actions: 4, branching: 5, gamma: 0.9, seed: 1 });
const tau = 0.1;
const eta = 1; // β = η/(η+τ) ≈ 0.91
const optimum = softOptimum(mdp, { tau }); // Q*_τ and π*_τ, solved once for all runs

for (const [variant, memory] of [
  ["exact", undefined],
  ["vanilla", 10],
  ["corrected", 10],
] as const) {
  const run = tabularPmd(mdp, { variant, eta, tau, memory, iterations: 300, optimum: () => optimum });
  console.log(`${variant.padEnd(9)} M=${memory ?? "∞"}: ‖Q* − Q^π_300‖∞ = ${run.errors.at(-1)!.toExponential(2)}`);
}

const out = process.argv[2] ?? "garnet.json";
writeFileSync(out, JSON.stringify(mdpToArrays(mdp)));
console.log(`wrote ${out}`);
