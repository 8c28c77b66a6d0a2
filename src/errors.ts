/**
 * staq's errors. Every message says what was wrong and what to do about it.
 */

/** Base class, so callers can tell staq's errors from others with one `instanceof`. */
export class StaqError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Invalid arguments: wrong shapes, NaN, out-of-range options. */
export class StaqInputError extends StaqError {}

/** A file or buffer that does not follow the format it claims (safetensors, JSON inputs). */
export class StaqFormatError extends StaqError {}

/** WebGPU could not be used: no adapter, a lost device, a shader that failed to compile. */
export class StaqGpuError extends StaqError {}
