/**
 * The extension side of one dashboard webview, free of VS Code: it answers the webview's messages,
 * follows the selected run in a RunSource and posts coalesced updates (at most
 * MAX_UPDATES_PER_SECOND) that carry only what changed: appended rows, new alerts, a fresh summary
 * at most once a second, refreshed layer views while a view follows a live run.
 */
import { Replay, replayOf } from '../runs/replay';
import { Run } from '../runs/runStore';
import { Series } from '../runs/series';
import { resolveWindow, follows } from '../shared/stepWindow';
import {
  AppendMessage,
  ExportMessage,
  HostMessage,
  LayerView,
  LogStatusMessage,
  MAX_UPDATES_PER_SECOND,
  parseWebviewMessage,
  RunList,
  SeriesRows,
  UpdateMessage,
  ViewLayersMessage,
} from '../shared/webviewProtocol';
import { Coalescer, realScheduler, Scheduler } from './coalescer';
import { RateMeter } from './rateMeter';
import { alertMarkers, appendedRows, runHeader, runListItem, snapshotRows } from './rows';
import { RunChange, RunSource } from './runSource';
import { normSummary } from './summary';

export interface SessionOptions {
  scheduler?: Scheduler;
  /** Minimum time between updates (default 1000 / MAX_UPDATES_PER_SECOND). */
  updateIntervalMs?: number;
  /** Minimum time between summary refreshes of a live run. */
  summaryIntervalMs?: number;
  /** Asked by the page to save a CSV or PNG of what it shows; the adapter owns dialogs and files. */
  onExport?: (request: ExportMessage) => void;
  /** Asked by the page to show the replay of a run's first non-finite step; the adapter shows the lines. */
  onReproduce?: (replay: Replay) => void;
}

export class DashboardSession {
  private readonly scheduler: Scheduler;
  private readonly coalescer: Coalescer;
  private readonly unsubscribe: () => void;
  private readonly summaryIntervalMs: number;
  private readonly rate = new RateMeter();
  /** The webview said `ready` and has not been torn down since (hidden panels lose their page). */
  private ready = false;
  private requested?: string;
  private selected?: Run;
  private waitingFor: string | null = null;
  /** What the webview holds of the selected run. */
  private shown?: {
    series: Series | undefined;
    layerCount: number;
    cursor: number;
    rowsSinceSnapshot: number;
    alertCursor: number;
  };
  private runsDirty = false;
  private selectedDirty = false;
  private lastSummary = -Infinity;
  private summaryTimer: unknown;
  private layerRequest?: ViewLayersMessage;
  /** The shown run grew since the following layer view was last sent. */
  private layersStale = false;
  private nextLayerRefresh = 0;
  private layerTimer: unknown;
  /** The recorded log behind the runs, if any: posted again whenever the page comes back. */
  private logStatus?: LogStatusMessage;
  private readonly onExport?: (request: ExportMessage) => void;
  private readonly onReproduce?: (replay: Replay) => void;

  constructor(
    private readonly source: RunSource,
    private readonly post: (message: HostMessage) => void,
    options: SessionOptions = {},
  ) {
    this.scheduler = options.scheduler ?? realScheduler;
    this.summaryIntervalMs = options.summaryIntervalMs ?? 1000;
    this.onExport = options.onExport;
    this.onReproduce = options.onReproduce;
    this.coalescer = new Coalescer(
      () => this.flush(),
      options.updateIntervalMs ?? 1000 / MAX_UPDATES_PER_SECOND,
      this.scheduler,
    );
    this.unsubscribe = source.subscribe((run, change) => this.onChange(run, change));
  }

  /** A message from the webview (checked here: malformed ones are ignored). */
  handle(raw: unknown): void {
    const m = parseWebviewMessage(raw);
    if (!m) return;
    switch (m.type) {
      case 'ready':
        this.ready = true;
        if (this.logStatus) this.post(this.logStatus);
        this.select(this.requested ?? m.runId);
        this.requested = undefined;
        return;
      case 'selectRun':
        this.select(m.runId);
        return;
      case 'viewLayers':
        if (m.runId !== this.selected?.id) return;
        this.layerRequest = m;
        this.post({ type: 'layers', view: this.layerView(this.selected, m) });
        return;
      case 'exportCsv':
      case 'exportPng':
        if (this.source.get(m.runId)) this.onExport?.(m);
        return;
      case 'reproduce': {
        // The page names the run; what to replay comes from the run itself, never from the page.
        const run = this.source.get(m.runId);
        const replay = run && replayOf(run);
        if (replay) this.onReproduce?.(replay);
        return;
      }
    }
  }

