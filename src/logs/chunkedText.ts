/**
 * Text encoded as UTF-8 straight into fixed-size chunks, each handed on once full: joining many
 * small texts and encoding the result copied every byte twice, a tenth of an import's time.
 */
import { writeSync } from 'node:fs';

/** Text is encoded into chunks of this many bytes, each handed on once full. */
const CHUNK_BYTES = 1 << 20;

export class ChunkedText {
  private chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  private used = 0;

  /**
   * `onChunk` owns the bytes it is given, unless `synchronous`: then it is done with them when it
   * returns, and the same chunk is filled again (a fresh megabyte per chunk is garbage to collect).
   */
  constructor(
    private readonly onChunk: (bytes: Buffer) => void,
    private readonly synchronous = false,
  ) {}

  write(text: string): void {
    // A UTF-16 unit takes at most 3 bytes in UTF-8 (a surrogate pair, 2 units, takes 4).
    if (this.used + 3 * text.length > this.chunk.length) {
      this.flush();
      if (3 * text.length > this.chunk.length) {
        this.onChunk(Buffer.from(text));
        return;
      }
    }
    this.used += this.chunk.write(text, this.used);
  }

  /** Hands on what the current chunk holds. */
  flush(): void {
    if (this.used === 0) return;
    const bytes = this.chunk.subarray(0, this.used);
    if (!this.synchronous) this.chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    this.used = 0;
    this.onChunk(bytes);
  }
}

/** Text written synchronously into a file descriptor from a byte position on (a thread's share of a file). */
export class FileAppender {
  readonly text = new ChunkedText((bytes) => this.writeBytes(bytes), true);

  constructor(
    private readonly fd: number,
    public position: number,
  ) {}

  /** Bytes after the text written so far (flush that first). */
  writeBytes(bytes: Uint8Array): void {
    for (let at = 0; at < bytes.length;) at += writeSync(this.fd, bytes, at, bytes.length - at, this.position + at);
    this.position += bytes.length;
  }
}
