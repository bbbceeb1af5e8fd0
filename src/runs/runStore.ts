/** In-memory state of every run seen: metadata, bounded series per rank, dedupe and alerts. */
import { Alert, AlertSettings, DEFAULT_ALERT_SETTINGS, RunAlerts } from '../alerts/rules';
import { ClientMessage, Framework, RunEndMessage, RunStartMessage, StepMessage } from '../protocol/messages';
import { DEFAULT_SERIES_LIMITS, Series, SeriesLimits } from './series';
import { StepSet } from './stepSet';
import { WindowBudget } from './windowBudget';
import type { RunState } from '../shared/kinds';

/** Alerts kept per run for markers and lists; counts stay exact beyond it. */
const MAX_KEPT_ALERTS = 10_000;
/** Ranks with their own series in one run (each costs memory; real jobs stream from far fewer). */
export const MAX_RANKS = 1024;
/** Merged run_start.meta as JSON; beyond it the newest meta replaces the merged one. */
const MAX_META_CHARS = 64 * 1024;

export class Run {
  readonly id: string;
  name: string;
  framework?: Framework;
  layers: string[] = [];
  meta: Record<string, unknown> = {};
  state: RunState = 'live';
  endMessage?: string;
  /** Wall-clock ms of the first and the latest message. */
  startedAt: number;
  updatedAt: number;
  lastStep = -1;
  /** The norm of the latest step that measured one (undefined while none did). */
  lastTotal: number | undefined;
  readonly alerts: Alert[] = [];
  alertCount = 0;
  readonly rules: RunAlerts;
  private readonly seriesByRank = new Map<number, Series>();
  private readonly seenByRank = new Map<number, StepSet>();
  private lowestRank = 0;
  private readonly seriesLimits: SeriesLimits;
  private readonly windowBudget: WindowBudget;

  constructor(
    id: string,
    alertSettings: AlertSettings,
    seriesLimits: SeriesLimits,
    now: number,
    windowBudget = new WindowBudget(),
  ) {
    this.id = id;
    this.name = id;
    this.rules = new RunAlerts(id, alertSettings);
    this.seriesLimits = seriesLimits;
    this.windowBudget = windowBudget;
    this.startedAt = now;
    this.updatedAt = now;
  }

  /** Distinct steps recorded on the primary rank. */
  get stepCount(): number {
    return this.seenByRank.get(this.primaryRank)?.size ?? 0;
  }

  /** The lowest rank that sent steps: the series charts and alerts follow. */
  get primaryRank(): number {
    return this.lowestRank;
  }

  get ranks(): number[] {
    return [...this.seenByRank.keys()].sort((a, b) => a - b);
  }

  series(rank = this.primaryRank): Series | undefined {
    return this.seriesByRank.get(rank);
  }

  get threshold(): number {
    return this.rules.activeThreshold;
  }

  start(m: RunStartMessage): void {
    if (m.name) this.name = m.name;
    if (m.framework) this.framework = m.framework;
    // Layer names are fixed by the first run_start that names them: a reconnecting rank resends the
    // same list, and changing the columns under recorded steps would mislabel them.
    if (m.layers && this.layers.length === 0) this.layers = m.layers;
    if (m.meta) {
      const merged = { ...this.meta, ...m.meta };
      this.meta = JSON.stringify(merged).length <= MAX_META_CHARS ? merged : m.meta;
    }
    this.rules.configure(m.threshold, this.layers, this.framework);
    if (this.state !== 'live' && this.state !== 'completed') this.state = 'live';
  }

  /** Records a step unless (step, rank) was seen; returns the alerts it raised, or undefined for a duplicate. */
  step(m: StepMessage): Alert[] | undefined {
    const rank = m.rank ?? 0;
    let seen = this.seenByRank.get(rank);
    if (!seen) {
      if (this.seenByRank.size >= MAX_RANKS)
        throw new LimitError(`run ${this.id} already has ${MAX_RANKS} ranks; step from rank ${rank} refused`);
      seen = new StepSet();
      if (this.seenByRank.size === 0 || rank < this.lowestRank) this.lowestRank = rank;
      this.seenByRank.set(rank, seen);
    }
    if (!seen.add(m.step)) return undefined;
    let series = this.seriesByRank.get(rank);
    if (!series) {
      series = new Series(this.layers.length || m.layer_norms?.length || 0, this.seriesLimits);
      this.seriesByRank.set(rank, series);
      this.windowBudget.add(series);
    }
    series.append({
      step: m.step,
      total: m.total_norm,
      layers: m.layer_norms,
      loss: m.loss,
      lr: m.lr,
      clipped: m.clipped,
      skipped: m.skipped,
    });
    if (rank !== this.primaryRank) return [];
    if (m.step >= this.lastStep) {
      this.lastStep = m.step;
      if (m.total_norm !== undefined) this.lastTotal = m.total_norm;
    }
    // A step without a measured norm (a loss-only log) has nothing for the rules to judge.
    if (m.total_norm === undefined) return [];
    const alerts = this.rules.observe({
      step: m.step,
      total: m.total_norm,
      layers: m.layer_norms,
      skipped: m.skipped,
      skipReason: m.skip_reason,
      origin: m.nonfinite_origin,
    });
    for (const a of alerts) {
      this.alertCount++;
      if (this.alerts.length < MAX_KEPT_ALERTS) this.alerts.push(a);
    }
    return alerts;
  }

