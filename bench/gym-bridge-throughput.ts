/**
 * The Gymnasium bridge's overhead, for bench/envs.ts: env steps per second of one Python
 * environment stepped through the bridge (createGymVectorEnv: a worker process, binary frames over
 * a pipe, the main thread blocked on Atomics.wait) against the same batch stepped in Python alone
 * (staq_gym_worker.py --bench: the worker's own batch loop, the same code the bridge runs, without
 * the pipe and without Node), both measured now, in this run, so their ratio is the bridge's cost.
 *
 * The env is Gymnasium's CartPole-v1 when `python3 -c "import gymnasium"` works (with
 * --upstream-src DIR on PYTHONPATH: DIR holds an extracted gymnasium/), else the tiny pure-Python
 * env of the bridge's tests (test/fixtures/gym/tiny_env.py), whose step costs almost nothing, so
 * that the ratio shows the bridge's cost at its largest. Random actions from a seeded stream,
 * drawn before timing; the copies auto-reset; steps/s counts env steps (N per vector step).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import { createGymVectorEnv, gymWorkerScript, type GymVectorEnv } from "../src/envs/gym/gym-vector-env.ts";
import { createRandomStream } from "../src/random/random-stream.ts";
import { summarize, type Summary } from "./measure.ts";

export interface BridgeCell extends Summary {
  samples: number[];
}

export interface BridgeRow {
  count: number;
  /** Through the bridge. */
  bridge: BridgeCell;
  /** The same batch in Python alone. */
  python: BridgeCell;
  /** bridge median / Python-alone median (1 would be a free bridge). */
  ratio: number;
}

export interface BridgeReport {
  /** The env measured (gym:CartPole-v1, or gym:tiny_env:make_walk without Gymnasium), or null when none could be. */
  env: string | null;
  /** Why the env is the tiny one, or why nothing was measured. */
  note?: string;
  python?: string;
  rows: BridgeRow[];
}

export interface BridgeSettings {
  counts: number[];
  rounds: number;
  roundSeconds: number;
  warmupSeconds: number;
  seed: number;
  /** Where upstream's extracted gymnasium/ may be (bench/envs.ts's --upstream-src). */
  upstreamSrc?: string;
  repoRoot: string;
}

/** The env to measure and the PYTHONPATH it needs, or why there is none. */
function plan(settings: BridgeSettings): { env?: string; pythonPath: string; python: string; note?: string } {
  const python = process.env.STAQ_PYTHON || "python3";
  const paths = [settings.upstreamSrc, process.env.PYTHONPATH].filter((p): p is string => Boolean(p));
  const pythonPath = paths.join(delimiter);
  const env = { ...process.env, PYTHONPATH: pythonPath };
  if (spawnSync(python, ["-c", "import numpy"], { env }).status !== 0)
    return { python, pythonPath, note: `${python} with numpy is not available` };
  if (!existsSync(gymWorkerScript())) return { python, pythonPath, note: `${gymWorkerScript()} is missing` };
  if (spawnSync(python, ["-c", "import gymnasium"], { env }).status === 0) return { env: "CartPole-v1", python, pythonPath };
  const fixtures = join(settings.repoRoot, "test", "fixtures", "gym");
  if (!existsSync(join(fixtures, "tiny_env.py")))
    return { python, pythonPath, note: "gymnasium is not importable and the tiny test env is absent" };
  return {
    env: "tiny_env:make_walk",
    python,
    pythonPath: [fixtures, ...paths].join(delimiter),
    note: "gymnasium is not importable: the tiny test env instead (pip install gymnasium, or --upstream-src DIR, for CartPole-v1)",
  };
}

/** Steps the bridge for `seconds` in chunks; env steps per second. */
function timeBridge(envs: GymVectorEnv, batches: Int32Array[], seconds: number, cursor: { at: number }): number {
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  let steps = 0;
  do {
    for (let k = 0; k < 16; k++) envs.step(batches[cursor.at++ % batches.length]);
    steps += 16 * envs.count;
  } while (performance.now() < deadline);
  return steps / ((performance.now() - started) / 1000);
}

function cell(samples: number[]): BridgeCell {
  return { ...summarize(samples), samples: samples.map(Math.round) };
}

export function measureGymBridge(settings: BridgeSettings): BridgeReport {
  const chosen = plan(settings);
  if (!chosen.env) return { env: null, note: chosen.note, rows: [] };
  const name = `gym:${chosen.env}`;
  process.env.PYTHONPATH = chosen.pythonPath; // the bridge's worker inherits it
  const rows: BridgeRow[] = [];
  for (const count of settings.counts) {
    const alone = spawnSync(
      chosen.python,
      [
        gymWorkerScript(),
        "--bench",
        "--env",
        chosen.env,
        "--count",
        String(count),
        "--seconds",
        String(settings.roundSeconds),
        "--rounds",
        String(settings.rounds),
        "--seed",
        String(settings.seed),
      ],
      { encoding: "utf8", env: process.env },
    );
    if (alone.status !== 0)
      return { env: name, note: `Python alone failed: ${alone.stderr.trim().split("\n").pop()}`, python: chosen.python, rows };
    const python = (JSON.parse(alone.stdout) as { samples: number[] }).samples;
    const envs = createGymVectorEnv(chosen.env, count, { python: chosen.python, echoStderr: false });
    try {
      const random = createRandomStream(settings.seed);
      const batches = Array.from({ length: 256 }, () => Int32Array.from({ length: count }, () => random.integer(envs.actionCount)));
      const cursor = { at: 0 };
      envs.reset({ seed: settings.seed });
      timeBridge(envs, batches, settings.warmupSeconds, cursor);
      const bridge = Array.from({ length: settings.rounds }, () => timeBridge(envs, batches, settings.roundSeconds, cursor));
      const row = { count, bridge: cell(bridge), python: cell(python), ratio: 0 };
      row.ratio = row.bridge.median / row.python.median;
      rows.push(row);
    } finally {
      envs.close();
    }
  }
  return { env: name, note: chosen.note, python: chosen.python, rows };
}
