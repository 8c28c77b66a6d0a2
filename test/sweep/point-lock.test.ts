// The sweep point's lock (src/sweep/point-lock.ts): claims by generation, on the real file system.
// Simulated workers carry their own pids and a judge that says which are alive, so the tests can
// interleave views and claims in any order; one test races real processes over a dead worker's
// record, the case the single-file lock got wrong.
import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import {
  CLAIMS_DIRECTORY,
  claimGenerations,
  claimLock,
  readLock,
  releaseLock,
  takeLock,
  viewLock,
  type HeldLock,
  type LockView,
  type PointLock,
} from "../../src/sweep/point-lock.ts";
import { REPO_ROOT, tempDir } from "../io/stack-fixtures.ts";

const worker = (pid: number): PointLock => ({ pid, host: "sim", started: "2026-01-01T00:00:00.000Z" });

test("a free point is taken by this process, held while it lives, and free again once released", async () => {
  const dir = await tempDir();
  assert.deepEqual(await viewLock(dir), { generation: 0 });
  const held = await takeLock(dir);
  assert.ok(held);
  assert.equal(held.generation, 1);
  assert.equal((await readLock(dir))?.pid, process.pid);
  assert.equal(await takeLock(dir), undefined, "a live holder keeps the point");
  await releaseLock(held);
  const record = JSON.parse(await readFile(join(dir, CLAIMS_DIRECTORY, "1.json"), "utf8")) as PointLock;
  assert.equal(record.pid, process.pid);
  assert.ok(record.released, "the record says it was released");
  assert.equal(await readLock(dir), undefined);
  const again = await takeLock(dir);
  assert.equal(again?.generation, 2);
  assert.deepEqual(await claimGenerations(dir), [1, 2], "records stay, as the point's history");
});

test("two workers that found the same dead holder: one takes the point, the other backs off", async () => {
  const dir = await tempDir();
  const alive = new Set([101, 102, 103]);
  const judge = async (lock: PointLock) => alive.has(lock.pid);
  const first = await claimLock(dir, await viewLock(dir, judge), worker(101));
  assert.equal(first?.generation, 1);
  alive.delete(101); // killed without releasing
  const seenBy102 = await viewLock(dir, judge);
  const seenBy103 = await viewLock(dir, judge);
  assert.deepEqual(seenBy102, { generation: 1 }, "a dead worker's record holds nothing");
  assert.equal((await claimLock(dir, seenBy102, worker(102)))?.generation, 2);
  assert.equal(await claimLock(dir, seenBy103, worker(103)), undefined);
  assert.equal((await readLock(dir, judge))?.pid, 102);
});

test("a worker whose view is stale (the point was claimed since) backs off, even when that claim ended", async () => {
  const dir = await tempDir();
  const judge = async () => true;
  const stale = await viewLock(dir, judge);
  const other = await claimLock(dir, await viewLock(dir, judge), worker(201));
  assert.ok(other);
  await releaseLock(other);
  assert.equal(await claimLock(dir, stale, worker(202)), undefined);
  assert.deepEqual(await claimGenerations(dir), [1]);
});

test("a newest record that is not a claim (garbled by hand) holds nothing; the next claim follows it", async () => {
  const dir = await tempDir();
  await mkdir(join(dir, CLAIMS_DIRECTORY));
  await writeFile(join(dir, CLAIMS_DIRECTORY, "1.json"), "not json");
  await writeFile(join(dir, CLAIMS_DIRECTORY, "notes.txt"), "ignored: not a record's name");
  assert.deepEqual(await viewLock(dir), { generation: 1 });
  assert.equal((await takeLock(dir))?.generation, 2);
});

test("a sweep directory that cannot hold the claims is an input error that says what to do", async () => {
  const dir = await tempDir();
  await writeFile(join(dir, CLAIMS_DIRECTORY), "a file where the claims directory goes");
  await assert.rejects(takeLock(dir), (error: Error) => {
    assert.equal(error.name, "StaqInputError");
    assert.match(error.message, /Could not claim the sweep point in .*: .*hard links/);
    return true;
  });
});

test("a point directory whose path is too long says so and to shorten out, without the hard-link advice", async () => {
  // One component over the 255 bytes a file system takes: ENAMETOOLONG, as a long "out" gives.
  const dir = join(await tempDir(), "x".repeat(300));
  await assert.rejects(takeLock(dir), (error: Error) => {
    assert.equal(error.name, "StaqInputError");
    assert.match(
      error.message,
      /the name is too long \(ENAMETOOLONG\): the path is longer than the file system takes; give the sweep a shorter "out"/,
    );
    assert.doesNotMatch(error.message, /hard link/);
    return true;
  });
});