  /**
   * Shows what is known of the recorded log behind the runs (loading, summary, problems), now and
   * after every reload of the page.
   */
  showLogStatus(status: LogStatusMessage): void {
    this.logStatus = status;
    if (this.ready) this.post(status);
  }

  /** Shows a run (from a command); before the webview is ready, it is shown once it is. */
  select(runId: string | undefined): void {
    if (!this.ready) {
      this.requested = runId;
      return;
    }
    const run = runId !== undefined ? this.source.get(runId) : this.defaultRun();
    this.waitingFor = runId !== undefined && !run ? runId : null;
    this.selected = run;
    this.layerRequest = undefined;
    this.rate.reset();
    this.runsDirty = false;
    if (run) {
      this.sendSnapshot(run, this.runList());
    } else {
      this.shown = undefined;
      this.post({ type: 'update', runs: this.runList() });
    }
    this.scheduleSummaryTick();
  }

  /** The webview's page is gone (panel hidden); it says `ready` again when it comes back. */
  detach(): void {
    this.ready = false;
    this.coalescer.dispose();
    this.clearSummaryTick();
    if (this.layerTimer !== undefined) this.scheduler.clearTimeout(this.layerTimer);
    this.layerTimer = undefined;
  }

  dispose(): void {
    this.detach();
    this.unsubscribe();
  }

  get selectedRunId(): string | undefined {
    return this.selected?.id ?? this.waitingFor ?? undefined;
  }

  private onChange(run: Run, change: RunChange): void {
    this.runsDirty = true;
    if (run === this.selected) this.selectedDirty = true;
    if (this.ready) this.coalescer.request();
    // Not while detached: the page selects again when it is back.
    if (!this.ready) return;
    if (this.waitingFor === run.id || (!this.selected && this.waitingFor === null)) {
      this.select(run.id);
    } else if (change === 'run' && run === this.selected) {
      this.lastSummary = -Infinity; // an ended run shows no steps/s from then on
      this.scheduleSummaryTick();
    }
  }

  private defaultRun(): Run | undefined {
    let best: Run | undefined;
    for (const r of this.source.runs()) {
      const rLive = r.state === 'live';
      const bLive = best?.state === 'live';
      if (!best || (rLive && !bLive) || (rLive === bLive && r.updatedAt > best.updatedAt)) best = r;
    }
    return best;
  }

  private runList(): RunList {
    const runs = [...this.source.runs()].sort((a, b) => b.updatedAt - a.updatedAt).map(runListItem);
    return { runs, selected: this.selected?.id ?? null, waitingFor: this.waitingFor };
  }

  private sendSnapshot(run: Run, runs?: RunList): void {
    const series = run.series();
    this.post({
      type: 'snapshot',
      ...(runs ? { runs } : {}),
      run: runHeader(run),
      rows: series ? snapshotRows(series) : emptyRows(),
      alerts: alertMarkers(run.alerts),
      summary: this.summary(run),
      bucketWidth: series?.envelope.bucketWidth ?? 1,
    });
    this.shown = {
      series,
      layerCount: run.layers.length,
      cursor: series?.count ?? 0,
      rowsSinceSnapshot: 0,
      alertCursor: run.alerts.length,
    };
    this.selectedDirty = false;
  }

  /** Posts one message with whatever changed: an update, or a snapshot when an append cannot do. */
  private flush(): void {
    if (!this.ready) return;
    const run = this.selected;
    const runs = this.runsDirty ? this.runList() : undefined;
    this.runsDirty = false;
    const update: UpdateMessage = { type: 'update' };
    if (runs) update.runs = runs;
    if (run && this.selectedDirty) {
      this.selectedDirty = false;
      const append = this.appendFor(run);
      if (!append) {
        this.sendSnapshot(run, runs); // the webview's copy cannot be extended: replace it
        return;
      }
      update.append = append;
    }
    const now = this.scheduler.now();
    if (run && now - this.lastSummary >= this.summaryIntervalMs) update.summary = this.summary(run);
    if ((update.append?.rows.steps.length ?? 0) > 0 && this.layerRequest && follows(this.layerRequest.window))
      this.layersStale = true;
    if (run && this.layerRequest && this.layersStale) {
      if (now >= this.nextLayerRefresh) {
        update.layers = this.layerView(run, this.layerRequest);
      } else if (this.layerTimer === undefined) {
        this.layerTimer = this.scheduler.setTimeout(() => {
          this.layerTimer = undefined;
          if (this.ready) this.coalescer.request();
        }, this.nextLayerRefresh - now);
      }
    }
    if (update.runs || update.append || update.summary || update.layers) this.post(update);
  }

