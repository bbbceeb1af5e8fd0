/**
 * Append-only NDJSON recorder, one file per run. Lines are buffered for one event-loop turn and
 * written with a single append per file, so many messages cost one system call. `flush()` resolves
 * once everything appended before it is on disk (the point at which the server acknowledges).
 * A failed write (disk full, folder unwritable) keeps the lines in memory, reports the error once
 * and retries until it succeeds, so a transient fault loses nothing.
 */
import { promises as fsp } from 'node:fs';
import { logFilePath } from './paths';

interface LogFile {
  path: string;
  handle?: fsp.FileHandle;
  pending: string[];
  appended: number;
  written: number;
  writing: boolean;
  waiters: { target: number; resolve: () => void }[];
  failing: boolean;
  /** Bytes known to be in the file, so a half-written batch can be cut off before it is retried. */
  size: number;
}

export interface RecorderOptions {
  /** Called once when writing a run's log starts failing, and with `undefined` when it recovers. */
  onError?: (runId: string, error: Error | undefined) => void;
  retryMs?: number;
}

export class RunRecorder {
  readonly dir: string;
  private readonly files = new Map<string, LogFile>();
  private readonly opts: RecorderOptions;
  private dirReady?: Promise<void>;
  private scheduled = false;
  private closed = false;

  constructor(dir: string, opts: RecorderOptions = {}) {
    this.dir = dir;
    this.opts = opts;
  }

  pathFor(runId: string): string {
    return logFilePath(this.dir, runId);
  }

  /** Queues one line (without its newline) for the run's log. */
  append(runId: string, line: string): void {
    if (this.closed) throw new Error('recorder is closed');
    const f = this.file(runId);
    f.pending.push(line);
    f.appended++;
    this.schedule();
  }

  /** Resolves when every line appended so far is written. */
  flush(): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const f of this.files.values()) {
      if (f.written >= f.appended) continue;
      const target = f.appended;
      waits.push(new Promise((resolve) => f.waiters.push({ target, resolve })));
    }
    this.schedule();
    return Promise.all(waits).then(() => undefined);
  }

  /** Lines not yet on disk, across all runs. */
  get unwritten(): number {
    let n = 0;
    for (const f of this.files.values()) n += f.appended - f.written;
    return n;
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    for (const f of this.files.values()) await f.handle?.close().catch(() => undefined);
    this.files.clear();
  }

  private file(runId: string): LogFile {
    let f = this.files.get(runId);
    if (!f) {
      f = { path: this.pathFor(runId), pending: [], appended: 0, written: 0, writing: false, waiters: [], failing: false, size: -1 };
      this.files.set(runId, f);
    }
    return f;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      for (const [runId, f] of this.files) if (!f.writing && f.pending.length > 0) void this.write(runId, f);
    });
  }

  private async write(runId: string, f: LogFile): Promise<void> {
    f.writing = true;
    const lines = f.pending;
    f.pending = [];
    try {
      this.dirReady ??= fsp.mkdir(this.dir, { recursive: true }).then(() => undefined);
      await this.dirReady;
      if (!f.handle) {
        f.handle = await fsp.open(f.path, 'a', 0o600);
        f.size = (await f.handle.stat()).size;
      }
      const text = lines.join('\n') + '\n';
      await f.handle.appendFile(text);
      f.size += Buffer.byteLength(text);
      f.written += lines.length;
      if (f.failing) {
        f.failing = false;
        this.opts.onError?.(runId, undefined);
      }
      f.waiters = f.waiters.filter((w) => (w.target <= f.written ? (w.resolve(), false) : true));
    } catch (e) {
      this.dirReady = undefined;
      await f.handle?.close().catch(() => undefined);
      f.handle = undefined;
      if (f.size >= 0) await fsp.truncate(f.path, f.size).catch(() => undefined);
      f.pending = lines.concat(f.pending); // keep order, lose nothing
      if (!f.failing) {
        f.failing = true;
        this.opts.onError?.(runId, e as Error);
      }
      f.writing = false;
      setTimeout(() => this.schedule(), this.opts.retryMs ?? 1000);
      return;
    }
    f.writing = false;
    if (f.pending.length > 0) this.schedule();
  }
}
