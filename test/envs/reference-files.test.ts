// The classic-control and numpy RandomState reference checkers on malformed files: a file that
// checks nothing, a draw or an action the recording could not have made, or a draw missing its
// recorded value is a StaqFormatError naming the entry, never a "pass" of nothing, an error that
// does not say where, or "expected undefined".
import { test } from "node:test";
import assert from "node:assert/strict";
import { StaqFormatError } from "../../src/errors.ts";
import { CartPoleEnv } from "../../src/envs/classic/cartpole.ts";
import { checkClassicReference } from "../../src/envs/classic/reference-check.ts";
import { checkRandomStateReference } from "../../src/envs/random-state-check.ts";
import { readReference } from "../helpers/reference.ts";

const formatError = (pattern: RegExp) => (error: unknown) => {
  assert.ok(error instanceof StaqFormatError, `expected a StaqFormatError, got ${String(error)}`);
  assert.match(error.message, pattern);
  return true;
};

type ClassicFile = { episodes: Record<string, unknown[]>[] };
function classicRefused(change: (file: ClassicFile) => void, pattern: RegExp) {
  const file = readReference("CartPole-v1.json") as ClassicFile;
  change(file);
  assert.throws(() => checkClassicReference(file, () => new CartPoleEnv()), formatError(pattern));
}

test("classic control: no episodes, an episode with no steps, or an action out of range is refused", () => {
  assert.equal(checkClassicReference(readReference("CartPole-v1.json"), () => new CartPoleEnv()).mismatch, undefined);
  classicRefused((f) => (f.episodes = []), /^"episodes" is empty: the file checks nothing; record at least one episode/);
  classicRefused((f) => {
    for (const key of ["actions", "state", "obs", "reward", "terminated", "truncated"]) f.episodes[1][key] = [];
  }, /^episodes\[1\] has no actions: record at least one step/);
  classicRefused((f) => (f.episodes[0].actions[2] = 5), /^episodes\[0\]\.actions\[2\] must be an integer in 0\.\.1; got 5/);
  classicRefused((f) => (f.episodes[0].actions[2] = -1), /^episodes\[0\]\.actions\[2\] must be an integer in 0\.\.1; got -1/);
  // Already refused before: a reward list shorter than the actions.
  classicRefused((f) => f.episodes[0].reward.pop(), /^episodes\[0\]\.reward has \d+ entries but actions has \d+/);
});

type NumpyFile = { streams: { seed: unknown; draws: unknown[][] }[] };
function numpyRefused(change: (file: NumpyFile) => void, pattern: RegExp) {
  const file = readReference("numpy-randomstate.json") as NumpyFile;
  change(file);
  assert.throws(() => checkRandomStateReference(file), formatError(pattern));
}

test("numpy streams: no streams, an empty stream, a bad seed, or a draw numpy could not make is refused naming it", () => {
  assert.equal(checkRandomStateReference(readReference("numpy-randomstate.json")).mismatch, undefined);
  numpyRefused((f) => (f.streams = []), /^"streams" is empty: the file checks nothing; record at least one stream/);
  numpyRefused((f) => (f.streams[1].draws = []), /^streams\[1\] has no draws: record at least one/);
  numpyRefused((f) => (f.streams[0].seed = -1), /^streams\[0\]\.seed must be an integer in \[0, 2\^32 - 1\] .*; got -1$/);
  numpyRefused((f) => (f.streams[0].seed = 1.5), /^streams\[0\]\.seed must be an integer in \[0, 2\^32 - 1\] .*; got 1\.5$/);
  numpyRefused(
    (f) => (f.streams[0].draws[1] = ["randint", 0, 0]),
    /^streams\[0\]\.draws\[1\] \["randint",0,0\] is not a draw numpy can make: .*high <= 0/,
  );
  numpyRefused(
    (f) => (f.streams[0].draws[1] = ["randint_range", 5, 1, 3]),
    /^streams\[0\]\.draws\[1\] \["randint_range",5,1,3\] is not a draw numpy can make: .*low >= high/,
  );
  // A draw without its recorded value used to be "expected undefined, got 0.41…".
  numpyRefused((f) => (f.streams[0].draws[0] = ["rand"]), /^streams\[0\]\.draws\[0\] is not a known draw: \["rand"\]/);
  numpyRefused((f) => (f.streams[0].draws[0] = ["randint", 2]), /^streams\[0\]\.draws\[0\] is not a known draw: \["randint",2\]/);
  numpyRefused((f) => (f.streams[0].draws[0] = ["randint_range_n", 1, 6, 8, 3]), /^streams\[0\]\.draws\[0\] is not a known draw/);
});

test("numpy streams: a draw whose count disagrees with its list, or whose values numpy could not draw, is malformed, not a mismatch", () => {
  // 8 asked for, 7 listed: compared, it was a mismatch of the environment ("expected 7 values, got 8").
  numpyRefused(
    (f) => (f.streams[0].draws[4] = ["randint_range_n", 1, 6, 8, [2, 4, 1, 1, 2, 5, 5]]),
    /^streams\[0\]\.draws\[4\] \["randint_range_n",1,6,8,\[2,4,1,1,2,5,5\]\] asks for 8 values but lists 7; the count and the list must agree/,
  );
  numpyRefused(
    (f) => (f.streams[0].draws[4] = ["randint_range_n", 1, 6, 2, [2, "4"]]),
    /^streams\[0\]\.draws\[4\] is not a known draw: \["randint_range_n",1,6,2,\[2,"4"\]\]/,
  );
  // A randint value that is not an integer, and a rand value that is not in [0, 1), numpy never draws.
  numpyRefused((f) => (f.streams[0].draws[1] = ["randint", 2, 0.5]), /^streams\[0\]\.draws\[1\] is not a known draw: \["randint",2,0\.5\]/);
  numpyRefused((f) => (f.streams[0].draws[3] = ["randint_range", 1, 9, 2.5]), /^streams\[0\]\.draws\[3\] is not a known draw/);
  numpyRefused((f) => (f.streams[0].draws[0] = ["rand", 1.5]), /^streams\[0\]\.draws\[0\] is not a known draw: \["rand",1\.5\]/);
});
