/**
 * The webview's copy of the shown run, in the shapes chart.js draws with `parsing: false`: finite
 * total norms as {x, y} sorted by step (drawn min/max decimated: every spike shows at any zoom),
 * non-finite steps apart as markers, loss and learning rate, alerts, summary.
 */
import { Decimator } from './decimation';
import { lowerBound } from './sortedSearch';
import {
  AlertMarker,
  AppendMessage,
  fromWire,
  NormSummary,
  RunHeader,
  SeriesRows,
  SnapshotMessage,
} from '../src/shared/webviewProtocol';

/** A drawn point; tooltips name its `step` (the layer chart draws a column's first step at the column's middle). */
export interface Point {
  x: number;
  y: number;
  step: number;
}

export interface AlertPoint {
  kind: AlertMarker['kind'];
  step: number;
  value: number;
  message: string;
  /** Where a non-finite step's NaN was born (AlertMarker.origin). */
  origin?: string;
}

export class RunData {
  header?: RunHeader;
  summary?: NormSummary;
  bucketWidth = 1;
  readonly norms: Point[] = [];
  /** Steps whose total norm is NaN or ±Infinity, sorted; y holds the value. */
  readonly nonFinite: Point[] = [];
  readonly losses: Point[] = [];
  readonly lrs: Point[] = [];
  readonly alerts: AlertPoint[] = [];
  /** Bumped by every change (charts redraw when it moves). */
  version = 0;
  /**
   * Bumped when rows change other than by arriving after the last step (a snapshot, a late
   * step): what is derived from the rows as they arrive (decimation, the maximum) starts over.
   */
  rewrites = 0;
  private readonly decimators = {
    norms: new Decimator<Point>(),
    losses: new Decimator<Point>(),
    lrs: new Decimator<Point>(),
  };
  /** The largest norm of the first `scanned` rows. */
  private max = { rewrites: -1, scanned: 0, point: undefined as Point | undefined };
  /** Smallest and largest step of the run (NaN while empty); buckets of old steps start before their extremes. */
  firstStep = NaN;
  lastStep = NaN;

  load(s: SnapshotMessage): void {
    this.version++;
    this.rewrites++;
    this.header = keepLayers(this.header, s.run);
    this.summary = s.summary;
    this.bucketWidth = s.bucketWidth;
    for (const a of [this.norms, this.nonFinite, this.losses, this.lrs, this.alerts]) a.length = 0;
    this.firstStep = NaN;
    this.lastStep = NaN;
    this.addRows(s.rows);
    this.addAlerts(s.alerts);
    this.takeExtent();
  }

  append(a: AppendMessage): void {
    this.version++;
    this.header = keepLayers(this.header, a.run);
    this.addRows(a.rows);
    this.addAlerts(a.alerts);
    this.takeExtent();
  }

  private takeExtent(): void {
    const { firstStep, lastStep } = this.header ?? {};
    if (firstStep != null && !(firstStep >= this.firstStep)) this.firstStep = firstStep;
    if (lastStep != null && !(lastStep <= this.lastStep)) this.lastStep = lastStep;
  }

  get live(): boolean {
    return this.header?.state === 'live';
  }

  /**
   * The points to hand chart.js for steps from..to on widthPx pixels, min/max decimated as rows
   * arrive (chart.js's decimation would go over every row in view on every frame).
   */
  drawable(series: 'norms' | 'losses' | 'lrs', from: number, to: number, widthPx: number): Point[] {
    return this.decimators[series].decimate(this[series], this.rewrites, from, to, widthPx);
  }

  /**
   * The largest finite norm of the run (exact: envelopes keep every bucket's maximum), what the
   * chart must show at any zoom.
   */
  maxPoint(): Point | undefined {
    // Asked every frame (summary, screen-reader text): only rows that arrived since are looked at.
    const m = this.max;
    if (m.rewrites !== this.rewrites) Object.assign(m, { rewrites: this.rewrites, scanned: 0, point: undefined });
    for (; m.scanned < this.norms.length; m.scanned++) {
      const p = this.norms[m.scanned];
      if (!m.point || p.y > m.point.y) m.point = p;
    }
    return m.point;
  }

  /** Whether any step of the run measured a gradient norm (a loss-only log has none to draw). */
  get hasNorms(): boolean {
    return this.norms.length > 0 || this.nonFinite.length > 0;
  }

  /** The step with the highest step number, finite or not. */
  latest(): Point | undefined {
    const a = this.norms[this.norms.length - 1];
    const b = this.nonFinite[this.nonFinite.length - 1];
    return !a || (b && b.x > a.x) ? b : a;
  }

  private addRows(rows: SeriesRows): void {
    const { steps, totals, losses, lrs, unmeasured } = rows;
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i];
      const total = totals[i];
      let atEnd =
        unmeasured?.[i] === 1 ||
        insertByStep(Number.isFinite(total) ? this.norms : this.nonFinite, { x: step, y: total, step });
      if (losses && Number.isFinite(losses[i]))
        atEnd = insertByStep(this.losses, { x: step, y: losses[i], step }) && atEnd;
      if (lrs && Number.isFinite(lrs[i])) atEnd = insertByStep(this.lrs, { x: step, y: lrs[i], step }) && atEnd;
      if (!atEnd) this.rewrites++;
      if (!(step >= this.firstStep)) this.firstStep = step;
      if (!(step <= this.lastStep)) this.lastStep = step;
    }
  }

  private addAlerts(markers: readonly AlertMarker[]): void {
    for (const m of markers)
      this.alerts.push({ kind: m.kind, step: m.step, value: fromWire(m.value), message: m.message, origin: m.origin });
  }
}

/**
 * Every update repeats the run's header; its layer list keeps its identity while the names stay
 * the same, because the layer charts redraw when it changes (they compare it by identity).
 */
function keepLayers(previous: RunHeader | undefined, next: RunHeader): RunHeader {
  const old = previous?.layers;
  return old && old.length === next.layers.length && old.every((name, i) => name === next.layers[i])
    ? { ...next, layers: old }
    : next;
}

/**
 * Appends in the common case; steps that arrive late (a reconnecting client) are inserted in
 * order. Says whether the point went at the end.
 */
export function insertByStep(points: Point[], p: Point): boolean {
  const n = points.length;
  if (n === 0 || points[n - 1].x < p.x) {
    points.push(p);
    return true;
  }
  const at = lowerBound(points, p.x);
  if (at < n && points[at].x === p.x)
    points[at] = p; // one value per step
  else points.splice(at, 0, p);
  return false;
}
