/**
 * Reads a large run log with worker threads: the file is cut into line-aligned byte ranges, workers
 * parse and validate ranges side by side (JSON.parse of every line is most of a load's cost, and it
 * parallelises), and the main thread hands the messages on in file order, in time slices. The first
 * range is small and parsed on the main thread while the workers start, so a first chart comes as
 * soon as with the streaming reader. A worker that fails leaves its ranges to the main thread:
 * nothing is lost, it is only slower.
 */
import { FileHandle, open } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ClientMessage } from '../protocol/messages';
import { ParsedRange, RangeTask, parseLogRange, readRange } from './logRange';
import { MessageColumns, stepAt } from './messageColumns';
import { ReadOptions, ReadSummary } from './reader';
import { TimeSlicer } from './timeSlice';
import { bundledWorkerScript, startWorker } from './workerThreads';

/** Below this a log is read by the streaming reader: starting workers would cost more than they save. */
export const PARALLEL_MIN_BYTES = 16 << 20;
/** The main thread's own first range: small, for a quick first chart. */
const FIRST_RANGE_BYTES = 256 << 10;
const RANGE_BYTES = 4 << 20;
/** Ranges parsed ahead of the one being handed on, per worker: bounds memory, keeps workers busy. */
const AHEAD_PER_WORKER = 2;
const NEWLINE = 0x0a;
/**
 * A worker's heap holds one range's text and its garbage, far less than V8's defaults (sized for
 * the machine) allow. A worker that runs out (a line of tens of MB) fails, and its ranges are
 * parsed on the main thread.
 */
const WORKER_HEAP = { maxYoungGenerationSizeMb: 16, maxOldGenerationSizeMb: 128 };

export interface WorkerOptions {
  /** Worker threads; default: one per CPU, at most 8. */
  workers?: number;
  /** The worker's script; default: the bundled logParseWorker next to this module (src/ or dist/). */
  workerScript?: string;
}

export interface ParallelReadOptions extends ReadOptions, WorkerOptions {
  /** Sizes of the main thread's first range and of the workers' ranges (tests cut small files into many). */
  firstRangeBytes?: number;
  rangeBytes?: number;
}

export interface ParallelReadSummary extends ReadSummary {
  ranges: number;
  /** Ranges that worker threads parsed (the rest: the first one, and any of a failed worker). */
  rangesInWorkers: number;
}

/** A parsed range, and whether a worker parsed it. */
type RangeResult = ParsedRange & { inWorker?: boolean };

export function defaultWorkerCount(): number {
  return Math.min(8, availableParallelism());
}

export async function readRunLogParallel(
  file: string,
  onMessage: (m: ClientMessage, line: number) => void,
  opts: ParallelReadOptions = {},
): Promise<ParallelReadSummary> {
  opts.signal?.throwIfAborted();
  const maxErrors = opts.maxErrors ?? 100;
  const summary: ParallelReadSummary = {
    lines: 0,
    messages: 0,
    errors: [],
    tornTail: false,
    bytes: 0,
    ranges: 0,
    rangesInWorkers: 0,
  };
  const handle = await open(file, 'r');
  // Started once the first range is handed on: starting threads first made the first chart wait.
  let pool: ParsePool | undefined;
  try {
    const size = (await handle.stat()).size;
    const planner = new RangePlanner(
      handle,
      size,
      opts.firstRangeBytes ?? FIRST_RANGE_BYTES,
      opts.rangeBytes ?? RANGE_BYTES,
    );
    // Ranges dispatched and not yet handed on, by index; a handed-on range is dropped at once, so
    // memory holds a few ranges whatever the file's size.
    const parsing = new Map<number, Promise<RangeResult>>();
    let dispatched = 0;
    let applied = 0;
    const dispatch = async (): Promise<void> => {
      if (dispatched === 0) {
        const first = await planner.next(0);
        parsing.set(0, Promise.resolve(parseLocally(first!)));
        dispatched++;
        return;
      }
      while (!pool || parsing.size <= pool.size * AHEAD_PER_WORKER) {
        const task = await planner.next(dispatched);
        if (!task) return;
        pool ??= new ParsePool(
          opts.workers ?? defaultWorkerCount(),
          opts.workerScript ?? bundledWorkerScript('logParseWorker'),
        );
        parsing.set(task.index, pool.parse(task));
        dispatched++;
      }
    };
    const slicer = new TimeSlicer(undefined, opts.signal);
    for (await dispatch(); applied < dispatched; applied++, await dispatch()) {
      const range = await parsing.get(applied)!;
      parsing.delete(applied);
      const lineBase = summary.lines;
      await handOn(
        range.columns,
        lineBase,
        slicer,
        (m, line) => {
          summary.messages++;
          onMessage(m, line);
        },
        (line, error, torn, tail) => {
          if (tail && torn) summary.tornTail = true;
          else if (summary.errors.length < maxErrors) summary.errors.push({ line, message: error });
        },
      );
      summary.lines += range.lines;
      summary.ranges++;
      if (range.inWorker) summary.rangesInWorkers++;
      summary.bytes = planner.endOf(applied);
      opts.onProgress?.(summary.bytes);
      opts.signal?.throwIfAborted();
    }
    return summary;
  } finally {
    await pool?.close();
    await handle.close();
  }
}

