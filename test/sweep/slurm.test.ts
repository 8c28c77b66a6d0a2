// `staq sweep --backend slurm` against a real Slurm (test/helpers/slurm-cluster.ts): a small sweep
// submitted as one array job, followed with --status until every point is done, each run directory
// checked (one of them behind the lock of a task Slurm no longer knows), and a second submission
// that finds nothing left to do. squeue's lines are parsed by a pure function, tested here on lines
// as Slurm prints them.
import assert from "node:assert/strict";
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { queuedPoints, sbatchScript, shellWord } from "../../src/sweep/slurm-backend.ts";
import { parseSweep } from "../../src/sweep/sweep-file.ts";
import { runStaq, tempDir } from "../io/stack-fixtures.ts";
import { startSlurmCluster, type SlurmCluster } from "../helpers/slurm-cluster.ts";
import { TINY_CONFIG } from "../helpers/tiny-config.ts";

const TINY = { env: "CartPole-v1", preset: "quick", ...TINY_CONFIG, totalSteps: 64 };

test("squeue's lines map to the points of the jobs this sweep submitted; a later submission wins", () => {
  const jobs = [
    { job: "7", points: ["seed=0", "seed=1"], submitted: "" },
    { job: "9", points: ["seed=1"], submitted: "" },
  ];
  const lines = ["7_0|RUNNING|vm", "7_1|PENDING|(Priority)", "9_0|PENDING|(Resources)", "12_0|RUNNING|vm", "8|RUNNING|vm", ""].join("\n");
  const states = queuedPoints(jobs, lines);
  assert.deepEqual(Object.fromEntries(states), {
    "seed=0": { state: "RUNNING", where: "vm", task: "7_0" },
    "seed=1": { state: "PENDING", where: "(Resources)", task: "9_0" },
  });
});

test("the array job's script: one task per point, shell-quoted, the options as #SBATCH lines", () => {
  const sweep = parseSweep({ out: "/o/it's", base: { env: "CartPole-v1" }, grid: { seed: [0, 1, 2] } }, "/s/f.json");
  const script = sbatchScript(sweep, sweep.points.slice(1), {
    staq: ["/usr/bin/node", "/opt/staq/dist/cli/main.js"],
    cwd: "/home/u",
    partition: "gpu",
    time: "1:00:00",
    cpus: 4,
    gpus: 1,
    maxParallel: 5,
  });
  assert.match(script, /^#!\/bin\/bash\n/);
  for (const line of [
    "#SBATCH --array=0-1%5",
    "#SBATCH '--output=/o/it'\\''s/slurm/%A_%a.out'",
    "#SBATCH --chdir=/home/u",
    "#SBATCH --partition=gpu",
    "#SBATCH --time=1:00:00",
    "#SBATCH --cpus-per-task=4",
    "#SBATCH --gpus-per-task=1",
    "#SBATCH --signal=B:TERM@60",
    "  seed=1",
    "  seed=2",
    `exec /usr/bin/node /opt/staq/dist/cli/main.js sweep /s/f.json --out '/o/it'\\''s' --point "\${points[$SLURM_ARRAY_TASK_ID]}"`,
  ])
    assert.ok(script.split("\n").includes(line), `${line} in\n${script}`);
  assert.doesNotMatch(script, /seed=0/);
  assert.equal(shellWord("a b"), "'a b'");
});

let cluster: SlurmCluster | { skip: string } | undefined;
before(async () => {
  cluster = await startSlurmCluster();
});
after(async () => {
  if (cluster && "stop" in cluster) await cluster.stop();
});

test("a sweep submitted to a real Slurm runs every point as an array task; --status follows it; resubmitting finds nothing to do", async (t) => {
  if (!cluster || "skip" in cluster) return t.skip(cluster && "skip" in cluster ? cluster.skip : "no cluster");
  const { env, partition } = cluster;
  const dir = await tempDir();
  const file = join(dir, "sweep.json");
  await writeFile(
    file,
    JSON.stringify({ out: "runs", base: TINY, grid: [{ seed: [0, 1] }, { seed: [0], algo: ["dqn"], learningStarts: [32] }] }),
  );
  // A lock left by a task on a node that was lost: squeue no longer lists its task, so it holds nothing.
  await mkdir(join(dir, "runs", "seed=1", "sweep-claims"), { recursive: true });
  await writeFile(
    join(dir, "runs", "seed=1", "sweep-claims", "1.json"),
    JSON.stringify({ pid: 1, host: "lost-node", started: "2026-01-01T00:00:00Z", slurmJob: "424242_0" }),
  );
  const submitted = await runStaq(["sweep", file, "--backend", "slurm", "--partition", partition, "--time", "10", "--cpus", "1"], env);
  assert.equal(submitted.code, 0, `${submitted.stdout}\n${submitted.stderr}`);
  assert.match(submitted.stdout, /submitted job \d+: 3 of 3 points as array tasks 0-2/);

  let status = "";
  const deadline = Date.now() + 8 * 60_000;
  while (!/3 points in .*: 3 done\n/.test(status)) {
    if (Date.now() > deadline) assert.fail(`the sweep did not finish within 8 minutes:\n${status}\n${await cluster.logs()}`);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const result = await runStaq(["sweep", file, "--status"], env);
    assert.equal(result.code, 0, result.stderr);
    status = result.stdout;
    assert.doesNotMatch(status, /failed/, status);
  }

  const runs = join(dir, "runs");
  for (const name of ["seed=0", "seed=1", "seed=0,algo=dqn,learningStarts=32"]) {
    const run = join(runs, name);
    assert.deepEqual((await readdir(run)).filter((f) => !f.startsWith("sweep")).sort(), [
      "checkpoint",
      "config.json",
      "curve.svg",
      "eval.jsonl",
      "metrics.jsonl",
      "train.log",
    ]);
    const state = JSON.parse(await readFile(join(run, "checkpoint", "state.json"), "utf8"));
    assert.equal(state.counters.globalStep, 64, name);
    const config = JSON.parse(await readFile(join(run, "config.json"), "utf8"));
    assert.equal(config.algo, name.includes("dqn") ? "dqn" : "staq");
    assert.equal(config.preset, name.includes("dqn") ? "dqn-quick" : "quick");
  }
  const slurmFiles = await readdir(join(runs, "slurm"));
  assert.equal(slurmFiles.filter((f) => f.endsWith(".out")).length, 3, slurmFiles.join(", "));
  assert.equal(slurmFiles.filter((f) => f.endsWith(".sbatch")).length, 1);
  const taskOutput = await readFile(
    join(
      runs,
      "slurm",
      slurmFiles.find((f) => f.endsWith("_0.out"))!,
    ),
    "utf8",
  );
  assert.match(taskOutput, /seed=0: trained, exit code 0/);

  const again = await runStaq(["sweep", file, "--backend", "slurm", "--partition", partition], env);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /nothing to submit/);
});
