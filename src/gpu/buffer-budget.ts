/**
 * Size checks made before staq allocates anything that grows with a number the user chose (the
 * stack's memory M, a replay capacity, a batch size): against the device's limits, and against
 * the host's memory where staq knows it. A size that does not fit is refused up front, with a
 * message naming the quantity, what it needs, the limit and the largest value that fits, instead
 * of a WebGPU validation error later (results computed on invalid buffers) or the process being
 * killed for memory.
 *
 * Portable: the host's memory comes in through `GpuInfo.hostMemory` (set by the Node entry).
 */
import { StaqGpuError, StaqInputError } from "../errors.ts";
import type { GpuInfo, GpuLimits } from "./gpu.ts";

/**
 * How a buffer is bound:
 * - "whole": as one storage binding of the entire buffer, so it must fit maxStorageBufferBindingSize;
 * - "ranges": in parts that staq plans to fit a binding, or not bound at all: maxBufferSize applies;
 * - "split": spread by staq over as many buffers as needed (the stack's weights): no per-buffer
 *   limit, only memory.
 */
export type BindingUse = "whole" | "ranges" | "split";

/** A buffer (or `count` alike) that grows with the quantity: `fixedBytes + value × bytesPerUnit` bytes each. */
export interface BufferNeed {
  /** What it holds, as a phrase: "a coefficients buffer". */
  what: string;
  bytesPerUnit: number;
  fixedBytes?: number;
  binding: BindingUse;
  /** How many such buffers (default 1): each must fit the limit, all count for memory. */
  count?: number;
}

/** The number being checked. */
export interface Quantity {
  /** As the user knows it: "memory M", "the replay capacity", "the batch size". */
  name: string;
  value: number;
  /** Where the value came from, when not from the caller: `the file's __metadata__ "memory"`. */
  source?: string;
  /**
   * True (the default) when the user chose the value, which makes a refusal a StaqInputError (the
   * CLI's exit 2: fix the option or the file); false for a size staq derived, a StaqGpuError.
   */
  userChosen?: boolean;
}

export interface Budget {
  /** GPU buffers that grow with the quantity. */
  buffers: readonly BufferNeed[];
  /**
   * Host (JavaScript) memory per unit of the quantity, at its peak: arrays kept plus those made
   * at once while updating them.
   */
  hostBytesPerUnit?: number;
}

/**
 * The share of the host's memory staq lets one object (a stack, a replay buffer) plan for: the
 * rest is for Node, the driver, the other objects and the rest of the machine.
 */
export const HOST_MEMORY_SHARE = 0.5;

/** "400000000 bytes (381 MiB)". */
export function formatBytes(bytes: number): string {
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
  let scaled = bytes;
  let unit = -1;
  while (scaled >= 1024 && unit < units.length - 1) {
    scaled /= 1024;
    unit++;
  }
  const exact = `${bytes} bytes`;
  if (unit < 1) return exact;
  return `${exact} (${scaled >= 100 ? Math.round(scaled) : Number(scaled.toPrecision(3))} ${units[unit]})`;
}

/** The byte limit a buffer bound as `binding` must respect, and the limit's name; Infinity for "split". */
export function bufferLimit(
  limits: Pick<GpuLimits, "maxBufferSize" | "maxStorageBufferBindingSize">,
  binding: BindingUse,
): { bytes: number; name: string } {
  if (binding === "split") return { bytes: Infinity, name: "" };
  if (binding === "whole" && limits.maxStorageBufferBindingSize < limits.maxBufferSize) {
    return { bytes: limits.maxStorageBufferBindingSize, name: "maxStorageBufferBindingSize" };
  }
  return { bytes: limits.maxBufferSize, name: "maxBufferSize" };
}

/** Largest value v >= 0 with fixed + v × perUnit <= limit (Infinity when any fits, 0 when none). */
function largestFitting(limit: number, perUnit: number, fixed: number): number {
  if (fixed > limit) return 0;
  if (!Number.isFinite(limit) || perUnit <= 0) return Infinity;
  return Math.floor((limit - fixed) / perUnit);
}

function refusal(quantity: Quantity, message: string): Error {
  return quantity.userChosen === false ? new StaqGpuError(message) : new StaqInputError(message);
}

