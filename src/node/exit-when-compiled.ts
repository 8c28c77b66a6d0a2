/**
 * Ends the process at once with an exit code, without crashing Dawn. process.exit() runs exit(),
 * whose static destructors tear down state (SPIR-V validation, among others) that Dawn's worker
 * threads may be using to build a pipeline just then: the process then dies by SIGSEGV instead of
 * exiting with the code asked for. Waiting for the compiles in flight (milliseconds to a second or
 * two on a software driver) avoids that; the wait is bounded, so a stuck compile cannot keep a
 * process the user asked to quit.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Gpu } from "../gpu/gpu.ts";

/** The longest wait for compiles in flight before exiting anyway. */
export const COMPILE_WAIT_MS = 10_000;

/**
 * Exits with `code` once `gpu` compiles nothing (COMPILE_WAIT_MS at most), calling `lastly` just
 * before: what it says about the process's state (a checkpoint on disk, say) is then still true.
 */
export async function exitWhenCompiled(gpu: Gpu, code: number, lastly: () => void = () => {}, waitMs = COMPILE_WAIT_MS): Promise<never> {
  await Promise.race([gpu.compiled(), sleep(waitMs)]);
  lastly();
  process.exit(code);
}
