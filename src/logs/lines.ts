/**
 * Streams a text file line by line in 256 KiB chunks without holding the whole file, giving the
 * event loop a turn every few milliseconds. A final line without a newline is passed as the tail:
 * for append-only logs it is usually a write cut short. The callback returns false to stop.
 */
import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { TimeSlicer } from './timeSlice';

export interface LineReadOptions {
  /** Called after each chunk with the bytes read so far. */
  onProgress?: (bytes: number) => void;
  signal?: AbortSignal;
  /** Only the lines in these bytes: `start` must begin a line, `end` (exclusive) end one. */
  start?: number;
  end?: number;
  /** A line read before the file's (a table's header, for rows read from the middle). */
  firstLine?: string;
}

export interface LineReadResult {
  lines: number;
  bytes: number;
}

export async function readLines(
  file: string,
  onLine: (text: string, lineNo: number, isTail: boolean) => boolean | void,
  opts: LineReadOptions = {},
): Promise<LineReadResult> {
  const result: LineReadResult = { lines: 0, bytes: 0 };
  const decoder = new StringDecoder('utf8');
  let rest = '';
  const slicer = new TimeSlicer(undefined, opts.signal);
  if (opts.firstLine !== undefined && onLine(opts.firstLine, ++result.lines, false) === false) return result;
  if (opts.end !== undefined && opts.end <= (opts.start ?? 0)) return result;
  const stream = createReadStream(file, {
    highWaterMark: 1 << 18,
    signal: opts.signal,
    start: opts.start,
    end: opts.end === undefined ? undefined : opts.end - 1, // inclusive
  });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    result.bytes += chunk.length;
    const text = rest + decoder.write(chunk);
    let start = 0;
    for (let nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
      // Leaving the loop closes the stream.
      if (onLine(text.slice(start, nl), ++result.lines, false) === false) return result;
      start = nl + 1;
      if (slicer.due()) await slicer.yieldTurn();
    }
    rest = text.slice(start);
    opts.onProgress?.(result.bytes);
  }
  rest += decoder.end();
  if (rest.length > 0) onLine(rest, ++result.lines, true);
  return result;
}
