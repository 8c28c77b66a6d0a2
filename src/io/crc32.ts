/**
 * CRC-32 (IEEE 802.3, as zlib's crc32 and Python's zlib.crc32 compute it) of a byte array. A
 * checkpoint's state.json records its stack file's, so that two files from different checkpoints
 * are told apart even where their coefficients agree (seeds of one config, or a full ring at a
 * constant τ). It detects accidents, not tampering. Portable: no `node:` modules.
 */

/** The byte-wise table of the reflected polynomial 0xEDB88320. */
const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** The CRC-32 of `bytes`, an unsigned 32-bit integer. */
export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
