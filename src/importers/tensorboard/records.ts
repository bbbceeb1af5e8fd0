/**
 * TFRecord framing of TensorBoard event files, read in chunks:
 * `uint64 LE length | uint32 LE masked_crc32c(length) | data | uint32 LE masked_crc32c(data)`.
 * A record whose data fails its CRC is skipped and reading goes on (its length was sound); a bad
 * length CRC or a record cut short ends reading, keeping everything before it.
 */
import { open } from 'node:fs/promises';
import { ProblemList } from '../../logs/problems';
import { TimeSlicer } from '../../logs/timeSlice';
import { maskedCrc32c } from './crc';

const HEADER_BYTES = 12;
const FOOTER_BYTES = 4;
const CHUNK_BYTES = 1 << 20;

export interface RecordReadOptions {
  onProgress?: (bytes: number) => void;
  signal?: AbortSignal;
}

/**
 * Calls onRecord with each sound record's data, as `bytes[start, end)` (valid only during the call:
 * no view is made per record), and the record's offset in the file.
 */
export async function readRecords(
  file: string,
  onRecord: (bytes: Uint8Array, start: number, end: number, offset: number) => void,
  problems: ProblemList,
  opts: RecordReadOptions = {},
): Promise<{ bytes: number; records: number }> {
  const handle = await open(file, 'r');
  try {
    const size = (await handle.stat()).size;
    let buf = Buffer.allocUnsafe(CHUNK_BYTES);
    // A plain view of the same bytes, for the CRC and the record callback.
    let bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
    let start = 0; // first unconsumed byte in buf
    let end = 0; // one past the last byte read into buf
    let bufOffset = 0; // file offset of buf[0]
    let eof = false;
    let records = 0;
    const slicer = new TimeSlicer(undefined, opts.signal);

    /** Makes at least n unconsumed bytes available unless the file ends first; returns whether it did. */
    const ensure = async (n: number): Promise<boolean> => {
      while (end - start < n && !eof) {
        if (start > 0) {
          buf.copyWithin(0, start, end);
          bufOffset += start;
          end -= start;
          start = 0;
        }
        if (buf.length < n) {
          const bigger = Buffer.allocUnsafe(Math.max(n, buf.length * 2));
          buf.copy(bigger, 0, 0, end);
          buf = bigger;
          bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
        }
        opts.signal?.throwIfAborted();
        const { bytesRead } = await handle.read(buf, end, buf.length - end, bufOffset + end);
        if (bytesRead === 0) eof = true;
        end += bytesRead;
        opts.onProgress?.(bufOffset + end);
      }
      return end - start >= n;
    };

    for (;;) {
      // Records already in the buffer are framed synchronously: awaiting per record cost more than the decoding.
      while (end - start >= HEADER_BYTES) {
        const length = buf.readUInt32LE(start) + buf.readUInt32LE(start + 4) * 2 ** 32;
        const total = HEADER_BYTES + length + FOOTER_BYTES;
        if (end - start < total) break;
        const offset = bufOffset + start;
        if (maskedCrc32c(bytes, start, start + 8) !== buf.readUInt32LE(start + 8)) break; // reported below
        const dataEnd = start + HEADER_BYTES + length;
        if (maskedCrc32c(bytes, start + HEADER_BYTES, dataEnd) !== buf.readUInt32LE(dataEnd)) {
          problems.add({ offset, message: 'record data CRC mismatch; the record was skipped' });
        } else {
          records++;
          onRecord(bytes, start + HEADER_BYTES, dataEnd, offset);
        }
        start += total;
        if (slicer.due()) await slicer.yieldTurn();
      }
      const offset = bufOffset + start;
      if (!(await ensure(HEADER_BYTES))) {
        if (end > start)
          problems.add({
            offset,
            message: `truncated record header: the file ends ${end - start} bytes into it (a write cut short?)`,
            fatal: true,
          });
        break;
      }
      if (maskedCrc32c(bytes, start, start + 8) !== buf.readUInt32LE(start + 8)) {
        problems.add({
          offset,
          message: 'corrupt record header (length CRC mismatch); nothing after it can be read',
          fatal: true,
        });
        break;
      }
      const length = buf.readUInt32LE(start) + buf.readUInt32LE(start + 4) * 2 ** 32;
      const total = HEADER_BYTES + length + FOOTER_BYTES;
      if (offset + total > size || !(await ensure(total))) {
        problems.add({
          offset,
          message: `truncated record: it needs ${length} data bytes but the file ends ${Math.max(0, size - offset - HEADER_BYTES)} bytes after its header (a write cut short?)`,
          fatal: true,
        });
        break;
      }
      // The whole record is buffered now: the loop above frames it.
    }
    return { bytes: bufOffset + end, records };
  } finally {
    await handle.close();
  }
}