  end(m: RunEndMessage): void {
    this.state = m.status;
    this.endMessage = m.message;
  }

  /** Gives this run's share of the store's full-resolution budget back (the run is being dropped). */
  release(): void {
    for (const series of this.seriesByRank.values()) this.windowBudget.remove(series);
  }

  /** Applies a message read from a log that may hold other runs too (a followed log): theirs are left out. */
  applyOwn(m: ClientMessage): void {
    if (m.run_id === this.id) this.apply(m);
  }

  /** Applies any message of this run; for a step, what `step` returns. */
  apply(m: ClientMessage): Alert[] | undefined {
    if (m.type === 'run_start') this.start(m);
    else if (m.type === 'run_end') this.end(m);
    else return this.step(m);
    return [];
  }
}

export interface RunStoreOptions {
  alerts?: AlertSettings;
  series?: SeriesLimits;
  /** Runs kept in memory; the oldest finished runs are dropped first (their logs stay on disk). */
  maxRuns?: number;
  /** Per-layer values held at full resolution across all runs (windowBudget.ts). */
  windowBudget?: number;
  now?: () => number;
}

export class RunStore {
  private readonly runs = new Map<string, Run>();
  private alertSettings: AlertSettings;
  private readonly seriesLimits: SeriesLimits;
  private maxRuns: number;
  private readonly now: () => number;
  private readonly windowBudget: WindowBudget;

  constructor(opts: RunStoreOptions = {}) {
    this.alertSettings = opts.alerts ?? DEFAULT_ALERT_SETTINGS;
    this.seriesLimits = opts.series ?? DEFAULT_SERIES_LIMITS;
    this.maxRuns = opts.maxRuns ?? 256;
    this.now = opts.now ?? Date.now;
    this.windowBudget = new WindowBudget(opts.windowBudget);
  }

  get(id: string): Run | undefined {
    return this.runs.get(id);
  }

  has(id: string): boolean {
    return this.runs.has(id);
  }

  all(): Run[] {
    return [...this.runs.values()];
  }

  get size(): number {
    return this.runs.size;
  }

  /** Settings changed: every run (live or kept) judges its next steps by them, as new runs will. */
  reconfigure(alerts: AlertSettings, maxRuns: number): void {
    this.alertSettings = alerts;
    this.maxRuns = maxRuns;
    for (const run of this.runs.values()) run.rules.reconfigure(alerts);
  }

  /** The run for an id, created on first sight (a step may arrive before its run_start after a reconnect). */
  getOrCreate(id: string): Run {
    let run = this.runs.get(id);
    if (!run) {
      this.evictIfFull();
      run = new Run(id, this.alertSettings, this.seriesLimits, this.now(), this.windowBudget);
      this.runs.set(id, run);
    }
    run.updatedAt = this.now();
    return run;
  }

  delete(id: string): boolean {
    this.runs.get(id)?.release();
    return this.runs.delete(id);
  }

  private evictIfFull(): void {
    if (this.runs.size < this.maxRuns) return;
    let oldest: Run | undefined;
    for (const r of this.runs.values()) {
      if (r.state === 'live') continue;
      if (!oldest || r.updatedAt < oldest.updatedAt) oldest = r;
    }
    if (!oldest) throw new RunLimitError(this.maxRuns);
    this.delete(oldest.id);
  }
}

/** A message refused because it would exceed a memory limit; the endpoint answers `limit_exceeded`. */
export class LimitError extends Error {}

export class RunLimitError extends LimitError {
  constructor(readonly limit: number) {
    super(`too many live runs: at most ${limit} are kept in memory; end some runs first`);
  }
}