/**
 * Throws unless every buffer of `budget` fits the device's limits at `quantity.value` and, where
 * `info.hostMemory` is known, the host memory it needs (host arrays, and the buffers themselves on
 * a fallback adapter, whose buffers are host memory) fits HOST_MEMORY_SHARE of it. The message
 * says the largest value of the quantity that fits.
 */
export function checkBudget(info: Pick<GpuInfo, "limits" | "hostMemory" | "fallbackAdapter">, quantity: Quantity, budget: Budget): void {
  const { name, value } = quantity;
  const asked = `${name} = ${value}${quantity.source ? ` (${quantity.source})` : ""}`;
  // Only a refusal needs the largest value that fits: most calls (stackLogits, every call) pass.
  const largestText = (whenNone: string) => {
    const largest = largestValue(info, budget).value;
    return largest >= 1 ? `${name} can be at most ${largest} on this machine` : `not even ${name} = 1 fits${whenNone}`;
  };
  for (const need of budget.buffers) {
    const limit = bufferLimit(info.limits, need.binding);
    const bytes = (need.fixedBytes ?? 0) + value * need.bytesPerUnit;
    if (bytes <= limit.bytes) continue;
    throw refusal(
      quantity,
      `${asked} needs ${need.what} of ${formatBytes(bytes)}, more than this device's ${limit.name} of ${formatBytes(limit.bytes)}; ${largestText("; use a smaller network")}`,
    );
  }
  const host = hostBytes(info, budget, value);
  if (host !== undefined && host.bytes > host.budget) {
    throw refusal(
      quantity,
      `${asked} needs about ${formatBytes(host.bytes)} of memory (${host.parts}), more than ${HOST_MEMORY_SHARE * 100}% of this machine's ${formatBytes(info.hostMemory!)}; ${largestText("")}`,
    );
  }
}

/** The largest value of the quantity `budget` allows on this device and host. */
export function largestValue(info: Pick<GpuInfo, "limits" | "hostMemory" | "fallbackAdapter">, budget: Budget): { value: number } {
  let value = Infinity;
  for (const need of budget.buffers) {
    value = Math.min(value, largestFitting(bufferLimit(info.limits, need.binding).bytes, need.bytesPerUnit, need.fixedBytes ?? 0));
  }
  const perUnit = hostPerUnit(info, budget);
  if (info.hostMemory !== null && perUnit.bytes > 0) {
    value = Math.min(value, largestFitting(info.hostMemory * HOST_MEMORY_SHARE, perUnit.bytes, perUnit.fixed));
  }
  return { value };
}

/** Host bytes per unit (and fixed): the JavaScript arrays, plus the buffers on a fallback adapter. */
function hostPerUnit(info: Pick<GpuInfo, "fallbackAdapter">, budget: Budget): { bytes: number; fixed: number } {
  let bytes = budget.hostBytesPerUnit ?? 0;
  let fixed = 0;
  if (info.fallbackAdapter) {
    for (const need of budget.buffers) {
      bytes += need.bytesPerUnit * (need.count ?? 1);
      fixed += (need.fixedBytes ?? 0) * (need.count ?? 1);
    }
  }
  return { bytes, fixed };
}

function hostBytes(
  info: Pick<GpuInfo, "hostMemory" | "fallbackAdapter">,
  budget: Budget,
  value: number,
): { bytes: number; budget: number; parts: string } | undefined {
  if (info.hostMemory === null) return undefined;
  const parts: string[] = [];
  let bytes = 0;
  if (budget.hostBytesPerUnit) {
    bytes += value * budget.hostBytesPerUnit;
    parts.push(`${formatBytes(value * budget.hostBytesPerUnit)} of arrays in JavaScript`);
  }
  if (info.fallbackAdapter) {
    const device = budget.buffers.reduce((sum, need) => sum + ((need.fixedBytes ?? 0) + value * need.bytesPerUnit) * (need.count ?? 1), 0);
    bytes += device;
    parts.push(`${formatBytes(device)} of GPU buffers, which a fallback adapter keeps in host memory`);
  }
  return { bytes, budget: info.hostMemory * HOST_MEMORY_SHARE, parts: parts.join(" and ") };
}
