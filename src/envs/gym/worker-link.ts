/**
 * A synchronous request/reply link to one Python worker process (staq_gym_worker.py), for the
 * synchronous VectorEnv interface: `request(frame)` sends a frame and blocks until the reply, the
 * worker's exit, or a timeout — it never hangs. The pipes belong to a thread (pipe-thread.ts); this
 * side sleeps in Atomics.wait and reads the thread's messages with receiveMessageOnPort.
 *
 * Failures become errors that name the environment and say what happened: the interpreter missing
 * (StaqInputError, what to install), the worker exiting (its exit code or signal and the tail of its
 * stderr), no reply within the timeout (the worker is then killed). After a failure the link refuses
 * every request with the same error: a batch half stepped cannot be trusted.
 *
 * Nothing here keeps Node alive: the thread is unref'd, and a process that exits kills its workers
 * (and a worker whose stdin closes exits by itself, should staq die without running exit handlers).
 */
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from "node:worker_threads";
import { StaqError, StaqInputError } from "../../errors.ts";
import { PIPE_THREAD_SOURCE } from "./pipe-thread.ts";
import { decodeError } from "./protocol.ts";
import { pythonMissing } from "./python-hints.ts";

/** What the pipe thread posts. */
type ThreadMessage =
  | { kind: "spawned"; pid: number }
  | { kind: "reply"; type: number; payload: ArrayBuffer }
  | { kind: "spawn-error"; code: string; message: string }
  | { kind: "exit"; code: number | null; signal: string | null; stderr: string };

export interface WorkerLinkOptions {
  /** The environment's name in staq's terms (gym:CartPole-v1), for every message. */
  name: string;
  python: string;
  script: string;
  /** Echo the worker's stderr (Python's warnings and tracebacks) to this process's stderr. */
  echoStderr: boolean;
  /** The child's environment variables. */
  env: NodeJS.ProcessEnv;
}

/** Characters of the worker's stderr kept for error messages. */
const STDERR_TAIL = 4000;

/** Workers alive in this process, killed when it exits (their stdin's EOF would end them too, unless one is stuck). */
const live = new Set<number>();
let exitHookInstalled = false;

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

export class WorkerLink {
  private readonly thread: Worker;
  private readonly port: MessagePort;
  private readonly counter: Int32Array;
  /** The child's process id, once it started (tests kill it to simulate a crash). */
  pid: number | undefined;
  private failure: Error | undefined;
  private exited = false;

