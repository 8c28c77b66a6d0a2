/**
 * Replays a `numpy-randomstate.json` reference file (docs/formats.md, “Reference data”) through
 * staq's RandomState: one generator per stream, seeded as `numpy.random.RandomState(seed)`, every recorded draw in order —
 * `["rand", x]`, `["randint", n, v]`, `["randint_range", lo, hi, v]`,
 * `["randint_range_n", lo, hi, n, [v…]]` — compared exactly. Returns the first mismatch, if any.
 * Portable: the caller reads and parses the file.
 */
import { StaqFormatError } from "../errors.ts";
import { RandomState } from "./random-state.ts";

export interface RandomStateMismatch {
  /** Index into `streams`. */
  stream: number;
  seed: number;
  /** Index of the draw within its stream. */
  draw: number;
  /** The draw's kind ("rand", "randint", ...). */
  field: string;
  expected: unknown;
  got: unknown;
}

export interface RandomStateReferenceReport {
  streams: number;
  draws: number;
  mismatch?: RandomStateMismatch;
}

const describe = (value: unknown) => JSON.stringify(value)?.slice(0, 80) ?? String(value);

export function checkRandomStateReference(json: unknown): RandomStateReferenceReport {
  const streams = (json as { streams?: unknown } | null)?.streams;
  if (!Array.isArray(streams))
    throw new StaqFormatError(
      `a RandomState reference needs a "streams" array (docs/formats.md, “Reference data”); got ${describe(streams)}`,
    );
  const report: RandomStateReferenceReport = { streams: 0, draws: 0 };
  for (let s = 0; s < streams.length; s++) {
    const { seed, draws } = (streams[s] ?? {}) as { seed?: unknown; draws?: unknown };
    if (typeof seed !== "number" || !Array.isArray(draws))
      throw new StaqFormatError(`streams[${s}] needs a numeric "seed" and a "draws" array`);
    const random = new RandomState(seed);
    for (let d = 0; d < draws.length; d++) {
      const draw = draws[d] as unknown[];
      const bad = () =>
        new StaqFormatError(
          `streams[${s}].draws[${d}] is not a known draw: ${describe(draw)} (expected ["rand", x], ["randint", n, v], ["randint_range", lo, hi, v] or ["randint_range_n", lo, hi, n, [v...]])`,
        );
      if (!Array.isArray(draw) || !draw.slice(1).every((v) => typeof v === "number" || Array.isArray(v))) throw bad();
      let expected: unknown;
      let got: unknown;
      switch (draw[0]) {
        case "rand":
          [expected, got] = [draw[1], random.rand()];
          break;
        case "randint":
          [expected, got] = [draw[2], random.randint(draw[1] as number)];
          break;
        case "randint_range":
          [expected, got] = [draw[3], random.randint(draw[1] as number, draw[2] as number)];
          break;
        case "randint_range_n":
          [expected, got] = [draw[4], Array.from(random.randintN(draw[1] as number, draw[2] as number, draw[3] as number))];
          break;
        default:
          throw bad();
      }
      report.draws++;
      if (JSON.stringify(expected) !== JSON.stringify(got)) {
        report.mismatch = { stream: s, seed, draw: d, field: draw[0] as string, expected, got };
        return report;
      }
    }
    report.streams++;
  }
  return report;
}
