/**
 * Append-only NDJSON recorder, one file per run. Lines are buffered for one event-loop turn and
 * written with a single append per file, so many messages cost one system call. `flush()` resolves
 * once everything appended before it is written (the point at which the server acknowledges).
 *
 * Nothing acknowledged may go missing, so the recorder distrusts the disk:
 * - A failed write (disk full, folder unwritable) keeps the lines in memory, cuts any partial batch
 *   off the file, reports the error once and retries until it succeeds.
 * - A file left ending in a partial line (an endpoint killed mid-write) is cut back to its last
 *   complete line before anything is appended, so the next line is not glued onto the fragment.
 * - A log deleted or moved away while open is noticed before the next write and created anew,
 *   rather than writing into a file nobody can see.
 * - A log name that is a symbolic link (planted in a cloned repository, say) or not a regular file
 *   is refused: data received from the network never lands outside the log folder.
 * Idle files are closed beyond a cap, so an endpoint that sees thousands of runs keeps few open.
 */
import { constants as fsConstants, promises as fsp } from 'node:fs';
import type { LogLine } from '../protocol/frame';
import { logFilePath } from './paths';

const NEWLINE = 0x0a;

interface LogFile {
  runId: string;
  path: string;
  handle?: fsp.FileHandle;
  /** Identity of the open file, to notice it being deleted or replaced. */
  ino: number;
  pending: LogLine[];
  appended: number;
  written: number;
  writing: boolean;
  waiters: { target: number; resolve: () => void }[];
  /** Why writing fails, while it does. */
  failure?: Error;
  /** Bytes known to be in the file, so a half-written batch can be cut off before it is retried. */
  size: number;
}

export interface RecorderOptions {
  /** Called once when writing a run's log starts failing, and with `undefined` when it recovers. */
  onError?: (runId: string, error: Error | undefined) => void;
  retryMs?: number;
  /** Files kept open; idle ones beyond this are closed (and reopened when their run writes again). */
  maxOpenFiles?: number;
}

// O_NOFOLLOW makes open() fail on a symbolic link; Windows has no such flag (nor unprivileged symlinks).
const OPEN_FLAGS = fsConstants.O_RDWR | fsConstants.O_APPEND | fsConstants.O_CREAT | (fsConstants.O_NOFOLLOW ?? 0);

export class RunRecorder {
  readonly dir: string;
  /** In least-recently-written order (a write moves a file to the end). */
  private readonly files = new Map<string, LogFile>();
  private readonly opts: RecorderOptions;
  private dirReady?: Promise<void>;
  private scheduled = false;
  private closed = false;
  private readonly retries = new Set<NodeJS.Timeout>();

  constructor(dir: string, opts: RecorderOptions = {}) {
    this.dir = dir;
    this.opts = opts;
  }

  pathFor(runId: string): string {
    return logFilePath(this.dir, runId);
  }

  /** Queues one line (without its newline) for the run's log. */
  append(runId: string, line: LogLine): void {
    if (this.closed) throw new Error('recorder is closed');
    const f = this.file(runId);
    f.pending.push(line);
    f.appended++;
    this.schedule();
  }

