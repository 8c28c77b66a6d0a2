/**
 * The frames staq and its Python worker (staq_gym_worker.py) exchange, and their encoding: binary
 * batches, so that a step costs one small write and one read of raw arrays, never a JSON text per
 * step (only the spec at the start, and errors, are JSON).
 *
 * A frame is `u32 length` (the bytes after it), `u8 type`, then the payload; numbers are
 * little-endian. Replies are decoded from their payload alone, which the pipe thread copies to the
 * start of a fresh ArrayBuffer: the layouts keep every array aligned to its element size from
 * there, so the decoded arrays are views on that buffer, not copies. The table is in
 * docs/gym-bridge.md; the Python side spells the same numbers.
 */
import { StaqError } from "../../errors.ts";
import type { JsonValue } from "../env.ts";

export const PROTOCOL_VERSION = 1;

/** Request types (staq → worker). */
export const Request = { hello: 1, reset: 2, step: 3, getAttr: 4, close: 5 } as const;
/** Reply types (worker → staq). */
export const Reply = { spec: 129, obs: 130, stepped: 131, attr: 132, error: 255 } as const;

/** What HELLO asks for (JSON, once). */
export interface HelloSpec {
  version: number;
  /** The name in staq's terms (gym:CartPole-v1), for the worker's messages. */
  name: string;
  /** A Gymnasium id, or `module.path:factory`. */
  env: string;
  count: number;
  discretiseBox: boolean;
  /** Keyword arguments of gymnasium.make or of the factory. */
  kwargs: Record<string, JsonValue>;
  /** A step limit replacing the env's own (null: the env's). */
  maxEpisodeSteps: number | null;
  /** Directories put first on the worker's sys.path. */
  path: string[];
}

/** The copies' spaces, as the worker read them (SPEC). */
export interface GymSpaces {
  version: number;
  observationShape: number[];
  /** The observation space's dtype; observations travel as float32 whatever it is. */
  observationDtype: string;
  actionCount: number;
  action: { kind: "discrete"; n: number; start: number } | { kind: "box"; n: number; shape: number[]; low: number[]; high: number[] };
  /** The worker's Python and numpy versions. */
  python: string;
  numpy: string;
}

/** What one STEP returns, as views on the reply's buffer. */
export interface SteppedReply {
  rewards: Float64Array;
  /** [N × size], after the auto-resets. */
  obs: Float32Array;
  /** [ended × size]: the final observations of the copies whose episode ended, in copy order. */
  finals: Float32Array;
  terminated: Uint8Array;
  truncated: Uint8Array;
}

/** An ERROR reply: `kind` sorts it (missing-numpy, missing-gymnasium, bad-env, space, attr, protocol, exception). */
export interface WorkerFailure {
  kind: string;
  message: string;
  traceback: string;
}

/** A frame: the length, the type, the payload. */
function frame(type: number, payload: Uint8Array = new Uint8Array(0)): ArrayBuffer {
  const buffer = new ArrayBuffer(5 + payload.length);
  const view = new DataView(buffer);
  view.setUint32(0, 1 + payload.length, true);
  view.setUint8(4, type);
  new Uint8Array(buffer, 5).set(payload);
  return buffer;
}

export function encodeHello(spec: HelloSpec): ArrayBuffer {
  return frame(Request.hello, new TextEncoder().encode(JSON.stringify(spec)));
}

/** RESET: `u8 seeded`, then one u64 seed per copy when seeded. */
export function encodeReset(seeds: readonly number[] | null): ArrayBuffer {
  if (seeds === null) return frame(Request.reset, Uint8Array.of(0));
  const payload = new Uint8Array(1 + 8 * seeds.length);
  payload[0] = 1;
  const view = new DataView(payload.buffer);
  seeds.forEach((seed, i) => view.setBigUint64(1 + 8 * i, BigInt(seed), true));
  return frame(Request.reset, payload);
}

/** STEP: one i32 action per copy (checked by the caller). */
export function encodeStep(actions: ArrayLike<number>): ArrayBuffer {
  const buffer = new ArrayBuffer(5 + 4 * actions.length);
  const view = new DataView(buffer);
  view.setUint32(0, 1 + 4 * actions.length, true);
  view.setUint8(4, Request.step);
  for (let i = 0; i < actions.length; i++) view.setInt32(5 + 4 * i, actions[i], true);
  return buffer;
}

export function encodeGetAttr(name: string): ArrayBuffer {
  return frame(Request.getAttr, new TextEncoder().encode(name));
}

export function encodeClose(): ArrayBuffer {
  return frame(Request.close);
}

/** A malformed reply: the worker and staq disagree on the protocol (a stale copy of the worker file). */
function malformed(what: string): never {
  throw new StaqError(`the Python worker sent a malformed ${what}; its staq_gym_worker.py does not match this staq (reinstall staq)`);
}

function json(payload: ArrayBuffer, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(payload));
  } catch {
    return malformed(what);
  }
}

export function decodeSpec(payload: ArrayBuffer): GymSpaces {
  const spec = json(payload, "SPEC") as GymSpaces;
  if (!Array.isArray(spec?.observationShape) || !Number.isInteger(spec.actionCount)) malformed("SPEC");
  return spec;
}

export function decodeError(payload: ArrayBuffer): WorkerFailure {
  const failure = json(payload, "ERROR") as WorkerFailure;
  if (typeof failure?.message !== "string") malformed("ERROR");
  return { kind: String(failure.kind), message: failure.message, traceback: String(failure.traceback ?? "") };
}

export function decodeObs(payload: ArrayBuffer, count: number, size: number): Float32Array {
  if (payload.byteLength !== 4 * count * size) malformed(`OBS (${payload.byteLength} bytes for ${count} × ${size} float32)`);
  return new Float32Array(payload);
}

/** STEPPED: `u32 ended, u32 0, f64 rewards[N], f32 obs[N·size], f32 finals[ended·size], u8 terminated[N], u8 truncated[N]`. */
export function decodeStepped(payload: ArrayBuffer, count: number, size: number): SteppedReply {
  if (payload.byteLength < 8) malformed("STEPPED");
  const ended = new DataView(payload).getUint32(0, true);
  const rewardsAt = 8;
  const obsAt = rewardsAt + 8 * count;
  const finalsAt = obsAt + 4 * count * size;
  const flagsAt = finalsAt + 4 * ended * size;
  if (ended > count || payload.byteLength !== flagsAt + 2 * count) malformed(`STEPPED (${payload.byteLength} bytes)`);
  return {
    rewards: new Float64Array(payload, rewardsAt, count),
    obs: new Float32Array(payload, obsAt, count * size),
    finals: new Float32Array(payload, finalsAt, ended * size),
    terminated: new Uint8Array(payload, flagsAt, count),
    truncated: new Uint8Array(payload, flagsAt + count, count),
  };
}

/** ATTR: `u32 values per copy, u32 0, f64 [N × values]`. */
export function decodeAttr(payload: ArrayBuffer, count: number): { perCopy: number; values: Float64Array } {
  if (payload.byteLength < 8) malformed("ATTR");
  const perCopy = new DataView(payload).getUint32(0, true);
  if (payload.byteLength !== 8 + 8 * perCopy * count) malformed("ATTR");
  return { perCopy, values: new Float64Array(payload, 8, perCopy * count) };
}
