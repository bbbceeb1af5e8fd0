/**
 * TensorFlow's masked CRC32C (Castagnoli) of record framing: the CRC rotated right by 15 plus a
 * constant. Slicing-by-16 over a byte range, so framing checks a record where it lies without a
 * view per record: twice as fast as crc-32's `crc32c.buf` on a subarray for event files' 8-byte
 * headers and ~40-byte events (BENCHMARKS.md, Importers).
 */
const POLY = 0x82f63b78; // CRC32C, reflected
const MASK_DELTA = 0xa282ead8;

/** TABLE[k * 256 + b]: the CRC of byte b followed by k zero bytes. */
const TABLE = (() => {
  const t = new Int32Array(16 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[n] = c;
  }
  for (let k = 1; k < 16; k++)
    for (let n = 0; n < 256; n++) {
      const prev = t[(k - 1) * 256 + n];
      t[k * 256 + n] = (prev >>> 8) ^ t[prev & 255];
    }
  return t;
})();

export function crc32c(b: Uint8Array, start = 0, end = b.length): number {
  const t = TABLE;
  let c = -1;
  let i = start;
  for (; i + 16 <= end; i += 16)
    c =
      t[3840 + ((b[i] ^ c) & 255)] ^
      t[3584 + ((b[i + 1] ^ (c >>> 8)) & 255)] ^
      t[3328 + ((b[i + 2] ^ (c >>> 16)) & 255)] ^
      t[3072 + (b[i + 3] ^ (c >>> 24))] ^
      t[2816 + b[i + 4]] ^
      t[2560 + b[i + 5]] ^
      t[2304 + b[i + 6]] ^
      t[2048 + b[i + 7]] ^
      t[1792 + b[i + 8]] ^
      t[1536 + b[i + 9]] ^
      t[1280 + b[i + 10]] ^
      t[1024 + b[i + 11]] ^
      t[768 + b[i + 12]] ^
      t[512 + b[i + 13]] ^
      t[256 + b[i + 14]] ^
      t[b[i + 15]];
  for (; i < end; i++) c = (c >>> 8) ^ t[(c ^ b[i]) & 255];
  return ~c >>> 0;
}

export function maskedCrc32c(b: Uint8Array, start = 0, end = b.length): number {
  const crc = crc32c(b, start, end);
  return (((crc >>> 15) | (crc << 17)) + MASK_DELTA) >>> 0;
}