function parseLocally(task: RangeTask): RangeResult {
  return parseLogRange(readRange(task), task.endsFile);
}

/** Hands a range's messages and bad lines on in their file order, yielding the event loop now and then. */
async function handOn(
  c: MessageColumns,
  lineBase: number,
  slicer: TimeSlicer,
  onMessage: (m: ClientMessage, line: number) => void,
  onError: (line: number, error: string, torn: boolean, tail: boolean) => void,
): Promise<void> {
  let x = 0;
  const extrasBefore = (row: number): void => {
    for (; x < c.extras.length && c.extras[x].before <= row; x++) {
      const e = c.extras[x];
      if (e.message) onMessage(e.message, lineBase + e.line);
      else onError(lineBase + e.line, e.error!, e.torn === true, e.tail === true);
    }
  };
  for (let r = 0; r < c.rows; r++) {
    extrasBefore(r);
    onMessage(stepAt(c, r), lineBase + c.line[r]);
    if (slicer.due()) await slicer.yieldTurn();
  }
  extrasBefore(c.rows);
}

/** Cuts the file into ranges that start at a line's first byte, one after the other as asked. */
class RangePlanner {
  private readonly ends: number[] = [];
  private readonly probe = Buffer.alloc(64 * 1024);

  constructor(
    private readonly handle: FileHandle,
    private readonly size: number,
    private readonly firstRangeBytes: number,
    private readonly rangeBytes: number,
  ) {}

  endOf(index: number): number {
    return this.ends[index];
  }

  async next(index: number): Promise<RangeTask | undefined> {
    const start = index === 0 ? 0 : this.ends[index - 1];
    if (start >= this.size && !(index === 0 && this.size === 0)) return undefined;
    const end = await this.lineStartAtOrAfter(start + (index === 0 ? this.firstRangeBytes : this.rangeBytes));
    this.ends[index] = end;
    return { index, fd: this.handle.fd, start, end, endsFile: end >= this.size };
  }

  private async lineStartAtOrAfter(at: number): Promise<number> {
    for (let from = at - 1; from < this.size; from += this.probe.length) {
      const { bytesRead } = await this.handle.read(this.probe, 0, this.probe.length, from);
      const nl = this.probe.subarray(0, bytesRead).indexOf(NEWLINE);
      if (nl >= 0) return from + nl + 1;
      if (bytesRead === 0) break;
    }
    return this.size;
  }
}

/** A range a worker was given, and how to hand its result over. */
type PendingRange = { task: RangeTask; resolve: (r: RangeResult) => void };

/** Worker threads that parse ranges; with none available (or all failed) ranges parse on the main thread. */
class ParsePool {
  /** Each worker with the ranges it was given and has not answered yet. */
  private readonly workers: { worker: Worker; tasks: Map<number, PendingRange> }[] = [];
  private next = 0;

  constructor(count: number, script: string | undefined) {
    if (!script) return;
    for (let i = 0; i < count; i++) {
      let worker: Worker;
      try {
        worker = startWorker(script, WORKER_HEAP);
      } catch {
        break;
      }
      const entry = { worker, tasks: new Map<number, PendingRange>() };
      const { tasks } = entry;
      worker.on(
        'message',
        (reply: { index: number; lines: number; columns: MessageColumns } | { index: number; failure: string }) => {
          const t = tasks.get(reply.index);
          if (!t) return;
          tasks.delete(reply.index);
          t.resolve(
            'failure' in reply ? parseLocally(t.task) : { lines: reply.lines, columns: reply.columns, inWorker: true },
          );
        },
      );
      const retire = (): void => {
        const at = this.workers.indexOf(entry);
        if (at >= 0) this.workers.splice(at, 1);
        for (const t of tasks.values()) t.resolve(parseLocally(t.task));
        tasks.clear();
      };
      worker.on('error', retire);
      worker.on('exit', retire);
      this.workers.push(entry);
    }
  }

  get size(): number {
    return Math.max(1, this.workers.length);
  }

  parse(task: RangeTask): Promise<RangeResult> {
    if (this.workers.length === 0) return Promise.resolve(parseLocally(task));
    const { worker, tasks } = this.workers[this.next++ % this.workers.length];
    return new Promise((resolve) => {
      tasks.set(task.index, { task, resolve });
      worker.postMessage(task);
    });
  }

  async close(): Promise<void> {
    const all = this.workers.splice(0).map((e) => e.worker);
    for (const w of all) w.removeAllListeners('exit');
    await Promise.all(all.map((w) => w.terminate()));
  }
}
