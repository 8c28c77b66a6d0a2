// `staq check-env`, run as a child process from the TypeScript sources: the shared reference files
// pass, and copies with one value changed fail on the line of that file, naming episode, step,
// field, expected and got.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { readReference, referenceDir } from "../helpers/reference.ts";
import { MISSING_MINATAR, runStaq, tempDir } from "../io/stack-fixtures.ts";

const dir = await tempDir();

/** The report line of one file. */
function lineOf(stdout: string, file: string): string {
  const line = stdout.split("\n").find((l) => l.includes(` ${file} `));
  assert.ok(line, `no line for ${file} in:\n${stdout}`);
  return line;
}

test("every shared reference file passes through check-env (exit 0)", async () => {
  const { code, stdout, stderr } = await runStaq(["check-env", "--reference", referenceDir()]);
  assert.equal(code, 0, stdout + stderr);
  for (const file of ["CartPole-v1.json", "Acrobot-v1.json", "MountainCar-v0.json", "numpy-randomstate.json"]) {
    assert.match(lineOf(stdout, file), /^pass /);
  }
  for (const game of ["asterix", "breakout", "freeway", "seaquest", "space_invaders"]) {
    assert.match(lineOf(stdout, `minatar-${game}.json`), new RegExp(`^pass .*MinAtar ${game}: 4 episodes`));
  }
});

test("other JSON in the folder, such as the env benchmark's upstream-throughput.json, is listed as skipped (exit 0)", async () => {
  const folder = join(dir, "other-json");
  await mkdir(folder);
  await writeFile(join(folder, "MountainCar-v0.json"), JSON.stringify(readReference("MountainCar-v0.json")));
  await copyFile(new URL("../../bench/upstream-throughput.json", import.meta.url), join(folder, "upstream-throughput.json"));
  const { code, stdout, stderr } = await runStaq(["check-env", "--reference", folder]);
  assert.equal(code, 0, stdout + stderr);
  assert.match(lineOf(stdout, "MountainCar-v0.json"), /^pass /);
  assert.match(lineOf(stdout, "upstream-throughput.json"), /^skip .*not an environment reference file/);
  assert.match(stdout, /^1 passed, 0 failed, 1 skipped$/m);
});

test("a changed value fails its file's line with episode, step, field, expected and got (exit 1, even beside malformed files)", async () => {
  const bad = join(dir, "bad");
  await mkdir(bad);
  const cartpole = readReference("CartPole-v1.json") as { episodes: { reward: number[]; state: number[][] }[] };
  cartpole.episodes[2].state[5][1] += 1e-9; // x-dot, far beyond 1e-12 relative
  await writeFile(join(bad, "CartPole-v1.json"), JSON.stringify(cartpole));
  const breakout = readReference("minatar-breakout.json") as { episodes: { state_nonzero: number[][][] }[] };
  breakout.episodes[1].state_nonzero[3].push([0, 0, 3]); // a brick that is not there
  await writeFile(join(bad, "minatar-breakout.json"), JSON.stringify(breakout));
  const asterix = readReference("minatar-asterix.json") as { episodes: { reward: number[] }[] };
  const rewardStep = asterix.episodes[0].reward.findIndex((r) => r === 0);
  asterix.episodes[0].reward[rewardStep] = 1;
  await writeFile(join(bad, "minatar-asterix.json"), JSON.stringify(asterix));
  const numpy = readReference("numpy-randomstate.json") as { streams: { draws: unknown[][] }[] };
  numpy.streams[0].draws[0] = ["rand", 0.5];
  await writeFile(join(bad, "numpy-randomstate.json"), JSON.stringify(numpy));
  await writeFile(join(bad, "MountainCar-v0.json"), JSON.stringify(readReference("MountainCar-v0.json")));
  await writeFile(join(bad, "broken.json"), "{ not json");
  await writeFile(join(bad, "unknown-env.json"), JSON.stringify({ env: "Pendulum-v1", episodes: [] }));

  const { code, stdout, stderr } = await runStaq(["check-env", "--reference", bad]);
  // Mismatches and malformed files together: exit 1, the environments disagree.
  assert.equal(code, 1, stdout + stderr);
  assert.match(stderr, /4 of 7 reference files did not match, and 2 could not be checked/);
  assert.match(lineOf(stdout, "CartPole-v1.json"), /^FAIL .*CartPole-v1: episode 2, step 5, state\[1\]: expected .*, got /);
  assert.match(
    lineOf(stdout, "minatar-breakout.json"),
    /^FAIL .*MinAtar breakout: episode 1 \(seed \d+\), step 3, state: expected set cells \[row, col, channel\] \[\[0,0,3\]\] that are not set, got set cells \[\] that should not be/,
  );
  assert.match(
    lineOf(stdout, "minatar-asterix.json"),
    new RegExp(`^FAIL .*MinAtar asterix: episode 0 \\(seed \\d+\\), step ${rewardStep}, reward: expected 1, got 0`),
  );
  assert.match(lineOf(stdout, "numpy-randomstate.json"), /^FAIL .*stream 0 \(seed \d+\), draw 0, rand: expected 0.5, got 0\.\d+/);
  assert.match(lineOf(stdout, "MountainCar-v0.json"), /^pass /);
  assert.match(lineOf(stdout, "broken.json"), /^FAIL .*is not valid JSON/);
  assert.match(lineOf(stdout, "unknown-env.json"), /^FAIL .*no environment named "Pendulum-v1"/);
  assert.match(stdout, /^1 passed, 6 failed, 0 skipped$/m);
});