  /** Resolves when every line appended so far (to the given runs, else to any run) is written. */
  flush(runIds?: Iterable<string>): Promise<void> {
    const waits: Promise<void>[] = [];
    const files = runIds ? [...runIds].map((id) => this.files.get(id)) : this.files.values();
    for (const f of files) {
      if (!f || f.written >= f.appended) continue;
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

  /** Why writing a run's log fails, while it does (its lines wait in memory). */
  failure(runId: string): Error | undefined {
    return this.files.get(runId)?.failure;
  }

  /** Files currently open (for limits and tests). */
  get openFiles(): number {
    let n = 0;
    for (const f of this.files.values()) if (f.handle) n++;
    return n;
  }

  /**
   * Writes what is pending and closes every file. While the disk refuses, waits at most
   * `deadlineMs` (an endpoint shutting down must not hang); resolves with the lines given up.
   */
  async close(deadlineMs = Infinity): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      if (Number.isFinite(deadlineMs)) timer = setTimeout(resolve, deadlineMs);
    });
    await Promise.race([this.flush(), deadline]);
    clearTimeout(timer);
    const lost = this.unwritten;
    this.closed = true;
    for (const t of this.retries) clearTimeout(t);
    for (const f of this.files.values()) await f.handle?.close().catch(() => undefined);
    this.files.clear();
    return lost;
  }

  private file(runId: string): LogFile {
    let f = this.files.get(runId);
    if (!f) {
      f = {
        runId,
        path: this.pathFor(runId),
        ino: -1,
        pending: [],
        appended: 0,
        written: 0,
        writing: false,
        waiters: [],
        size: -1,
      };
      this.files.set(runId, f);
    }
    return f;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.closed) return;
      for (const f of this.files.values()) if (!f.writing && f.pending.length > 0) void this.write(f);
    });
  }

  private async write(f: LogFile): Promise<void> {
    f.writing = true;
    const lines = f.pending;
    f.pending = [];
    try {
      await this.ensureOpen(f);
      const data = encodeLines(lines);
      await f.handle!.appendFile(data);
      f.size += data.length;
      f.written += lines.length;
      if (f.failure) {
        f.failure = undefined;
        this.opts.onError?.(f.runId, undefined);
      }
      f.waiters = f.waiters.filter((w) => (w.target <= f.written ? (w.resolve(), false) : true));
    } catch (e) {
      this.dirReady = undefined;
      // Through the handle, never the path: the path may by now name something else.
      await f.handle?.truncate(f.size).catch(() => undefined);
      await f.handle?.close().catch(() => undefined);
      f.handle = undefined;
      f.pending = lines.concat(f.pending); // keep order, lose nothing
      if (!f.failure) {
        f.failure = e as Error;
        this.opts.onError?.(f.runId, f.failure);
      }
      f.writing = false;
      const retry = setTimeout(() => {
        this.retries.delete(retry);
        this.schedule();
      }, this.opts.retryMs ?? 1000);
      this.retries.add(retry);
      return;
    }
    f.writing = false;
    this.files.delete(f.runId); // most recently written goes last
    this.files.set(f.runId, f);
    if (f.pending.length > 0) this.schedule();
    else await this.closeIdle();
  }

  /** Opens the log (again, if it was deleted or replaced since), repairing a torn last line. */
  private async ensureOpen(f: LogFile): Promise<void> {
    if (f.handle) {
      const current = await fsp.lstat(f.path).catch(() => undefined);
      if (current?.ino === f.ino) return;
      await f.handle.close().catch(() => undefined);
      f.handle = undefined;
      this.dirReady = undefined; // the folder may be gone too
    }
    this.dirReady ??= fsp.mkdir(this.dir, { recursive: true }).then(() => undefined);
    await this.dirReady;
    const handle = await fsp.open(f.path, OPEN_FLAGS, 0o600).catch((e: NodeJS.ErrnoException) => {
      throw e.code === 'ELOOP' ? new Error(`refusing to write ${f.path}: it is a symbolic link`) : e;
    });
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) throw new Error(`refusing to write ${f.path}: it is not a regular file`);
      f.size = await completeLinesSize(handle, stat.size);
      if (f.size < stat.size) await handle.truncate(f.size);
      f.ino = stat.ino;
      f.handle = handle;
    } catch (e) {
      await handle.close().catch(() => undefined);
      throw e;
    }
  }

  private async closeIdle(): Promise<void> {
    const max = this.opts.maxOpenFiles ?? 128;
    let open = this.openFiles;
    for (const f of this.files.values()) {
      if (open <= max) return;
      if (!f.handle || f.writing || f.pending.length > 0 || f.waiters.length > 0) continue;
      this.files.delete(f.runId); // nothing pending: a later append starts afresh
      open--;
      await f.handle.close().catch(() => undefined);
    }
  }
}

/** The lines, each followed by a newline, in one buffer: bytes are copied as they are, text encoded once. */
function encodeLines(lines: readonly LogLine[]): Buffer {
  let size = lines.length;
  for (const line of lines) size += typeof line === 'string' ? Buffer.byteLength(line) : line.length;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const line of lines) {
    if (typeof line === 'string') {
      at += out.write(line, at);
    } else {
      out.set(line, at);
      at += line.length;
    }
    out[at++] = NEWLINE;
  }
  return out;
}

/** Length of the file up to and including its last newline: a partial last line is a torn write. */
async function completeLinesSize(handle: fsp.FileHandle, size: number): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024);
  for (let end = size; end > 0;) {
    const start = Math.max(0, end - chunk.length);
    const { bytesRead } = await handle.read(chunk, 0, end - start, start);
    const nl = chunk.subarray(0, bytesRead).lastIndexOf(NEWLINE);
    if (nl >= 0) return start + nl + 1;
    end = start;
  }
  return 0;
}
