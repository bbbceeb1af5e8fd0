/**
 * The webview's copy of the shown run, in the shapes chart.js draws with `parsing: false`: finite
 * total norms as {x, y} sorted by step (chart.js min/max decimation keeps every pixel column's
 * extremes), non-finite steps apart as markers, loss and learning rate, alerts, summary.
 */
import { AlertMarker, AppendMessage, fromWire, NormSummary, RunHeader, SeriesRows, SnapshotMessage } from '../src/shared/webviewProtocol';

/** A drawn point; `step` survives decimation, which moves a column's extremes to the column's mean x. */
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
  /** Bumped by every change; drawable copies are remade once per version. */
  version = 0;
  private readonly copies = new Map<'norms' | 'losses' | 'lrs', { version: number; points: Point[] }>();
  private max?: { version: number; point: Point | undefined };
  /** Smallest and largest step of the run (NaN while empty); buckets of old steps start before their extremes. */
  firstStep = NaN;
  lastStep = NaN;

  load(s: SnapshotMessage): void {
    this.version++;
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
   * The points to hand chart.js: a copy per version, because chart.js hooks push/splice on the
   * arrays it draws to track changes, which turns bulk loads of many thousand points quadratic.
   */
  drawable(series: 'norms' | 'losses' | 'lrs'): Point[] {
    const cached = this.copies.get(series);
    if (cached && cached.version === this.version) return cached.points;
    const points = this[series].slice();
    this.copies.set(series, { version: this.version, points });
    return points;
  }

  /** The largest finite norm of the run (exact: envelopes keep every bucket's maximum), what the chart must show at any zoom. */
  maxPoint(): Point | undefined {
    // Asked every frame (summary, screen-reader text) of a series of many thousand rows: once per version.
    if (this.max?.version === this.version) return this.max.point;
    let max: Point | undefined;
    for (const p of this.norms) if (!max || p.y > max.y) max = p;
    this.max = { version: this.version, point: max };
    return max;
  }

  /** The step with the highest step number, finite or not. */
  latest(): Point | undefined {
    const a = this.norms[this.norms.length - 1];
    const b = this.nonFinite[this.nonFinite.length - 1];
    return !a || (b && b.x > a.x) ? b : a;
  }

  private addRows(rows: SeriesRows): void {
    const { steps, totals, losses, lrs } = rows;
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i];
      const total = totals[i];
      insertByStep(Number.isFinite(total) ? this.norms : this.nonFinite, { x: step, y: total, step });
      if (losses && Number.isFinite(losses[i])) insertByStep(this.losses, { x: step, y: losses[i], step });
      if (lrs && Number.isFinite(lrs[i])) insertByStep(this.lrs, { x: step, y: lrs[i], step });
      if (!(step >= this.firstStep)) this.firstStep = step;
      if (!(step <= this.lastStep)) this.lastStep = step;
    }
  }

  private addAlerts(markers: readonly AlertMarker[]): void {
    for (const m of markers) this.alerts.push({ kind: m.kind, step: m.step, value: fromWire(m.value), message: m.message });
  }
}

/**
 * Every update repeats the run's header; its layer list keeps its identity while the names stay
 * the same, because the layer charts redraw when it changes (they compare it by identity).
 */
function keepLayers(previous: RunHeader | undefined, next: RunHeader): RunHeader {
  const old = previous?.layers;
  return old && old.length === next.layers.length && old.every((name, i) => name === next.layers[i]) ? { ...next, layers: old } : next;
}

/** Appends in the common case; steps that arrive late (a reconnecting client) are inserted in order. */
export function insertByStep(points: Point[], p: Point): void {
  const n = points.length;
  if (n === 0 || points[n - 1].x < p.x) {
    points.push(p);
    return;
  }
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (points[mid].x < p.x) lo = mid + 1;
    else hi = mid;
  }
  if (lo < n && points[lo].x === p.x) points[lo] = p; // one value per step
  else points.splice(lo, 0, p);
}
