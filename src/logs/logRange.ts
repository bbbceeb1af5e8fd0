/**
 * Parses one line-aligned byte range of a run log (it starts at a line's first byte and ends after
 * a newline, or at the end of the file) into packed columns. The same function serves the worker
 * threads and the main thread, so a range reads the same wherever it is parsed.
 */
import { isAscii } from 'node:buffer';
import { readSync } from 'node:fs';
import { ColumnsBuilder, MessageColumns } from './messageColumns';
import { parseLogLine } from './reader';

const NEWLINE = 0x0a;

export interface ParsedRange {
  /** Lines in the range, blank ones and a final line without a newline included. */
  lines: number;
  columns: MessageColumns;
}

/** `endsFile`: the range is the file's last, so a final line without a newline is its tail. */
export function parseLogRange(bytes: Uint8Array, endsFile: boolean): ParsedRange {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Logs are nearly always ASCII, and decoding that as Latin-1 skips UTF-8's validation: the same text, sooner.
  const text = buffer.toString(isAscii(buffer) ? 'latin1' : 'utf8');
  const columns = new ColumnsBuilder(lineCount(buffer));
  let lines = 0;
  let start = 0;
  while (start < text.length) {
    let nl = text.indexOf('\n', start);
    const isTail = nl === -1;
    if (isTail) nl = text.length;
    const line = ++lines;
    const result = parseLogLine(text.slice(start, nl));
    start = nl + 1;
    if (result === undefined) continue;
    if ('ok' in result) columns.add({ line, message: result.ok });
    else columns.add({ line, error: result.error, torn: result.torn, tail: isTail && endsFile });
  }
  return { lines, columns: columns.finish() };
}

/** Lines in the bytes, a last one without a newline included. */
function lineCount(bytes: Buffer): number {
  let n = 0;
  let at = 0;
  for (let nl = bytes.indexOf(NEWLINE); nl !== -1; nl = bytes.indexOf(NEWLINE, at)) {
    n++;
    at = nl + 1;
  }
  return at < bytes.length ? n + 1 : n;
}

/** A range for a worker: the file descriptor is the main thread's (descriptors are shared by a process's threads). */
export interface RangeTask {
  index: number;
  fd: number;
  start: number;
  end: number;
  endsFile: boolean;
}

export function readRange(task: RangeTask): Buffer {
  const bytes = Buffer.allocUnsafe(task.end - task.start);
  let got = 0;
  while (got < bytes.length) {
    const n = readSync(task.fd, bytes, got, bytes.length - got, task.start + got);
    if (n === 0) break; // the file shrank under us: parse what is there
    got += n;
  }
  return bytes.subarray(0, got);
}