  constructor(private readonly options: WorkerLinkOptions) {
    const channel = new MessageChannel();
    const control = new SharedArrayBuffer(4);
    this.counter = new Int32Array(control);
    this.port = channel.port1;
    this.thread = new Worker(PIPE_THREAD_SOURCE, {
      eval: true,
      execArgv: [],
      workerData: {
        port: channel.port2,
        control,
        python: options.python,
        // -u: Python's stderr unbuffered, so that a crash's last words reach the error message.
        args: ["-u", options.script],
        env: options.env,
        echoStderr: options.echoStderr,
        tailChars: STDERR_TAIL,
      },
      transferList: [channel.port2],
      stdout: false,
      stderr: false,
    });
    this.thread.unref();
    // The thread reports its own faults through the port (pipe-thread.ts); an 'error' event left
    // unhandled would end this process instead.
    this.thread.on("error", () => {});
    this.port.unref();
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on("exit", () => live.forEach(killQuietly));
    }
  }

  /**
   * Sends `frame` and waits up to `seconds` for the reply's type and payload. An ERROR reply is
   * returned too (the caller words it); `what` says what was asked, for the messages ("stepping").
   */
  request(frame: ArrayBuffer, what: string, seconds: number): { type: number; payload: ArrayBuffer } {
    // A NaN would make Atomics.wait sleep forever, 0 or less never wait: the callers check the
    // user's options; this guards against a caller that forgets.
    if (!(Number.isFinite(seconds) && seconds > 0))
      throw new StaqInputError(`${this.options.name}: a reply's time limit must be a finite number of seconds > 0; got ${seconds}`);
    if (this.failure) throw this.failure;
    if (this.exited) throw new StaqInputError(`${this.options.name}: the Python worker was closed; make a new env`);
    this.port.postMessage({ kind: "send", frame }, [frame]);
    return this.await(what, seconds);
  }

  /** The ERROR reply as an error naming the env, with the Python traceback's tail. */
  failureOf(payload: ArrayBuffer, what: string): Error {
    const failure = decodeError(payload);
    const trace = failure.traceback.trim() ? `\n${tail(failure.traceback, 2000)}` : "";
    // The worker's own messages name the env already; Python's exceptions do not.
    const { name } = this.options;
    const head = failure.message.startsWith(name) ? failure.message : `${name}: ${what} failed in the Python worker: ${failure.message}`;
    const message = `${head}${failure.kind === "exception" ? trace : ""}`;
    return failure.kind === "exception" ? new StaqError(message) : new StaqInputError(message);
  }

  /** Marks the link failed with `error` (every later request throws it), stops the worker, and returns the error. */
  fail(error: Error): Error {
    this.failure ??= error;
    if (this.pid !== undefined) killQuietly(this.pid);
    return this.failure;
  }

  /**
   * Asks the worker to exit (CLOSE frame, then stdin's end) and waits up to `graceSeconds` for it,
   * then kills it. Idempotent; the thread ends with the child.
   */
  close(closeFrame: ArrayBuffer, graceSeconds = 5): void {
    if (this.exited) return;
    if (this.pid !== undefined && this.failure === undefined) {
      this.port.postMessage({ kind: "send", frame: closeFrame }, [closeFrame]);
      this.port.postMessage({ kind: "end" });
      try {
        this.wait(graceSeconds, () => false);
      } catch {
        // exited (the expected end) or timed out: killed below either way
      }
    }
    if (this.pid !== undefined) {
      killQuietly(this.pid);
      live.delete(this.pid);
    }
    this.exited = true;
    void this.thread.terminate();
  }

  /** Waits for the reply to the request just sent, handling the thread's other messages on the way. */
  private await(what: string, seconds: number): { type: number; payload: ArrayBuffer } {
    let reply: { type: number; payload: ArrayBuffer } | undefined;
    try {
      this.wait(seconds, (message) => {
        if (message.kind !== "reply") return false;
        reply = message;
        return true;
      });
    } catch (error) {
      throw this.fail(this.explain(error as Error, what, seconds));
    }
    return reply!;
  }

  /**
   * Handles the thread's messages until `done` accepts one, for at most `seconds`. Throws a
   * WorkerGone on the child's exit or failed start, and a Timeout past the deadline.
   */
  private wait(seconds: number, done: (message: ThreadMessage) => boolean): void {
    const deadline = performance.now() + seconds * 1000;
    for (;;) {
      // The counter is read before the port: a message posted after the read changes it, so the
      // wait below returns at once instead of sleeping through it.
      const seen = Atomics.load(this.counter, 0);
      const received = receiveMessageOnPort(this.port);
      if (received) {
        const message = received.message as ThreadMessage;
        if (message.kind === "spawned") {
          this.pid = message.pid;
          live.add(message.pid);
        } else if (message.kind === "exit" || message.kind === "spawn-error") {
          if (this.pid !== undefined) live.delete(this.pid);
          this.exited = true;
          throw new WorkerGone(message);
        } else if (done(message)) {
          return;
        }
        continue;
      }
      const remaining = deadline - performance.now();
      if (remaining <= 0) throw new Timeout();
      Atomics.wait(this.counter, 0, seen, remaining);
    }
  }

  /** The error for a worker that exited, failed to start or timed out while `what`. */
  private explain(error: Error, what: string, seconds: number): Error {
    const { name, python } = this.options;
    if (error instanceof Timeout) {
      return new StaqError(
        `${name}: no reply from the Python worker within ${seconds} s while ${what} (a stuck or very slow environment?); the worker was stopped. Give a longer timeoutSeconds if the environment is just slow`,
      );
    }
    if (!(error instanceof WorkerGone)) return error;
    const gone = error.message_;
    if (gone.kind === "spawn-error") return pythonMissing(name, python, `${gone.code} ${gone.message}`.trim());
    const how = gone.signal ? `was killed by ${gone.signal}` : `exited with code ${gone.code}`;
    const stderr = gone.stderr.trim() ? `; its stderr ended with:\n${tail(gone.stderr, 2000)}` : " (nothing on its stderr)";
    return new StaqError(`${name}: the Python worker ${how} while ${what}${stderr}`);
  }
}

/** The child exited or never started (internal: explain() turns it into the user's error). */
class WorkerGone extends Error {
  constructor(readonly message_: Extract<ThreadMessage, { kind: "exit" | "spawn-error" }>) {
    super(message_.kind);
  }
}

class Timeout extends Error {}

/** The last `chars` characters of `text`, from a line start where possible. */
function tail(text: string, chars: number): string {
  const trimmed = text.trimEnd();
  if (trimmed.length <= chars) return trimmed;
  const cut = trimmed.slice(-chars);
  const line = cut.indexOf("\n");
  return `…${line >= 0 ? cut.slice(line) : cut}`;
}
