/**
 * The local backend of `staq sweep`: a pool of child processes on this machine, each running one
 * point (`staq sweep FILE --point NAME`, src/sweep/run-point.ts) at a time. Points that are done
 * are skipped; interrupted ones resume from their checkpoints, so running the sweep again after a
 * crash, a kill or Ctrl-C continues it. Progress lines say what is done, running and left, with an
 * estimate of the time left from the points finished so far.
 *
 * The workers run in their own process groups, so a Ctrl-C reaches them once, forwarded by this
 * process: each saves its checkpoint and stops (a second Ctrl-C stops them at once).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { formatDuration } from "../cli/progress.ts";
import { pointState, readablePointState, type PointState } from "./point-state.ts";
import type { Sweep, SweepPoint } from "./sweep-file.ts";

export interface LocalSweepOptions {
  /** Points trained at once. */
  jobs: number;
  /** Train the points whose last run failed again (otherwise they are skipped). */
  retryFailed: boolean;
  /** The command that runs `staq` (node, its flags and the CLI's script). */
  staq: readonly string[];
  /** Progress and outcome lines. */
  report(line: string): void;
  /** Seconds between progress lines while nothing changes (default 60). */
  progressEverySeconds?: number;
}

export interface LocalSweepResult {
  done: string[];
  failed: { name: string; message: string }[];
  /** Points that stopped before their end (a signal, a killed worker): the next run resumes them. */
  interrupted: string[];
  /** Points another worker (another sweep process) holds. */
  elsewhere: string[];
  /** Points whose run directory could not be read (not trained): the reason and what to do. */
  unreadable: { name: string; message: string }[];
  /** The signal that stopped the sweep, if one did. */
  stoppedBy?: NodeJS.Signals;
}

/** The states of all points, read from their run directories; a damaged one is "unreadable", not an error. */
export async function sweepStates(sweep: Sweep): Promise<Map<SweepPoint, PointState>> {
  const states = new Map<SweepPoint, PointState>();
  for (const point of sweep.points) states.set(point, await readablePointState(point));
  return states;
}

export async function runLocalSweep(sweep: Sweep, options: LocalSweepOptions): Promise<LocalSweepResult> {
  const { report } = options;
  const states = await sweepStates(sweep);
  const result: LocalSweepResult = { done: [], failed: [], interrupted: [], elsewhere: [], unreadable: [] };
  const queue: SweepPoint[] = [];
  for (const [point, state] of states) {
    if (state.status === "done") result.done.push(point.name);
    else if (state.status === "running") result.elsewhere.push(point.name);
    else if (state.status === "unreadable") result.unreadable.push({ name: point.name, message: state.failure ?? "" });
    else if (state.status === "failed" && !options.retryFailed) result.failed.push({ name: point.name, message: state.failure ?? "" });
    else queue.push(point);
  }
  const total = sweep.points.length;
  report(
    `staq sweep: ${total} point${total === 1 ? "" : "s"} in ${sweep.out}: ${result.done.length} done, ${queue.length} to run` +
      (result.failed.length ? `, ${result.failed.length} failed before (skipped; --retry-failed trains them again)` : "") +
      (result.elsewhere.length ? `, ${result.elsewhere.length} held by another worker` : "") +
      (result.unreadable.length ? `, ${result.unreadable.length} unreadable (not trained)` : "") +
      `; ${options.jobs} at a time`,
  );

  const running = new Map<ChildProcess, { point: SweepPoint; started: number }>();
  const finishedSeconds: number[] = [];
  let stoppedBy: NodeJS.Signals | undefined;
  const start = performance.now();

  const progress = () => {
    const left = queue.length;
    const mean = finishedSeconds.length ? finishedSeconds.reduce((a, b) => a + b, 0) / finishedSeconds.length : undefined;
    const eta =
      mean !== undefined && left + running.size > 0 ? ` ETA ${formatDuration((mean * (left + running.size)) / options.jobs)}` : "";
    report(
      `  ${result.done.length}/${total} done, ${running.size} running, ${left} left` +
        (result.failed.length ? `, ${result.failed.length} failed` : "") +
        (result.interrupted.length ? `, ${result.interrupted.length} interrupted` : "") +
        `  elapsed ${formatDuration((performance.now() - start) / 1000)}${eta}`,
    );
  };

  const onSignal = (signal: NodeJS.Signals) => {
    if (stoppedBy === undefined)
      report(`staq sweep: ${signal}: stopping; each running point saves its checkpoint (again to stop them at once)`);
    stoppedBy = signal;
    queue.length = 0;
    for (const child of running.keys()) child.kill(signal);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const timer = setInterval(progress, (options.progressEverySeconds ?? 60) * 1000);
  timer.unref();

  const [command, ...prefix] = options.staq;
  const launch = () =>
    new Promise<void>((resolve) => {
      const point = queue.shift()!;
      const args = [
        ...prefix,
        "sweep",
        sweep.file,
        "--out",
        sweep.out,
        "--point",
        point.name,
        ...(options.retryFailed ? ["--retry-failed"] : []),
      ];
      // Its own process group: a terminal's Ctrl-C reaches the workers through onSignal only, once.
      const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"], detached: true });
      let stderr = "";
      child.stderr!.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
      running.set(child, { point, started: performance.now() });
      report(`  start ${point.name}`);
      let settled = false;
      const settle = async (code: number | null, signal: NodeJS.Signals | null) => {
        if (settled) return; // "error" and "exit" may both come
        settled = true;
        const { started } = running.get(child)!;
        running.delete(child);
        const seconds = (performance.now() - started) / 1000;
        const state = await pointState(point).catch((error: Error) => ({ status: "failed", failure: error.message }) as PointState);
        if (state.status === "done") {
          result.done.push(point.name);
          finishedSeconds.push(seconds);
          report(`  done  ${point.name} in ${formatDuration(seconds)}`);
        } else if (state.status === "failed") {
          result.failed.push({ name: point.name, message: state.failure ?? "" });
          report(`  FAILED ${point.name}: ${state.failure}`);
        } else if (state.status === "running") {
          result.elsewhere.push(point.name);
        } else if (code !== 0 && stoppedBy === undefined && signal === null && code !== null && code < 128) {
          // The worker itself failed before the run could record why (a bad sweep file, a crash).
          result.failed.push({ name: point.name, message: stderr.trim().split("\n").at(-1) ?? `exit code ${code}` });
          report(`  FAILED ${point.name}: ${stderr.trim() || `exit code ${code}`}`);
        } else {
          result.interrupted.push(point.name);
          const how = signal !== null ? `killed by ${signal}` : `exit code ${code}`;
          report(
            `  stopped ${point.name} (${how}) at ${state.step === null ? "no checkpoint yet" : `step ${state.step}`}; running the sweep again resumes it`,
          );
        }
        resolve();
      };
      child.on("error", (error) => {
        stderr += error.message;
        void settle(1, null);
      });
      child.on("exit", (code, signal) => void settle(code, signal));
    });

  try {
    const workers = Array.from({ length: Math.min(options.jobs, queue.length) }, async () => {
      while (queue.length > 0) await launch();
    });
    await Promise.all(workers);
  } finally {
    clearInterval(timer);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  progress();
  return { ...result, ...(stoppedBy ? { stoppedBy } : {}) };
}
