/**
 * Turns a run's bounded series into the rows a dashboard draws (webviewProtocol SeriesRows): the
 * whole run for a snapshot, or only what was appended since a cursor for a live update.
 */
import { Alert, FirstNonFinite } from '../alerts/rules';
import { Run } from '../runs/runStore';
import { Series } from '../runs/series';
import { originLabel } from '../shared/nonfiniteOrigin';
import { AlertMarker, FirstNonFiniteView, RunHeader, RunListItem, SeriesRows, toWire } from '../shared/webviewProtocol';

/** Growable columns; `finish` returns compact copies (a view would ship its whole buffer). */
class RowBuilder {
  private steps: Float64Array;
  private totals: Float64Array;
  private losses: Float64Array;
  private lrs: Float64Array;
  private unmeasured: Uint8Array;
  private hasLoss = false;
  private hasLr = false;
  private hasUnmeasured = false;
  private sorted = true;
  length = 0;

  constructor(capacity: number) {
    this.steps = new Float64Array(capacity);
    this.totals = new Float64Array(capacity);
    this.losses = new Float64Array(capacity);
    this.lrs = new Float64Array(capacity);
    this.unmeasured = new Uint8Array(capacity);
  }

  /** `total` undefined: the step measured no norm. */
  push(step: number, total: number | undefined, loss: number, lr: number): void {
    const n = this.length++;
    if (n > 0 && step < this.steps[n - 1]) this.sorted = false;
    this.steps[n] = step;
    this.totals[n] = total ?? NaN;
    if (total === undefined) {
      this.unmeasured[n] = 1;
      this.hasUnmeasured = true;
    }
    this.losses[n] = loss;
    this.lrs[n] = lr;
    if (!Number.isNaN(loss)) this.hasLoss = true;
    if (!Number.isNaN(lr)) this.hasLr = true;
  }

  finish(): SeriesRows {
    const n = this.length;
    const order = this.sorted
      ? undefined
      : Array.from({ length: n }, (_, i) => i).sort((a, b) => this.steps[a] - this.steps[b]);
    const column = <T extends Float64Array | Uint8Array>(src: T): T => {
      const out = src.slice(0, n) as T;
      if (order) for (let j = 0; j < n; j++) out[j] = src[order[j]];
      return out;
    };
    const rows: SeriesRows = { steps: column(this.steps), totals: column(this.totals) };
    if (this.hasLoss) rows.losses = column(this.losses);
    if (this.hasLr) rows.lrs = column(this.lrs);
    if (this.hasUnmeasured) rows.unmeasured = column(this.unmeasured);
    return rows;
  }
}

/**
 * Every row of the series: per envelope bucket its minimum, maximum and first non-finite step (or,
 * when none of its steps measured a norm, its first step for its loss); then each raw step.
 */
export function snapshotRows(series: Series): SeriesRows {
  const buckets = series.envelope.points();
  const rows = new RowBuilder(buckets.length * 3 + series.recentSize);
  for (const b of buckets) {
    const extremes: [number, number][] = [];
    if (!Number.isNaN(b.min)) extremes.push([b.minStep, b.min]);
    if (!Number.isNaN(b.max) && b.maxStep !== b.minStep) extremes.push([b.maxStep, b.max]);
    if (b.nonFiniteStep >= 0) extremes.push([b.nonFiniteStep, b.nonFiniteValue]);
    extremes.sort((x, y) => x[0] - y[0]);
    for (const [step, total] of extremes) rows.push(step, total, b.loss, b.lr);
    if (extremes.length === 0) rows.push(b.stepFirst, undefined, b.loss, b.lr);
  }
  pushRecent(rows, series, 0);
  return rows.finish();
}

/** Rows appended since `cursor` (a past `series.count`), or undefined when some were folded away (send a snapshot). */
export function appendedRows(series: Series, cursor: number): SeriesRows | undefined {
  const k = series.recentIndexOf(cursor);
  if (k < 0) return undefined;
  const rows = new RowBuilder(series.recentSize - k);
  pushRecent(rows, series, k);
  return rows.finish();
}

function pushRecent(rows: RowBuilder, series: Series, from: number): void {
  for (let k = from; k < series.recentSize; k++)
    rows.push(series.stepAt(k), series.totalAt(k), series.lossAt(k), series.lrAt(k));
}

export function alertMarkers(alerts: readonly Alert[], from = 0): AlertMarker[] {
  return alerts.slice(from).map((a) => {
    const marker: AlertMarker = { kind: a.kind, step: a.step, value: toWire(a.value), message: a.message };
    if (a.origin) marker.origin = originLabel(a.origin);
    return marker;
  });
}

export function firstNonFiniteView(first: FirstNonFinite | null): FirstNonFiniteView | null {
  if (!first) return null;
  const view: FirstNonFiniteView = { step: first.step, layers: first.layers };
  if (first.origin) view.origin = originLabel(first.origin);
  if (first.origin?.snapshot) view.replayable = true;
  return view;
}

export function runListItem(run: Run): RunListItem {
  const item: RunListItem = {
    id: run.id,
    name: run.name,
    state: run.state,
    steps: run.stepCount,
    alertCount: run.alertCount,
    updatedAt: run.updatedAt,
  };
  if (run.framework) item.framework = run.framework;
  return item;
}

export function runHeader(run: Run): RunHeader {
  // A client may send layer norms without naming the layers in run_start.
  const series = run.series();
  const layers =
    run.layers.length > 0 ? run.layers : Array.from({ length: series?.layerCount ?? 0 }, (_, i) => `layer ${i}`);
  const hasSteps = series !== undefined && series.count > 0;
  const header: RunHeader = {
    ...runListItem(run),
    layers,
    threshold: run.threshold,
    rank: run.primaryRank,
    ranks: run.ranks,
    firstStep: hasSteps ? series.stepMin : null,
    lastStep: hasSteps ? series.stepMax : null,
    nonFinite: run.rules.nonFiniteCount,
    firstNonFinite: firstNonFiniteView(run.rules.firstNonFinite),
  };
  if (run.endMessage !== undefined) header.endMessage = run.endMessage;
  return header;
}