test("a missing or empty reference folder is a usage problem (exit 2)", async () => {
  const empty = join(dir, "empty");
  await mkdir(empty);
  let result = await runStaq(["check-env", "--reference", empty]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /the folder has no \.json files/);
  result = await runStaq(["check-env", "--reference", join(dir, "nowhere")]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /no such file or folder/);
  result = await runStaq(["check-env"]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /--reference DIR is required/);
});

test("a deeply nested or unreadable reference file fails its own line; the other files are still checked (exit 2)", async () => {
  const folder = join(dir, "odd");
  await mkdir(folder);
  const depth = 100_000;
  await writeFile(join(folder, "deep.json"), `{"env": "CartPole-v1", "episodes": [${'{"a": '.repeat(depth)}0${"}".repeat(depth)}]}`);
  // A folder named like a reference file cannot be read as one.
  await mkdir(join(folder, "folder.json"));
  await writeFile(join(folder, "MountainCar-v0.json"), JSON.stringify(readReference("MountainCar-v0.json")));
  const { code, stdout, stderr } = await runStaq(["check-env", "--reference", folder]);
  // Only bad files, no environment mismatch: exit 2, as for any malformed input file.
  assert.equal(code, 2, stdout + stderr);
  assert.match(stderr, /2 of 3 reference files could not be checked \(malformed or unreadable; their lines say why\)/);
  assert.match(lineOf(stdout, "deep.json"), /^FAIL .*deep\.json is nested deeper than 128 levels/);
  assert.match(lineOf(stdout, "folder.json"), /^FAIL .*Could not read the reference file .*folder\.json: it is a directory \(EISDIR\)/);
  assert.match(lineOf(stdout, "MountainCar-v0.json"), /^pass /);
  assert.match(stdout, /^1 passed, 2 failed, 0 skipped$/m);
});

