/**
 * Runs async work one call at a time, in call order. A GPU resource reused by every call (the
 * stack's scratch buffers, an actor's buffers, a readback's staging buffer) must not be written by
 * one call while another still reads it, so its owner passes every call through one queue. A call
 * that fails does not stop the ones queued after it.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(work: () => Promise<T>): Promise<T> {
    const result = this.tail.then(work, work);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
