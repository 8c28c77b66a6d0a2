/**
 * The code of the thread that owns the Python worker process and its pipes (worker-link.ts).
 *
 * Why a thread: the Env and VectorEnv interfaces are synchronous, but in Node a child process's
 * pipes are read through the event loop, which a synchronous step() never returns to. So the child
 * belongs to a worker_threads Worker, whose own event loop does the pipe IO: it writes each request
 * frame it is sent, cuts the child's stdout into frames, and posts each reply's payload (in an
 * ArrayBuffer of its own, transferred) back, bumping a counter in shared memory and waking the main
 * thread, which sleeps in Atomics.wait (with a timeout) and takes the message with
 * receiveMessageOnPort. The child's exit, and a failure to start it, are posted the same way, so a
 * blocked step() always wakes up.
 *
 * Why a string: the thread runs plain JavaScript given to the Worker with `eval: true`, so it needs
 * no file of its own next to the compiled code, works the same from src/ under tsx, from dist/ and
 * from a bundle, and loads no TypeScript loader (`execArgv: []`).
 *
 * workerData: { port, control (SharedArrayBuffer: Int32 counter), python, args, env, echoStderr, tailChars }.
 * Posted to the main thread: {kind: "spawned", pid}, {kind: "reply", type, payload},
 * {kind: "spawn-error", code, message}, {kind: "exit", code, signal, stderr} (on the child's exit,
 * not when its pipes close: a grandchild may hold them open).
 * Taken from it: {kind: "send", frame} (written to the child's stdin), {kind: "end"} (closes stdin).
 */
export const PIPE_THREAD_SOURCE = String.raw`
"use strict";
const { workerData } = require("node:worker_threads");
const { spawn } = require("node:child_process");
const { port, control, python, args, env, echoStderr, tailChars } = workerData;
const counter = new Int32Array(control);
const EXIT_DRAIN_MS = 200;

function post(message, transfer) {
  port.postMessage(message, transfer || []);
  Atomics.add(counter, 0, 1);
  Atomics.notify(counter, 0);
}

let stderrTail = "";
let pending = Buffer.alloc(0);
let finished = false;
const child = spawn(python, args, { stdio: ["pipe", "pipe", "pipe"], env });

function finish(message) {
  if (finished) return;
  finished = true;
  post(message);
  port.close();
}

child.on("error", (error) => {
  // The interpreter could not be started (ENOENT, EACCES); no "close" follows when it never ran.
  if (child.pid === undefined) finish({ kind: "spawn-error", code: error.code || "", message: String(error.message) });
});
if (child.pid !== undefined) post({ kind: "spawned", pid: child.pid });

child.stdin.on("error", () => {}); // EPIPE when the child died: its "close" says how
child.stderr.setEncoding("utf8");
child.stderr.on("data", (text) => {
  if (echoStderr) process.stderr.write(text);
  stderrTail = (stderrTail + text).slice(-tailChars);
});
child.stdout.on("data", (chunk) => {
  pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
  while (pending.length >= 5) {
    const length = pending.readUInt32LE(0);
    if (pending.length < 4 + length) break;
    const payload = new ArrayBuffer(length - 1);
    new Uint8Array(payload).set(pending.subarray(5, 4 + length));
    post({ kind: "reply", type: pending[4], payload }, [payload]);
    pending = pending.subarray(4 + length);
  }
});
// "close" waits for every pipe to close, and a process the env started inherits them: the worker's
// death would be reported only when that grandchild ends. So the exit itself is reported, after a
// short grace for the last of stdout and stderr to drain (a reply written just before exiting).
child.on("close", (code, signal) => finish({ kind: "exit", code, signal, stderr: stderrTail }));
child.on("exit", (code, signal) => {
  setTimeout(() => {
    finish({ kind: "exit", code, signal, stderr: stderrTail });
    child.stdout.destroy();
    child.stderr.destroy();
  }, EXIT_DRAIN_MS);
});
// A fault here must wake the main thread too, not leave it waiting for its timeout.
process.on("uncaughtException", (error) => {
  try {
    child.kill("SIGKILL");
  } catch {}
  finish({ kind: "exit", code: null, signal: null, stderr: stderrTail + "\nstaq's pipe thread failed: " + (error && error.stack) });
});

port.on("message", (message) => {
  if (finished) return;
  if (message.kind === "send") child.stdin.write(new Uint8Array(message.frame));
  else if (message.kind === "end") child.stdin.end();
});
`;