test("malformed files fail their line, MinAtar names from Object.prototype are unknown games (no crash, exit 2)", async () => {
  const folder = join(dir, "malformed");
  await mkdir(folder);
  const breakout = readReference("minatar-breakout.json") as Record<string, unknown>;
  for (const name of ["constructor", "toString", "__proto__"])
    await writeFile(join(folder, `m-${name}.json`), JSON.stringify({ ...breakout, env: name }));
  await writeFile(join(folder, "episodes-string.json"), JSON.stringify({ env: "CartPole-v1", episodes: "x" }));
  await writeFile(join(folder, "streams-number.json"), JSON.stringify({ streams: 5 }));
  await writeFile(join(folder, "null.json"), "null");
  await writeFile(join(folder, "MountainCar-v0.json"), JSON.stringify(readReference("MountainCar-v0.json")));
  // (The MinAtar file's own field checks: test/envs/minatar/minatar-env.test.ts.)
  const { code, stdout, stderr } = await runStaq(["check-env", "--reference", folder]);
  assert.equal(code, 2, stdout + stderr);
  for (const name of ["constructor", "toString", "__proto__"])
    assert.match(lineOf(stdout, `m-${name}.json`), new RegExp(`^FAIL .*no MinAtar game named "${name}"; known: asterix, breakout`));
  assert.match(lineOf(stdout, "episodes-string.json"), /^FAIL .*"episodes" must be an array .*; got "x"/);
  assert.match(lineOf(stdout, "streams-number.json"), /^FAIL .*"streams" must be an array .*; got 5/);
  assert.match(lineOf(stdout, "null.json"), /^FAIL .*a reference file must be a JSON object with "episodes" or "streams"; got null/);
  assert.match(stdout, /^1 passed, 6 failed, 0 skipped$/m);
});

test("a folder whose files are all skipped checked nothing: exit 2, not success", async () => {
  const folder = join(dir, "all-skipped");
  await mkdir(folder);
  await writeFile(join(folder, "other.json"), JSON.stringify({ commit: "abc" }));
  const { code, stdout, stderr } = await runStaq(["check-env", "--reference", folder]);
  assert.equal(code, 2, stdout + stderr);
  assert.match(stdout, /^skip .*other\.json/m);
  assert.match(stderr, /none of the 1 files is a reference file, so nothing was checked/);
});

/** `episodes` of a reference file, parsed afresh so each case spoils its own copy. */
const episodesOf = (name: string) => readReference(name) as Record<string, unknown> & { episodes: Record<string, unknown[]>[] };

test("malformed MinAtar files fail their line naming the field; the other files are still checked (exit 2)", async () => {
  // Needs the built staq/envs/minatar (check-env loads it by name): npm test builds first.
  const folder = join(dir, "minatar-malformed");
  await mkdir(folder);
  const noInitial = episodesOf("minatar-breakout.json");
  delete (noInitial.episodes[0] as Record<string, unknown>).initial_state;
  await writeFile(join(folder, "a-no-initial.json"), JSON.stringify(noInitial));
  const frame = episodesOf("minatar-breakout.json");
  frame.episodes[0].state_nonzero[0] = 5;
  await writeFile(join(folder, "b-frame.json"), JSON.stringify(frame));
  const noSeed = episodesOf("minatar-breakout.json");
  delete (noSeed.episodes[0] as Record<string, unknown>).seed;
  await writeFile(join(folder, "c-no-seed.json"), JSON.stringify(noSeed));
  const shortReward = episodesOf("minatar-breakout.json");
  shortReward.episodes[0].reward.pop();
  await writeFile(join(folder, "d-short-reward.json"), JSON.stringify(shortReward));
  await writeFile(join(folder, "e-empty.json"), JSON.stringify({ ...episodesOf("minatar-breakout.json"), episodes: [] }));
  await writeFile(join(folder, "f-CartPole-v1.json"), JSON.stringify(readReference("CartPole-v1.json")));
  await writeFile(join(folder, "g-minatar-freeway.json"), JSON.stringify(readReference("minatar-freeway.json")));
  const { code, stdout, stderr } = await runStaq(["check-env", "--reference", folder]);
  assert.equal(code, 2, stdout + stderr);
  assert.match(
    lineOf(stdout, "a-no-initial.json"),
    /^FAIL .*episodes\[0\]\.initial_state must be an array of \[row, col, channel\] cells; got undefined/,
  );
  assert.match(
    lineOf(stdout, "b-frame.json"),
    /^FAIL .*episodes\[0\]\.state_nonzero\[0\] must be an array of \[row, col, channel\] cells; got 5/,
  );
  assert.match(lineOf(stdout, "c-no-seed.json"), /^FAIL .*episodes\[0\]\.seed must be an integer in \[0, 2\^32 - 1\]/);
  assert.match(lineOf(stdout, "d-short-reward.json"), /^FAIL .*episodes\[0\]\.reward has 27 entries but actions has 28/);
  assert.match(lineOf(stdout, "e-empty.json"), /^FAIL .*"episodes" is empty: the file checks nothing/);
  assert.match(lineOf(stdout, "f-CartPole-v1.json"), /^pass /);
  assert.match(lineOf(stdout, "g-minatar-freeway.json"), /^pass .*MinAtar freeway: 4 episodes/);
  assert.match(stdout, /^2 passed, 5 failed, 0 skipped$/m);
  assert.match(stderr, /5 of 7 reference files could not be checked \(malformed or unreadable; their lines say why\)/);
  assert.doesNotMatch(stderr, /is not iterable/);
});

