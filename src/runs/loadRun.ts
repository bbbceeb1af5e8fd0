/**
 * Loads a log of any supported format into a Run (the same object live runs use): the file is never
 * held whole (large run logs are parsed by worker threads, see readLog), progress is reported as it
 * goes, and a first partial Run is handed out as soon as the first chunk is in, so a chart can be
 * drawn long before a large log is read. Work happens in slices between event-loop turns, so the
 * extension host stays responsive.
 *
 * Besides the Run's bounded series it keeps every total norm of the primary rank (8 bytes a step),
 * so statistics and the suggested max_norm are exact, not computed from a downsampled chart.
 */
import { stat } from 'node:fs/promises';
import { AlertSettings, DEFAULT_ALERT_SETTINGS } from '../alerts/rules';
import { readLog } from '../importers/readLog';
import { WorkerOptions } from '../logs/parallelReader';
import { LogReadResult } from '../importers/types';
import { ClientMessage, StepMessage } from '../protocol/messages';
import { Run } from './runStore';
import { DEFAULT_SERIES_LIMITS, SeriesLimits } from './series';

export interface LoadProgress {
  bytes: number;
  totalBytes: number;
  /** Steps loaded so far. */
  steps: number;
  /** The run as loaded so far (the same object throughout, complete once the load resolves). */
  run: Run | undefined;
}

export interface LoadOptions {
  alerts?: AlertSettings;
  series?: SeriesLimits;
  /** Called once the first chunk is loaded, then at most every progressIntervalMs. */
  onProgress?: (p: LoadProgress) => void;
  progressIntervalMs?: number;
  maxProblems?: number;
  signal?: AbortSignal;
  /** How a large log is parsed by worker threads (see readLog). */
  parallel?: WorkerOptions;
}

/** Facts over every step of the primary rank, beyond what the bounded series keeps. */
export interface StepTally {
  firstStep: number;
  /** Largest finite total norm and its step (-1 when there was none). */
  maxTotal: number;
  maxTotalStep: number;
  /** Steps that said whether they were clipped, and how many were. */
  clipKnown: number;
  clipped: number;
  /** Earliest and latest step `time` (seconds since the epoch), NaN when steps carry none. */
  firstTime: number;
  lastTime: number;
}

export interface LoadedRun {
  file: string;
  /** The file's run (the first run id in it); undefined when it held none. */
  run: Run | undefined;
  read: LogReadResult;
  /** Other run ids met in the same file (a log normally holds one run); their messages are left out. */
  otherRunIds: string[];
  /** Every measured total norm of the primary rank, in file order (steps without a norm left out). */
  totals: Float64Array;
  tally: StepTally;
}

export async function loadRun(file: string, opts: LoadOptions = {}): Promise<LoadedRun> {
  const { size: totalBytes } = await stat(file);
  const alerts = opts.alerts ?? DEFAULT_ALERT_SETTINGS;
  const series = opts.series ?? DEFAULT_SERIES_LIMITS;
  const interval = opts.progressIntervalMs ?? 100;
  const others = new Set<string>();
  const totals = new GrowableFloat64Array();
  const tally: StepTally = {
    firstStep: Infinity,
    maxTotal: -Infinity,
    maxTotalStep: -1,
    clipKnown: 0,
    clipped: 0,
    firstTime: NaN,
    lastTime: NaN,
  };
  let run: Run | undefined;
  let lastReport = -Infinity;

  const onStep = (r: Run, m: StepMessage): void => {
    if (r.step(m) === undefined || (m.rank ?? 0) !== r.primaryRank) return;
    if (m.step < tally.firstStep) tally.firstStep = m.step;
    const total = m.total_norm;
    if (total !== undefined) totals.push(total);
    if (total !== undefined && Number.isFinite(total) && total > tally.maxTotal) {
      tally.maxTotal = total;
      tally.maxTotalStep = m.step;
    }
    if (m.clipped !== undefined) {
      tally.clipKnown++;
      if (m.clipped) tally.clipped++;
    }
    if (m.time !== undefined && Number.isFinite(m.time)) {
      if (!(m.time >= tally.firstTime)) tally.firstTime = m.time;
      if (!(m.time <= tally.lastTime)) tally.lastTime = m.time;
    }
  };
  const onMessage = (m: ClientMessage): void => {
    run ??= new Run(m.run_id, alerts, series, Date.now());
    if (m.run_id !== run.id) {
      others.add(m.run_id);
      return;
    }
    if (m.type === 'step') onStep(run, m);
    else run.apply(m);
  };
  let reserved = false;
  const report = (bytes: number): void => {
    if (!reserved && bytes > 0 && totals.length > 0) {
      // Sized from the first chunk's steps per byte: growing by doubling copies the array each
      // time, and at 10^7 steps one copy (64 MB) held the event loop for about 40 ms.
      totals.reserve(Math.ceil(((totals.length * totalBytes) / bytes) * 1.1));
      reserved = true;
    }
    const now = performance.now();
    if (!opts.onProgress || now - lastReport < interval) return;
    lastReport = now;
    opts.onProgress({ bytes, totalBytes, steps: run?.stepCount ?? 0, run });
  };

  const read = await readLog(file, onMessage, {
    onProgress: report,
    signal: opts.signal,
    maxProblems: opts.maxProblems,
    parallel: opts.parallel,
  });
  if (run && Number.isFinite(tally.firstTime)) {
    // A recorded run's clock is its steps' clock, not the time it was opened.
    run.startedAt = tally.firstTime * 1000;
    run.updatedAt = tally.lastTime * 1000;
  }
  opts.onProgress?.({ bytes: read.bytes, totalBytes, steps: run?.stepCount ?? 0, run });
  return { file, run, read, otherRunIds: [...others], totals: totals.values(), tally };
}

/** Appends into a Float64Array that doubles when full. */
class GrowableFloat64Array {
  private data = new Float64Array(1024);
  private size = 0;

  get length(): number {
    return this.size;
  }

  /** Makes room for n values in all, in one allocation (untouched pages cost no memory until written). */
  reserve(n: number): void {
    if (n <= this.data.length) return;
    const bigger = new Float64Array(n);
    bigger.set(this.data.subarray(0, this.size));
    this.data = bigger;
  }

  push(v: number): void {
    if (this.size === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.size++] = v;
  }

  values(): Float64Array {
    return this.data.subarray(0, this.size);
  }
}