  /** What changed in the shown run, or undefined when only a new snapshot can bring the webview up to date. */
  private appendFor(run: Run): AppendMessage | undefined {
    const series = run.series();
    const shown = this.shown;
    if (!shown || run.layers.length !== shown.layerCount) return undefined;
    if (series !== shown.series) {
      // The first steps of a run shown before it had any append like any others; a different
      // series (another rank became the charted one) needs a snapshot.
      if (shown.series !== undefined) return undefined;
      shown.series = series;
      shown.cursor = 0;
    }
    // Metadata only, no steps yet.
    if (!series) return { run: runHeader(run), rows: emptyRows(), alerts: this.newAlerts(run) };
    const rows = appendedRows(series, shown.cursor);
    // Appends pile up raw in the webview while the store folds old steps into envelopes: once they
    // outgrow the store's own recent window, a snapshot brings the webview back to bounded size.
    if (!rows || shown.rowsSinceSnapshot + rows.steps.length > series.capacity) return undefined;
    shown.cursor = series.count;
    shown.rowsSinceSnapshot += rows.steps.length;
    this.rate.sample(this.scheduler.now(), series.count);
    return { run: runHeader(run), rows, alerts: this.newAlerts(run) };
  }

  private newAlerts(run: Run): ReturnType<typeof alertMarkers> {
    const shown = this.shown;
    if (!shown) return [];
    const markers = alertMarkers(run.alerts, shown.alertCursor);
    shown.alertCursor = run.alerts.length;
    return markers;
  }

  private summary(run: Run): ReturnType<typeof normSummary> {
    const summary = normSummary(run, run.state === 'live' ? this.rate.rate() : null);
    // A run's first steps get their statistics at once, not a second later.
    this.lastSummary = summary.steps > 0 ? this.scheduler.now() : -Infinity;
    return summary;
  }

  private layerView(run: Run, request: ViewLayersMessage): LayerView {
    const series = run.series();
    const started = this.scheduler.now();
    const first = series && series.count > 0 ? series.stepMin : 0;
    const last = series && series.count > 0 ? series.stepMax : 0;
    const { from, to } = resolveWindow(request.window, first, last);
    const columns = Math.max(1, Math.min(request.columns, Math.floor(to - from) + 1));
    const values = series ? series.layerColumns(from, to, columns) : new Float32Array(0);
    // Wide models make this scan expensive: refresh a following view less often, never above ~5% of a core.
    this.nextLayerRefresh = this.scheduler.now() + Math.max(100, 20 * (this.scheduler.now() - started));
    this.layersStale = false;
    return { runId: run.id, requestId: request.requestId, from, to, columns, values };
  }

  /** While a live run is shown, the summary (steps/s especially) refreshes even when steps stall. */
  private scheduleSummaryTick(): void {
    this.clearSummaryTick();
    if (!this.ready || this.selected?.state !== 'live') return;
    this.summaryTimer = this.scheduler.setTimeout(() => {
      this.summaryTimer = undefined;
      const run = this.selected;
      if (!this.ready || !run) return;
      this.rate.sample(this.scheduler.now(), run.series()?.count ?? 0);
      this.coalescer.request(); // the flush adds the summary, as it is due
      this.scheduleSummaryTick();
    }, this.summaryIntervalMs);
  }

  private clearSummaryTick(): void {
    if (this.summaryTimer !== undefined) this.scheduler.clearTimeout(this.summaryTimer);
    this.summaryTimer = undefined;
  }
}

function emptyRows(): SeriesRows {
  return { steps: new Float64Array(0), totals: new Float64Array(0) };
}
