// SPDX-License-Identifier: GPL-3.0-or-later
// The MinAtar reference checker on malformed files: every field it reads is checked before the
// replay, so a broken file is a StaqFormatError naming the field (a FAIL line in `staq check-env`),
// never a TypeError from deep in the replay, a reset without a seed, or "expected undefined".
import { test } from "node:test";
import assert from "node:assert/strict";
import { StaqFormatError } from "../../../src/errors.ts";
import { MINATAR_GAMES } from "../../../src/envs/minatar/index.ts";
import { checkMinatarReference } from "../../../src/envs/minatar/reference-check.ts";
import { readReference } from "../../helpers/reference.ts";

interface Episode {
  seed?: unknown;
  initial_state?: unknown;
  actions: unknown[];
  state_nonzero: unknown[];
  reward: unknown[];
  terminal: unknown[];
}

/** The breakout reference file, parsed afresh so each case spoils its own copy. */
const breakout = () => readReference("minatar-breakout.json") as Record<string, unknown> & { episodes: Episode[] };

function refused(change: (file: ReturnType<typeof breakout>) => void, pattern: RegExp) {
  const file = breakout();
  change(file);
  assert.throws(
    () => checkMinatarReference(file, MINATAR_GAMES.breakout),
    (error: unknown) => {
      assert.ok(error instanceof StaqFormatError, `expected a StaqFormatError, got ${String(error)}`);
      assert.match(error.message, pattern);
      return true;
    },
  );
}

test("the unspoilt breakout reference passes (so each failure below comes from its one change)", () => {
  const report = checkMinatarReference(breakout(), MINATAR_GAMES.breakout);
  assert.equal(report.mismatch, undefined);
  assert.equal(report.episodes, 4);
});

test("frames that are not arrays of [row, col, channel] cells are refused naming the field", () => {
  refused(
    (f) => delete f.episodes[0].initial_state,
    /^episodes\[0\]\.initial_state must be an array of \[row, col, channel\] cells; got undefined/,
  );
  refused(
    (f) => (f.episodes[0].state_nonzero[0] = 5),
    /^episodes\[0\]\.state_nonzero\[0\] must be an array of \[row, col, channel\] cells; got 5/,
  );
  refused(
    (f) => ((f.episodes[1].state_nonzero[2] as unknown[])[0] = [1, 2]),
    /^episodes\[1\]\.state_nonzero\[2\]\[0\] must be a cell \[row, col, channel\] with row and col in 0\.\.9 and channel in 0\.\.3 \(state_shape \[10,10,4\]\); got \[1,2\]/,
  );
  refused((f) => (f.episodes[0].initial_state = [[1, 10, 0]]), /^episodes\[0\]\.initial_state\[0\] must be a cell .*got \[1,10,0\]/);
  refused((f) => (f.episodes[0].initial_state = [[1, 1, 4]]), /^episodes\[0\]\.initial_state\[0\] must be a cell .*got \[1,1,4\]/);
});

test("an episode without a seed, or with one numpy cannot take, is refused (not reset unseeded)", () => {
  refused((f) => delete f.episodes[0].seed, /^episodes\[0\]\.seed must be an integer in \[0, 2\^32 - 1\] .*; got undefined/);
  refused((f) => (f.episodes[0].seed = -3), /^episodes\[0\]\.seed must be an integer .*; got -3/);
  refused((f) => (f.episodes[0].seed = "1"), /^episodes\[0\]\.seed must be an integer .*; got "1"/);
});

test("rewards, terminal flags or frames shorter than the actions are refused (not 'expected undefined')", () => {
  refused((f) => f.episodes[0].reward.pop(), /^episodes\[0\]\.reward has 27 entries but actions has 28; one entry per step is needed/);
  refused((f) => f.episodes[2].terminal.pop(), /^episodes\[2\]\.terminal has \d+ entries but actions has \d+/);
  refused((f) => f.episodes[0].state_nonzero.pop(), /^episodes\[0\]\.state_nonzero has 27 entries but actions has 28/);
  refused((f) => (f.episodes[0].reward[3] = "0"), /^episodes\[0\]\.reward\[3\] must be a number; got "0"/);
  refused((f) => (f.episodes[0].terminal[3] = 0), /^episodes\[0\]\.terminal\[3\] must be true or false; got 0/);
});

test("actions outside the full action set are refused naming the step", () => {
  refused(
    (f) => (f.episodes[0].actions[4] = 99),
    /^episodes\[0\]\.actions\[4\] must be an integer in 0\.\.5 \(the full action set\); got 99/,
  );
  refused((f) => (f.episodes[0].actions[4] = "a"), /^episodes\[0\]\.actions\[4\] must be an integer .*; got "a"/);
});

test("a file that checks nothing, or whose settings are out of range, is refused", () => {
  refused((f) => (f.episodes = []), /^"episodes" is empty: the file checks nothing; record at least one episode/);
  refused(
    (f) => (f.episodes[1].actions = f.episodes[1].state_nonzero = f.episodes[1].reward = f.episodes[1].terminal = []),
    /^episodes\[1\] has no actions: record at least one step/,
  );
  refused((f) => (f.sticky_action_prob = 2), /^sticky_action_prob must be a number in \[0, 1\]; got 2/);
  refused((f) => (f.state_shape = [10, 10]), /^state_shape must be \[10, 10, channels\]; got \[10,10\]/);
  refused((f) => (f.minimal_action_set = "0,1,3"), /^minimal_action_set must be an array of actions in 0\.\.5; got "0,1,3"/);
  refused((f) => delete f.minimal_action_set, /^minimal_action_set must be an array of actions in 0\.\.5; got undefined/);
  refused((f) => (f.episodes[0] = null as unknown as Episode), /^episodes\[0\] must be an object; got null/);
});
