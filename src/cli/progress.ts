/**
 * Progress of a long run: on a terminal, one line redrawn in place (a bar, steps, steps/s, the last
 * return and evaluation, ETA); elsewhere (CI logs, files), a plain line now and then, so a log
 * neither floods nor goes silent.
 */
import type { Writable } from "node:stream";

export interface ProgressState {
  step: number;
  total: number;
  /** Environment steps per second, recent. */
  stepsPerSecond: number;
  lastReturn: number | null;
  lastEval: number | null;
  elapsedSeconds: number;
}

/** "1h02m", "3m05s", "42s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

const number = (value: number | null, digits = 1) => (value === null ? "-" : value.toFixed(digits));

/** The figures of one progress report, without the bar. */
export function progressText(state: ProgressState): string {
  const eta = state.stepsPerSecond > 0 ? (state.total - state.step) / state.stepsPerSecond : NaN;
  return [
    `${state.step}/${state.total} steps`,
    `${Math.round(state.stepsPerSecond)} steps/s`,
    `return ${number(state.lastReturn)}`,
    `eval ${number(state.lastEval)}`,
    `elapsed ${formatDuration(state.elapsedSeconds)}`,
    `ETA ${formatDuration(eta)}`,
  ].join("  ");
}

export interface ProgressReporter {
  update(state: ProgressState): void;
  /** A message of its own (an evaluation, a checkpoint), above the bar on a terminal. */
  note(line: string): void;
  /** Ends the bar's line. */
  finish(): void;
}

export function createProgressReporter(
  out: Pick<Writable, "write"> & { isTTY?: boolean; columns?: number },
  options: { plainEverySeconds?: number } = {},
): ProgressReporter {
  const tty = out.isTTY === true;
  const plainEvery = options.plainEverySeconds ?? 10;
  let lastPlain = -Infinity;
  let barShown = false;
  let last: ProgressState | undefined;

  const drawBar = (state: ProgressState) => {
    const width = 24;
    const filled = Math.min(width, Math.round((width * state.step) / Math.max(1, state.total)));
    const line = `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${progressText(state)}`;
    const columns = out.columns ?? 120;
    out.write(`\r${line.slice(0, columns - 1)}\x1b[K`);
    barShown = true;
  };

  return {
    update(state) {
      last = state;
      if (tty) return drawBar(state);
      if (state.elapsedSeconds - lastPlain >= plainEvery || state.step >= state.total) {
        lastPlain = state.elapsedSeconds;
        out.write(`${progressText(state)}\n`);
      }
    },
    note(line) {
      if (tty && barShown) out.write("\r\x1b[K");
      out.write(`${line}\n`);
      if (tty && last) drawBar(last);
    },
    finish() {
      if (tty && barShown) out.write("\n");
      barShown = false;
    },
  };
}
