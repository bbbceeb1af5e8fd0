/**
 * Writes a run log on a worker thread while the main thread reads the source: formatting the lines
 * (JSON.stringify, mostly V8 turning doubles into text) costs about as much as reading them, so
 * doing it beside the reading nearly halves an import. Messages go over in batches of packed columns
 * (messageColumns.ts), at most a few batches ahead of the worker, so memory stays small whatever
 * the log's size. The bytes are the same as writing on one thread: a step travels as columns only
 * when they rebuild it exactly, anything else as it is. A worker that fails, or never starts,
 * leaves the rest to the main thread: nothing is lost, it is only slower.
 */
import { Worker } from 'node:worker_threads';
import { ClientMessage } from '../protocol/messages';
import { ChunkedText, FileAppender } from './chunkedText';
import { ColumnsBuilder, MessageColumns, packsExactly } from './messageColumns';
import { runLogLine, writeColumnLines } from './runLogText';
import type { WriterData, WriterReply, WriterRequest } from './runLogWriteWorker';
import { bundledWorkerScript, startWorker } from './workerThreads';
import { WriteProgress } from './writeProgress';

/**
 * Messages per batch: big enough that posting costs little, small enough to keep memory low and
 * to leave little for the worker to do once the reading is done.
 */
const BATCH_MESSAGES = 8192;
/**
 * Batches posted and not yet written that keep the worker busy: with this many waiting, the main
 * thread formats the next batch itself (the worker only writes its bytes) rather than wait idle.
 */
const BATCHES_IN_FLIGHT = 4;
/** At most this many batches unwritten, whoever formatted them: bounds memory (a batch is about 1 MB). */
const MAX_UNWRITTEN = 2 * BATCHES_IN_FLIGHT;
/** The worker's heap holds a few batches and their lines' garbage: far below V8's defaults. */
const WORKER_HEAP = { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 64 };
/** Waiting this long without a batch written, the worker is taken for stuck and the main thread writes on. */
const STALL_MS = 30_000;

export interface OffThreadWriterOptions {
  /** The worker's script; default: the bundled runLogWriteWorker next to this module (src/ or dist/). */
  workerScript?: string;
  stallMs?: number;
}

export class OffThreadLogWriter {
  private builder = new ColumnsBuilder(BATCH_MESSAGES);
  private batched = 0;
  /** Batches posted and not yet acknowledged, oldest first: the main thread writes them if the worker fails. */
  private unwritten: { columns: MessageColumns; builder: ColumnsBuilder }[] = [];
  /** Builders of written batches, packed into again: fresh arrays for every batch took tens of MB until collected. */
  private readonly spare: ColumnsBuilder[] = [];
  /** Lines formatted here while the worker is behind, each chunk copied out (a pooled Buffer cannot be transferred). */
  private readonly lineParts: Uint8Array[] = [];
  private readonly lineText = new ChunkedText((bytes) => this.lineParts.push(new Uint8Array(bytes)), true);
  private posted = 0;
  /** Set once the main thread has taken the writing over. */
  private local?: FileAppender;
  private readonly ended: Promise<void>;

  /** Starts the worker; undefined when it cannot start, and the caller writes on its own thread. */
  static async start(fd: number, opts: OffThreadWriterOptions = {}): Promise<OffThreadLogWriter | undefined> {
    const script = opts.workerScript ?? bundledWorkerScript('runLogWriteWorker');
    if (!script) return undefined;
    const progress = new WriteProgress();
    let worker: Worker;
    try {
      worker = startWorker(script, WORKER_HEAP, { fd, shared: progress.shared } satisfies WriterData);
    } catch {
      return undefined;
    }
    // Listeners are removed one by one: removeAllListeners would also drop the Worker's own, which relay messages.
    let settle: (ready: boolean) => void = () => undefined;
    const onMessage = (r: WriterReply): void => settle('ready' in r);
    const onFailure = (): void => settle(false);
    const ready = await new Promise<boolean>((resolve) => {
      settle = resolve;
      worker.on('message', onMessage).on('error', onFailure).on('exit', onFailure);
    });
    worker.off('message', onMessage).off('error', onFailure).off('exit', onFailure);
    if (!ready) {
      await worker.terminate();
      return undefined;
    }
    return new OffThreadLogWriter(worker, fd, progress, opts.stallMs ?? STALL_MS);
  }