test("a reference file that checks nothing is malformed, not a pass: no episodes, no streams (exit 2)", async () => {
  for (const [name, content] of [
    ["cartpole-empty.json", { env: "CartPole-v1", source: "Gymnasium classic_control", episodes: [] }],
    ["numpy-empty.json", { source: "numpy.random.RandomState (MT19937 legacy)", streams: [] }],
  ] as const) {
    const file = join(dir, name);
    await writeFile(file, JSON.stringify(content));
    const { code, stdout, stderr } = await runStaq(["check-env", "--reference", file]);
    assert.equal(code, 2, stdout + stderr);
    assert.match(lineOf(stdout, name), /^FAIL .*is empty: the file checks nothing/);
    assert.match(stdout, /^0 passed, 1 failed, 0 skipped$/m);
  }
});

test("a real mismatch beside a malformed file still exits 1", async () => {
  const folder = join(dir, "mixed");
  await mkdir(folder);
  const cartpole = readReference("CartPole-v1.json") as { episodes: { reward: number[] }[] };
  cartpole.episodes[0].reward[0] = 7;
  await writeFile(join(folder, "CartPole-v1.json"), JSON.stringify(cartpole));
  await writeFile(join(folder, "numpy-empty.json"), JSON.stringify({ streams: [] }));
  const { code, stdout, stderr } = await runStaq(["check-env", "--reference", folder]);
  assert.equal(code, 1, stdout + stderr);
  assert.match(lineOf(stdout, "CartPole-v1.json"), /^FAIL .*episode 0, step 0, reward: expected 7, got 1/);
  assert.match(stderr, /1 of 2 reference files did not match, and 1 could not be checked/);
});

