/**
 * Follows a run log that is still being appended to (a run writing its own log, a log on a shared
 * folder, the endpoint of another window): each poll reads what was added since the last one and
 * hands over the messages of complete lines only, so a line caught half-written is read whole on
 * the next poll, never twice and never torn.
 */
import { open, stat } from 'node:fs/promises';
import { ClientMessage } from '../protocol/messages';
import { LogLineError, parseLogLine } from './reader';

/** Bytes read per poll at most, so one poll never holds the event loop long. */
const MAX_POLL_BYTES = 4 << 20;
const NEWLINE = 0x0a;

export interface FollowResult {
  messages: number;
  errors: LogLineError[];
  /** The file got shorter than what was read: it was truncated or replaced, and following stopped. */
  replaced: boolean;
}

export class LogFollower {
  private offset: number;
  private line: number;
  private stopped = false;

  /** `offset`: bytes already read, ending at a line boundary; `lines`: complete lines before it. */
  constructor(
    readonly file: string,
    offset: number,
    lines: number,
  ) {
    this.offset = offset;
    this.line = lines;
  }

  /** A follower starting after the last complete line of the file's first `size` bytes. */
  static async afterCompleteLines(file: string, size: number, lines: number): Promise<LogFollower> {
    const handle = await open(file, 'r');
    try {
      // Walk back from the end to the last newline: everything after it is a partial line still being written.
      const chunk = Buffer.alloc(64 * 1024);
      for (let end = size; end > 0;) {
        const start = Math.max(0, end - chunk.length);
        const { bytesRead } = await handle.read(chunk, 0, end - start, start);
        const nl = chunk.subarray(0, bytesRead).lastIndexOf(NEWLINE);
        if (nl >= 0) return new LogFollower(file, start + nl + 1, size === start + nl + 1 ? lines : lines - 1);
        end = start;
      }
      return new LogFollower(file, 0, 0);
    } finally {
      await handle.close();
    }
  }

  get position(): number {
    return this.offset;
  }

  async poll(onMessage: (m: ClientMessage, line: number) => void): Promise<FollowResult> {
    const result: FollowResult = { messages: 0, errors: [], replaced: false };
    if (this.stopped) return result;
    const { size } = await stat(this.file);
    if (size < this.offset) {
      this.stopped = true;
      result.replaced = true;
      return result;
    }
    if (size === this.offset) return result;
    const handle = await open(this.file, 'r');
    let buffer: Buffer;
    try {
      buffer = Buffer.alloc(Math.min(size - this.offset, MAX_POLL_BYTES));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, this.offset);
      buffer = buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
    const complete = buffer.lastIndexOf(NEWLINE) + 1;
    if (complete === 0) return result; // only part of a line so far
    for (const text of buffer
      .subarray(0, complete - 1)
      .toString('utf8')
      .split('\n')) {
      const lineNo = ++this.line;
      const parsed = parseLogLine(text);
      if (parsed === undefined) continue;
      if ('error' in parsed) result.errors.push({ line: lineNo, message: parsed.error });
      else {
        result.messages++;
        onMessage(parsed.ok, lineNo);
      }
    }
    this.offset += complete;
    return result;
  }
}

/** How long a followed log may stay unchanged before its run counts as no longer running. */
export const FOLLOW_IDLE_MS = 15_000;
