/**
 * Replays a `numpy-randomstate.json` reference file (docs/formats.md, “Reference data”) through
 * staq's RandomState: one generator per stream, seeded as `numpy.random.RandomState(seed)`, every recorded draw in order —
 * `["rand", x]`, `["randint", n, v]`, `["randint_range", lo, hi, v]`,
 * `["randint_range_n", lo, hi, n, [v…]]` — compared exactly. Returns the first mismatch, if any.
 * Portable: the caller reads and parses the file.
 */
import { StaqFormatError, StaqInputError } from "../errors.ts";
import { isSeed, NUMPY_MAX_SEED } from "../random/seed.ts";
import { RandomState } from "./random-state.ts";
import { describe, nothingToCheck } from "./reference-format.ts";

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

/**
 * Each kind of draw and the length of its entry, the recorded value last: a shorter entry would be
 * compared as "expected undefined"; randint_range_n's values are an array.
 */
const DRAW_LENGTHS: Readonly<Record<string, number>> = { rand: 2, randint: 3, randint_range: 4, randint_range_n: 5 };

/**
 * Whether `draw` is an entry of a known kind, of its length, with numbers for arguments and, for
 * the recorded values, what numpy can return: rand a number in [0, 1), the randint kinds integers
 * (randint_range_n an array of them). A value numpy never draws (0.5 from randint, "4") cannot be
 * the environment's fault: compared, it read as a mismatch (exit 1) rather than a malformed file.
 */
function isKnownDraw(draw: unknown): draw is unknown[] {
  if (!Array.isArray(draw) || typeof draw[0] !== "string" || !Object.hasOwn(DRAW_LENGTHS, draw[0])) return false;
  if (draw.length !== DRAW_LENGTHS[draw[0]]) return false;
  const kind = draw[0];
  const value = draw[draw.length - 1];
  const valueOk =
    kind === "rand"
      ? typeof value === "number" && value >= 0 && value < 1
      : kind === "randint_range_n"
        ? Array.isArray(value) && value.every((v) => Number.isInteger(v))
        : Number.isInteger(value);
  return valueOk && draw.slice(1, -1).every((v) => typeof v === "number");
}

export function checkRandomStateReference(json: unknown): RandomStateReferenceReport {
  const streams = (json as { streams?: unknown } | null)?.streams;
  if (!Array.isArray(streams))
    throw new StaqFormatError(
      `a RandomState reference needs a "streams" array (docs/formats.md, “Reference data”); got ${describe(streams)}`,
    );
  // A file without streams, or a stream without draws, would pass having checked nothing.
  if (streams.length === 0) throw nothingToCheck("streams", "stream");
  const report: RandomStateReferenceReport = { streams: 0, draws: 0 };
  for (let s = 0; s < streams.length; s++) {
    const { seed, draws } = (streams[s] ?? {}) as { seed?: unknown; draws?: unknown };
    if (typeof seed !== "number" || !Array.isArray(draws))
      throw new StaqFormatError(`streams[${s}] needs a numeric "seed" and a "draws" array`);
    if (!isSeed(seed, NUMPY_MAX_SEED)) {
      throw new StaqFormatError(`streams[${s}].seed must be an integer in [0, 2^32 - 1] (numpy's legacy seeding); got ${describe(seed)}`);
    }
    if (draws.length === 0) throw new StaqFormatError(`streams[${s}] has no draws: record at least one`);
    const random = new RandomState(seed);
    for (let d = 0; d < draws.length; d++) {
      const draw: unknown = draws[d];
      if (!isKnownDraw(draw)) {
        throw new StaqFormatError(
          `streams[${s}].draws[${d}] is not a known draw: ${describe(draw)} (expected ["rand", x] with x in [0, 1), ["randint", n, v], ["randint_range", lo, hi, v] or ["randint_range_n", lo, hi, n, [v...]], with integers v)`,
        );
      }
      // n values asked for and a list of another length: the file contradicts itself, whatever
      // RandomState draws (an n that is no count at all is refused by randintN below).
      const values = draw[4];
      if (
        draw[0] === "randint_range_n" &&
        Number.isSafeInteger(draw[3]) &&
        (draw[3] as number) >= 0 &&
        (values as unknown[]).length !== draw[3]
      ) {
        throw new StaqFormatError(
          `streams[${s}].draws[${d}] ${describe(draw)} asks for ${draw[3] as number} values but lists ${(values as unknown[]).length}; the count and the list must agree (docs/formats.md, “Reference data”)`,
        );
      }
      let expected: unknown;
      let got: unknown;
      try {
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
          default: // randint_range_n, the last kind isKnownDraw lets through
            [expected, got] = [draw[4], Array.from(random.randintN(draw[1] as number, draw[2] as number, draw[3] as number))];
        }
      } catch (error) {
        // RandomState's own message ("randint: high <= 0 …") does not say which draw of the file it is.
        if (!(error instanceof StaqInputError)) throw error;
        throw new StaqFormatError(`streams[${s}].draws[${d}] ${describe(draw)} is not a draw numpy can make: ${error.message}`);
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
