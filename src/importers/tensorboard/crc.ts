/** TensorFlow's masked CRC32C (Castagnoli) of record framing: the CRC rotated right by 15 plus a constant. */
import * as CRC32C from 'crc-32/crc32c';

const MASK_DELTA = 0xa282ead8;

export function maskedCrc32c(data: Uint8Array): number {
  const crc = CRC32C.buf(data) >>> 0;
  return (((crc >>> 15) | (crc << 17)) + MASK_DELTA) >>> 0;
}