// Model-based: any interleaving of workers that view, claim (from their last view), take (view and
// claim at once), release, or die. The model knows the newest generation and who holds the point,
// so it predicts every claim's outcome exactly: a claim wins iff its view showed no holder and no
// claim was made since the view. After every step at most one worker believes it holds the point,
// and the lock reports exactly that worker.
test("property: in any interleaving, a claim wins exactly when its view is current and free; never two holders", async () => {
  type Action = { worker: number; kind: "view" | "claim" | "take" | "release" | "die" };
  const action = fc.record({
    worker: fc.integer({ min: 0, max: 3 }),
    kind: fc.constantFrom<Action["kind"]>("view", "claim", "take", "release", "die"),
  });
  await fc.assert(
    fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 30 }), async (actions) => {
      const dir = await tempDir();
      const alive = new Set<number>();
      const judge = async (lock: PointLock) => alive.has(lock.pid);
      let nextPid = 1000;
      const workers = Array.from({ length: 4 }, () => {
        const pid = nextPid++;
        alive.add(pid);
        return { pid, view: undefined as LockView | undefined, held: undefined as HeldLock | undefined };
      });
      let newest = 0;
      let holder: number | undefined; // index of the worker the model says holds the point
      const claim = async (w: number, view: LockView) => {
        const expectWin = holder === undefined && view.holder === undefined && view.generation === newest;
        const held = await claimLock(dir, view, worker(workers[w].pid));
        assert.equal(held !== undefined, expectWin, `worker ${w} claimed from ${JSON.stringify(view)}; newest ${newest}`);
        if (held) {
          assert.equal(held.generation, newest + 1);
          newest = held.generation;
          holder = w;
          workers[w].held = held;
        }
      };
      for (const { worker: w, kind } of actions) {
        const state = workers[w];
        if (kind === "view") state.view = await viewLock(dir, judge);
        else if (kind === "claim" && state.view && !state.held) await claim(w, state.view);
        else if (kind === "take" && !state.held) await claim(w, await viewLock(dir, judge));
        else if (kind === "release" && state.held) {
          await releaseLock(state.held);
          state.held = undefined;
          holder = undefined;
        } else if (kind === "die") {
          // The process is killed (its record stays unreleased); the worker comes back as a new one.
          alive.delete(state.pid);
          if (holder === w) holder = undefined;
          workers[w] = { pid: nextPid++, view: undefined, held: undefined };
          alive.add(workers[w].pid);
        }
        const holding = workers.filter((s) => s.held !== undefined);
        assert.ok(holding.length <= 1, "two workers hold the point");
        assert.equal((await readLock(dir, judge))?.pid, holder === undefined ? undefined : workers[holder].pid);
        assert.deepEqual(
          await claimGenerations(dir),
          Array.from({ length: newest }, (_, i) => i + 1),
        );
      }
    }),
    { numRuns: 60 },
  );
});

/** A process that waits for "go" on stdin, tries takeLock once, prints the outcome, and stays alive. */
function racer(dir: string): { child: ChildProcessWithoutNullStreams; outcome: Promise<string> } {
  const script = `
    import { takeLock } from "./src/sweep/point-lock.ts";
    process.stdout.write("ready\\n");
    process.stdin.once("data", async () => {
      const held = await takeLock(${JSON.stringify(dir)});
      process.stdout.write(held ? "won " + held.generation + "\\n" : "lost\\n");
      process.stdin.once("end", () => process.exit(0));
    });`;
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: REPO_ROOT });
  let output = "";
  const outcome = new Promise<string>((resolve, reject) => {
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const match = /(won \d+|lost)\n/.exec(output);
      if (match) resolve(match[1]);
    });
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("exit", (code) => reject(new Error(`racer exited (${code}) before an outcome: ${output}`)));
  });
  return { child, outcome };
}

test("processes racing for a point a killed worker left: exactly one takes it", async () => {
  const dir = await tempDir();
  // A record of a worker on this host that is gone: the pid of a process that has exited.
  const gone = spawn(process.execPath, ["-e", ""]);
  const pid = await new Promise<number>((resolve) => gone.on("exit", () => resolve(gone.pid!)));
  await mkdir(join(dir, CLAIMS_DIRECTORY));
  await writeFile(join(dir, CLAIMS_DIRECTORY, "1.json"), JSON.stringify({ pid, host: hostname(), started: "2026-01-01T00:00:00Z" }));

  const racers = Array.from({ length: 6 }, () => racer(dir));
  try {
    await Promise.all(
      racers.map(
        ({ child }) => new Promise<void>((resolve) => child.stdout.on("data", (c: Buffer) => c.toString().includes("ready") && resolve())),
      ),
    );
    for (const { child } of racers) child.stdin.write("go\n");
    const outcomes = await Promise.all(racers.map((r) => r.outcome));
    assert.deepEqual(
      outcomes.filter((o) => o !== "lost"),
      ["won 2"],
      `outcomes: ${outcomes.join(", ")}`,
    );
    assert.deepEqual(await claimGenerations(dir), [1, 2]);
  } finally {
    for (const { child } of racers) child.stdin.end();
  }
});
