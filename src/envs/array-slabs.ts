/**
 * Fresh typed arrays carved one after another out of shared ArrayBuffers ("slabs"), for the arrays an
 * environment hands out on every step: observations, and a vector env's batched outputs.
 *
 * Why: every one of those arrays must be new (a caller may keep it; it is never written again), but
 * in V8 a typed array of more than 64 bytes created with `new` gets an ArrayBuffer of its own, an
 * off-heap allocation costing most of a microsecond: `new Float32Array(400)`, one Breakout
 * frame, took three times as long as the rest of the step. A view on a slab allocated in bulk costs
 * tens of nanoseconds. 256 KiB slabs measured fastest (Breakout, median of 10 processes: 3.4 M
 * steps/s, against 2.8 M with 120 KiB and 2.4 M with 64 KiB slabs). The memory still churns — each
 * garbage collection frees the slabs of dropped arrays, and glibc sometimes hands it back to the
 * system only to fault it in again (bench/envs.ts measures in several processes for that reason).
 *
 * What a caller may notice: an array's `.buffer` is the slab it shares with other arrays (use
 * `byteOffset` and `length`, or copy it, before transferring it to a worker), and an array kept alive
 * keeps its whole slab alive — copy (`slice()`) the few arrays you keep for long. A slab detached by
 * a transfer is simply replaced.
 */
export class ArraySlabs {
  private buffer = new ArrayBuffer(0);
  private offset = 0;

  constructor(private readonly slabBytes = 256 * 1024) {}

  /** A new zero-filled Float32Array of `length` values. */
  float32(length: number): Float32Array {
    const offset = this.claim(length * 4, 4); // first: it may replace the slab
    return new Float32Array(this.buffer, offset, length);
  }

  /** A new zero-filled Float64Array of `length` values. */
  float64(length: number): Float64Array {
    const offset = this.claim(length * 8, 8); // first: it may replace the slab
    return new Float64Array(this.buffer, offset, length);
  }

  /** A new zero-filled Int32Array of `length` values. */
  int32(length: number): Int32Array {
    const offset = this.claim(length * 4, 4); // first: it may replace the slab
    return new Int32Array(this.buffer, offset, length);
  }

  /** A new zero-filled Uint8Array of `length` values. */
  uint8(length: number): Uint8Array {
    const offset = this.claim(length, 1); // first: it may replace the slab
    return new Uint8Array(this.buffer, offset, length);
  }

  /** The byte offset of `bytes` unused bytes aligned to `alignment`, in the current slab or a new one. */
  private claim(bytes: number, alignment: number): number {
    let start = (this.offset + alignment - 1) & -alignment; // alignment is a power of two
    // A detached slab has byteLength 0, so it is replaced here like a full one.
    if (start + bytes > this.buffer.byteLength) {
      this.buffer = new ArrayBuffer(Math.max(this.slabBytes, bytes));
      start = 0;
    }
    this.offset = start + bytes;
    return start;
  }
}