test("a key written twice at any depth is a malformed file (exit 2), not the last copy checked", async () => {
  const folder = join(dir, "repeated-keys");
  await mkdir(folder);
  const text = (name: string) => JSON.stringify(readReference(name));
  // The first "episodes" disagrees with the environment, the second (which JSON.parse keeps) agrees.
  const cartpole = readReference("CartPole-v1.json") as { episodes: { reward: number[] }[] };
  const wrong = structuredClone(cartpole.episodes);
  wrong[0].reward[0] = 7;
  await writeFile(
    join(folder, "a-top.json"),
    `{"env": "CartPole-v1", "episodes": ${JSON.stringify(wrong)},\n "episodes": ${JSON.stringify(cartpole.episodes)}}`,
  );
  // Deeper: a field of an episode, and a numpy stream's seed.
  await writeFile(join(folder, "b-episode.json"), text("MountainCar-v0.json").replace('"actions":', '"actions": [0],\n"actions":'));
  await writeFile(join(folder, "c-numpy.json"), text("numpy-randomstate.json").replace('"seed":', '"seed": 99, "seed":'));
  await writeFile(join(folder, "d-Acrobot-v1.json"), text("Acrobot-v1.json"));
  const { code, stdout, stderr } = await runStaq(["check-env", "--reference", folder]);
  assert.equal(code, 2, stdout + stderr);
  assert.match(
    lineOf(stdout, "a-top.json"),
    /^FAIL .*a-top\.json has the key "episodes" twice in one object \(line 2, in the top-level object\): JSON\.parse keeps only the last/,
  );
  assert.match(
    lineOf(stdout, "b-episode.json"),
    /^FAIL .*has the key "actions" twice in one object \(line 2, in an object nested 3 levels deep\)/,
  );
  assert.match(lineOf(stdout, "c-numpy.json"), /^FAIL .*has the key "seed" twice in one object/);
  assert.match(lineOf(stdout, "d-Acrobot-v1.json"), /^pass /);
  assert.match(stderr, /3 of 4 reference files could not be checked \(malformed or unreadable; their lines say why\)/);
});

test("a numpy draw whose length field disagrees with its list, or whose values are not integers, is malformed (exit 2)", async () => {
  const folder = join(dir, "numpy-malformed");
  await mkdir(folder);
  const spoil = async (name: string, draw: unknown[]) => {
    const numpy = readReference("numpy-randomstate.json") as { streams: { draws: unknown[][] }[] };
    const index = numpy.streams[0].draws.findIndex((d) => d[0] === draw[0]);
    numpy.streams[0].draws[index] = draw;
    await writeFile(join(folder, name), JSON.stringify(numpy));
  };
  await spoil("a-n.json", ["randint_range_n", 1, 6, 8, [2, 4, 1, 1, 2, 5, 5]]);
  await spoil("b-values.json", ["randint_range_n", 1, 6, 2, ["2", 4]]);
  const { code, stdout, stderr } = await runStaq(["check-env", "--reference", folder]);
  assert.equal(code, 2, stdout + stderr);
  assert.match(
    lineOf(stdout, "a-n.json"),
    /^FAIL .*draws\[\d+\] \["randint_range_n",1,6,8,\[2,4,1,1,2,5,5\]\] asks for 8 values but lists 7/,
  );
  assert.match(lineOf(stdout, "b-values.json"), /^FAIL .*draws\[\d+\] is not a known draw: \["randint_range_n",1,6,2,\["2",4\]\]/);
});

test("a MinAtar file that cannot be checked because staq/envs/minatar cannot be loaded exits 1, as the help says", async () => {
  const folder = join(dir, "no-minatar");
  await mkdir(folder);
  await writeFile(join(folder, "minatar-breakout.json"), JSON.stringify(readReference("minatar-breakout.json")));
  await writeFile(join(folder, "MountainCar-v0.json"), JSON.stringify(readReference("MountainCar-v0.json")));
  await writeFile(join(folder, "numpy-empty.json"), JSON.stringify({ streams: [] }));
  const { code, stdout, stderr } = await runStaq(["check-env", "--reference", folder], process.env, { hide: MISSING_MINATAR });
  assert.equal(code, 1, stdout + stderr);
  assert.match(
    lineOf(stdout, "minatar-breakout.json"),
    /^FAIL .*MinAtar reference files need staq\/envs\/minatar, which could not be loaded/,
  );
  assert.match(
    stderr,
    /1 of 3 reference files could not be checked \(malformed or unreadable; their lines say why\), and 1 could not be checked for a reason other than the file \(staq itself: its line says why\)/,
  );
  // The help says when each exit status comes.
  const help = await runStaq(["check-env", "--help"]);
  assert.match(
    help.stdout,
    /^ {2}1 {2}an environment did not match a reference file, or a file could not be checked for a reason\n {5}other than the file/m,
  );
});