  private constructor(
    private readonly worker: Worker,
    private readonly fd: number,
    private readonly progress: WriteProgress,
    private readonly stallMs: number,
  ) {
    // Settles when the worker has written everything posted before `end`, or can write no more.
    this.ended = new Promise((resolve) => {
      worker.on('message', (r: WriterReply) => {
        if ('done' in r || 'failure' in r) resolve();
      });
      worker.on('error', () => resolve());
      worker.on('exit', () => resolve());
    });
  }

  /** Whether the main thread had to take the writing over. */
  get tookOver(): boolean {
    return this.local !== undefined;
  }

  write(m: ClientMessage): void {
    if (this.local) return this.local.text.write(runLogLine(m));
    if (packsExactly(m)) this.builder.add({ line: 0, message: m });
    else this.builder.addAsIs(0, m);
    if (++this.batched === BATCH_MESSAGES) this.post();
  }

  /** Writes what is left; when it resolves, every line is in the file and the worker is gone. */
  async finish(): Promise<void> {
    if (!this.local) {
      if (this.batched > 0) this.post();
      if (!this.local) {
        this.worker.postMessage({ end: true } satisfies WriterRequest);
        await this.ended;
        if (this.progress.acknowledged < this.posted) this.takeOver();
      }
    }
    this.local?.text.flush();
    await this.close();
  }

  /** Stops the worker (also when reading failed); the file descriptor may be closed once this resolves. */
  async close(): Promise<void> {
    this.progress.stop();
    await this.worker.terminate();
  }

  private post(): void {
    const columns = this.builder.finish();
    this.unwritten.push({ columns, builder: this.builder });
    this.builder = this.spare.pop()?.reset() ?? new ColumnsBuilder(BATCH_MESSAGES);
    this.batched = 0;
    this.posted++;
    // Columns are copied, not transferred: kept until written, for this thread to write should the worker fail.
    if (this.posted - 1 - this.progress.acknowledged < BATCHES_IN_FLIGHT)
      this.worker.postMessage({ columns } satisfies WriterRequest);
    else {
      const lines = this.formatLines(columns);
      this.worker.postMessage({ lines } satisfies WriterRequest, [lines.buffer as ArrayBuffer]);
    }
    this.waitForRoom();
  }

  /** A batch's lines as one run of bytes in a buffer of its own (to transfer), encoded through one reused chunk. */
  private formatLines(columns: MessageColumns): Uint8Array {
    writeColumnLines(columns, this.lineText);
    this.lineText.flush();
    const parts = this.lineParts.splice(0);
    if (parts.length === 1) return parts[0];
    const lines = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const part of parts) {
      lines.set(part, at);
      at += part.length;
    }
    return lines;
  }

  /** Blocks until at most MAX_UNWRITTEN batches are unwritten; takes over if the worker fails or stalls. */
  private waitForRoom(): void {
    let seen = this.progress.acknowledged;
    let since = performance.now();
    for (;;) {
      for (const written of this.unwritten.splice(0, this.unwritten.length - (this.posted - seen)))
        this.spare.push(written.builder);
      if (this.posted - seen <= MAX_UNWRITTEN) return;
      if (this.progress.failed || performance.now() - since > this.stallMs) return this.takeOver();
      this.progress.waitWhile(seen, 100);
      const now = this.progress.acknowledged;
      if (now !== seen) {
        seen = now;
        since = performance.now();
      }
    }
  }

  /**
   * Writes the unwritten batches, and from now on every message, on this thread. Whatever the
   * worker still writes is the same bytes at the same places, so a late write changes nothing.
   */
  private takeOver(): void {
    this.progress.stop();
    const written = this.progress.acknowledged;
    const unwritten = this.unwritten.slice(this.unwritten.length - (this.posted - written));
    const local = new FileAppender(this.fd, this.progress.endOf(written));
    for (const { columns } of unwritten) writeColumnLines(columns, local.text);
    writeColumnLines(this.builder.finish(), local.text);
    this.unwritten = [];
    this.local = local;
  }
}
