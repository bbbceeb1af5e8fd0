/**
 * The dashboard page: holds the shown run's data, the shared step window (follow, zoom, pan),
 * and draws the charts at most once per animation frame however many updates arrive.
 */
import { fmt, quotedNames } from '../src/shared/format';
import { resolveWindow, StepRange, windowAfterZoom } from '../src/shared/stepWindow';
import {
  DashboardState,
  HostMessage,
  LayerView,
  LogStatusMessage,
  RunList,
  StepWindow,
  UpdateMessage,
} from '../src/shared/webviewProtocol';
import { applyChartDefaults, formatStep, StepAxis } from './charts/common';
import { Heatmap, shortLayerName } from './charts/heatmap';
import { LayerChart } from './charts/layerChart';
import { LossChart } from './charts/lossChart';
import { NormChart } from './charts/normChart';
import { YScale } from './charts/yScale';
import { Overlay } from './overlay';
import { RunData } from './runData';
import { onThemeChange, readTheme, Theme } from './theme';
import { chartImage } from './chartImage';
import { CompareLegend } from './ui/compareLegend';
import { RecordedPanel } from './ui/recordedPanel';
import { RunSelector } from './ui/runSelector';
import { SummaryStrip } from './ui/summaryStrip';
import { DEFAULT_TOP_K, Toolbar } from './ui/toolbar';
import { HostConnection } from './vscodeApi';

/** Room for the learning-rate axis on the right of every chart, when it is shown. */
const RIGHT_AXIS_WIDTH = 80;
/** Jumping to a step shows this share of the run around it (at least MIN_JUMP_WIDTH steps). */
const JUMP_SHARE = 0.02;
const MIN_JUMP_WIDTH = 20;

export interface RenderMetrics {
  /** Frames drawn, and how long each took (ms). */
  renders: number;
  renderMs: number[];
  /** Time from a snapshot's arrival to the end of its first frame (ms). */
  firstDrawMs: number[];
  /** Time to take in each message (ms), drawing aside. */
  handleMs: number[];
}

export class DashboardApp {
  readonly data = new RunData();
  /** Set once the extension puts the page in compare mode (a compare panel stays one). */
  private overlay?: Overlay;
  readonly metrics: RenderMetrics = { renders: 0, renderMs: [], firstDrawMs: [], handleMs: [] };
  private theme: Theme;
  private state: DashboardState;
  private window: StepWindow = { kind: 'all' };
  private yScale: YScale;
  private topK: number;
  /** Until the extension first answers, the page claims nothing (no "no runs" flash on restore). */
  private runs?: RunList;
  /** The recorded log shown, when the page shows one (custom editor): loading, summary, problems. */
  private logStatus?: LogStatusMessage;
  private layerView?: LayerView;
  private layerRequestId = 0;
  private layerTimer?: ReturnType<typeof setTimeout>;
  private frame?: number;
  private snapshotArrived?: number;
  private readonly axis: StepAxis;
  private readonly norm: NormChart;
  private readonly loss: LossChart;
  private readonly layers: LayerChart;
  private readonly heatmap: Heatmap;
  private readonly selector: RunSelector;
  private readonly summary: SummaryStrip;
  private readonly recorded: RecordedPanel;
  private readonly legend: CompareLegend;
  private readonly toolbar: Toolbar;
  private readonly el: Record<
    'message' | 'charts' | 'lossPanel' | 'normAbsent' | 'heatmapBox' | 'heatLegend',
    HTMLElement
  >;

  constructor(
    private readonly doc: Document,
    private readonly host: HostConnection,
  ) {
    const byId = <T extends HTMLElement>(id: string): T => {
      const e = doc.getElementById(id);
      if (!e) throw new Error(`dashboard page lacks #${id}`);
      return e as T;
    };
    this.el = {
      message: byId('message'),
      charts: byId('charts'),
      lossPanel: byId('loss-panel'),
      normAbsent: byId('norm-absent'),
      heatmapBox: byId('heatmap-box'),
      heatLegend: byId('heatmap-legend'),
    };
    this.state = host.state();
    this.yScale = this.state.yScale ?? 'log';
    this.topK = this.state.topK ?? DEFAULT_TOP_K;
    this.theme = readTheme(doc);
    applyChartDefaults(this.theme);
    this.axis = {
      range: () => this.range(),
      limits: () => this.extent(),
      onUserRange: (r) => this.onUserRange(r),
      onResize: () => this.scheduleRender(),
      gutters: { left: 72, right: 0 },
    };
    this.norm = new NormChart(byId('norm-chart'), this.axis, this.theme);
    this.loss = new LossChart(byId('loss-chart'), this.axis, this.theme);
    this.layers = new LayerChart(byId('layer-chart'), this.axis, this.theme);
    this.heatmap = new Heatmap(byId('heatmap'), this.axis, this.theme, byId('tooltip'));
    this.selector = new RunSelector(byId('run-select'), (runId) => host.post({ type: 'selectRun', runId }));
    this.summary = new SummaryStrip(byId('summary'), (runId) => host.post({ type: 'reproduce', runId }));
    this.recorded = new RecordedPanel(
      doc,
      {
        problems: byId('log-problems'),
        root: byId('recorded'),
        status: byId('recorded-status'),
        facts: byId('recorded-facts'),
        alerts: byId('recorded-alerts'),
      },
      (step) => this.jumpTo(step),
    );
    this.legend = new CompareLegend(doc, byId('compare-legend'));
    this.toolbar = new Toolbar(
      doc,
      {
        runState: byId('run-state'),
        resolution: byId('resolution'),
        scale: byId('scale-toggle'),
        follow: byId('follow-toggle'),
        reset: byId('reset-zoom'),
        topK: byId('top-k'),
        exportCsv: byId('export-csv'),
        exportPng: byId('export-png'),
      },
      {
        toggleScale: () => this.toggleScale(),
        toggleFollow: () => this.toggleFollow(),
        showWholeRun: () => this.setWindow({ kind: 'all' }),
        setTopK: (k) => this.setTopK(k),
        exportCsv: () => this.exportCsv(),
        exportPng: () => this.exportPng(),
        range: () => this.range(),
        extent: () => this.extent(),
        zoomTo: (r) => this.onUserRange(r),
      },
    );
    for (const chart of [this.norm.chart, this.loss.chart, this.layers.chart, this.heatmap.chart]) {
      this.toolbar.listenForKeys(chart.canvas);
    }
    onThemeChange(doc, () => this.applyTheme());
    new ResizeObserver(() => this.requestLayers()).observe(this.el.heatmapBox);
    this.renderControls();
    this.showMessage();
    host.post({ type: 'ready', runId: this.state.runId });
  }

  onMessage(m: HostMessage): void {
    const started = performance.now();
    switch (m.type) {
      case 'snapshot': {
        this.snapshotArrived = performance.now();
        if (m.runs) this.onRuns(m.runs);
        const sameRun = this.data.header?.id === m.run.id;
        this.data.load(m);
        if (!sameRun) {
          this.layerView = undefined;
          // The restored run gets back the view the user left; another run starts whole.
          this.window = this.state.runId === m.run.id && this.state.window ? this.state.window : { kind: 'all' };
          this.saveState({ runId: m.run.id });
          this.sizeHeatmap(m.run.layers.length);
        }
        this.requestLayers(0);
        break;
      }
      case 'update':
        this.onUpdate(m);
        break;
      case 'layers':
        this.acceptLayers(m.view);
        break;
      case 'logStatus':
        this.logStatus = m;
        this.recorded.render(m);
        break;
      case 'compare':
        if (!this.overlay) {
          this.overlay = new Overlay();
          this.doc.body.classList.add('compare-mode');
          this.window = this.state.window ?? { kind: 'all' }; // a compare panel shown again keeps its zoom
        }
        this.overlay.load(m, this.theme.palette);
        break;
    }
    this.metrics.handleMs.push(performance.now() - started);
    this.scheduleRender();
  }

  private onUpdate(u: UpdateMessage): void {
    if (u.runs) this.onRuns(u.runs);
    if (u.append && u.append.run.id === this.data.header?.id) this.data.append(u.append);
    if (u.summary) this.data.summary = u.summary;
    if (u.layers) this.acceptLayers(u.layers);
  }

  private onRuns(runs: RunList): void {
    this.runs = runs;
    this.selector.render(runs);
    if (runs.selected === null) this.data.header = undefined;
  }

  private acceptLayers(view: LayerView): void {
    if (view.runId === this.data.header?.id && view.requestId === this.layerRequestId) this.layerView = view;
  }

  /** What is charted: the shown run, or in compare mode all compared runs aligned by step. */
  private get shown(): Pick<RunData, 'firstStep' | 'lastStep' | 'live' | 'bucketWidth'> {
    return this.overlay ?? this.data;
  }

  /** The steps in view. */
  range(): StepRange {
    const { firstStep, lastStep } = this.shown;
    if (Number.isNaN(firstStep)) return { from: 0, to: 1 };
    return padded(resolveWindow(this.window, firstStep, lastStep));
  }

  private extent(): StepRange {
    const { firstStep, lastStep } = this.shown;
    return Number.isNaN(firstStep) ? { from: 0, to: 1 } : padded({ from: firstStep, to: lastStep });
  }

  private onUserRange(r: StepRange): void {
    const { firstStep, lastStep, live } = this.shown;
    if (Number.isNaN(firstStep)) return;
    this.setWindow(windowAfterZoom(r, firstStep, lastStep, live));
  }

  /** Zooms every chart to a few percent of the run around a step (an alert, the maximum, the first NaN). */
  jumpTo(step: number): void {
    const { firstStep, lastStep } = this.shown;
    if (Number.isNaN(firstStep)) return;
    const width = Math.max(MIN_JUMP_WIDTH, (lastStep - firstStep) * JUMP_SHARE);
    this.setWindow({ kind: 'range', from: step - width / 2, to: step + width / 2 });
  }

  private setWindow(w: StepWindow): void {
    this.window = w;
    this.saveState({ window: w });
    this.requestLayers();
    this.scheduleRender();
  }

  /** Asks for per-layer maxima of the window, debounced while the user zooms. */
  private requestLayers(delayMs = 120): void {
    clearTimeout(this.layerTimer);
    this.layerTimer = setTimeout(() => {
      const run = this.data.header;
      if (!run || run.layers.length === 0) return;
      const area = this.heatmap.chart.chartArea;
      const width = area ? area.right - area.left : this.el.heatmapBox.clientWidth;
      const columns = Math.max(16, Math.min(1024, Math.round(width / 2)));
      this.host.post({
        type: 'viewLayers',
        runId: run.id,
        window: this.window,
        columns,
        requestId: ++this.layerRequestId,
      });
    }, delayMs);
  }

  private scheduleRender(): void {
    if (this.frame !== undefined) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = undefined;
      this.render();
    });
  }

  private render(): void {
    const started = performance.now();
    const data = this.data;
    const run = data.header;
    this.showMessage();
    this.el.normAbsent.hidden = !!this.overlay || !run || data.hasNorms || run.steps === 0;
    if (this.overlay) {
      this.norm.renderOverlay(this.overlay.runs, this.yScale);
      this.legend.render(this.overlay.runs);
      this.describeOverlay(this.overlay);
    } else if (run) {
      const lossShown = LossChart.hasData(data);
      this.el.lossPanel.hidden = !lossShown;
      this.axis.gutters.right = lossShown && data.lrs.length > 0 ? RIGHT_AXIS_WIDTH : 0;
      this.norm.render(data, this.yScale);
      if (lossShown) this.loss.render(data);
      this.layers.render(this.layerView, run.layers, this.topK, this.yScale);
      this.heatmap.render(this.layerView, run.layers);
      this.heatmap.renderLegend(this.el.heatLegend);
      this.describeCharts();
    }
    if (!this.overlay) this.summary.render(data);
    this.renderControls();
    const ended = performance.now();
    this.metrics.renders++;
    this.metrics.renderMs.push(ended - started);
    if (this.snapshotArrived !== undefined) {
      this.metrics.firstDrawMs.push(ended - this.snapshotArrived);
      this.snapshotArrived = undefined;
    }
  }

  private showMessage(): void {
    const m = this.el.message;
    let text = '';
    const log = this.logStatus;
    if (log?.loading && !this.data.header) text = `Loading ${log.file}…`;
    else if (log && !this.data.header) text = log.problems.length > 0 ? '' : `${log.file} holds no steps.`;
    else if (this.overlay) text = this.overlay.runs.length === 0 ? 'Loading the runs to compare…' : '';
    else if (!this.runs) text = '';
    else if (this.runs.waitingFor !== null)
      text = `Waiting for run “${this.runs.waitingFor}” to reconnect… Training scripts that are still running reattach on their own.`;
    else if (this.runs.runs.length === 0 && !this.data.header)
      text =
        'No runs yet. Start training with the gradient-monitor Python client in a VS Code terminal, or try: gradient-monitor simulate --spike-at 300 --nan-at 800';
    m.textContent = text;
    m.hidden = text === '';
    this.el.charts.hidden = this.overlay ? this.overlay.runs.length === 0 : !this.data.header;
  }

  private renderControls(): void {
    const shown = this.shown;
    this.toolbar.render({
      run: this.data.header,
      live: shown.live,
      following: shown.live && this.window.kind !== 'range',
      bucketWidth: shown.bucketWidth,
      yScale: this.yScale,
      topK: this.topK,
    });
  }

  /** Screen readers get the chart's gist: what is in view, the worst value, the non-finite steps. */
  private describeCharts(): void {
    const { from, to } = this.range();
    const name = this.data.header?.name ?? '';
    const nonFinite = this.data.nonFinite;
    const parts = [`Total gradient norm of run ${name}, steps ${formatStep(from)} to ${formatStep(to)}.`];
    if (!this.data.hasNorms) parts.push('No gradient norms were logged in this run.');
    const max = this.data.maxPoint();
    if (max) parts.push(`Maximum ${fmt(max.y)} at step ${formatStep(max.step)}.`);
    if (nonFinite.length > 0)
      parts.push(
        `Non-finite at step ${formatStep(nonFinite[0].step)}${nonFinite.length > 1 ? ` and ${nonFinite.length - 1} more steps` : ''}.`,
      );
    this.norm.chart.canvas.setAttribute('aria-label', parts.join(' '));
    const top = this.layers.ranked.slice(0, 3).map((r) => this.data.header?.layers[r.layer] ?? '');
    this.layers.chart.canvas.setAttribute(
      'aria-label',
      top.length ? `Largest layers in view: ${quotedNames(top)}.` : 'No per-layer norms reported.',
    );
  }

  private describeOverlay(overlay: Overlay): void {
    const { from, to } = this.range();
    const parts = [
      `Total gradient norms of ${overlay.runs.length} runs, steps ${formatStep(from)} to ${formatStep(to)}.`,
    ];
    for (const r of overlay.runs) {
      const max = r.data.maxPoint();
      parts.push(
        `${r.data.header?.name ?? r.key}: ${max ? `maximum ${fmt(max.y)} at step ${formatStep(max.step)}` : 'no finite steps'}${r.data.nonFinite.length > 0 ? `, non-finite from step ${formatStep(r.data.nonFinite[0].step)}` : ''}.`,
      );
    }
    this.norm.chart.canvas.setAttribute('aria-label', parts.join(' '));
  }

  private exportCsv(): void {
    const run = this.data.header;
    if (!run) return;
    const { from, to } = this.range();
    this.host.post({ type: 'exportCsv', runId: run.id, from, to });
  }

  private exportPng(): void {
    const run = this.data.header;
    if (run)
      this.host.post({
        type: 'exportPng',
        runId: run.id,
        dataUrl: chartImage(this.doc, this.norm.chart.canvas, this.theme.background),
      });
  }

  private setTopK(k: number): void {
    this.topK = k;
    this.saveState({ topK: k });
    this.scheduleRender();
  }

  private toggleScale(): void {
    this.yScale = this.yScale === 'log' ? 'linear' : 'log';
    this.saveState({ yScale: this.yScale });
    this.scheduleRender();
  }

  /** Following keeps the current width at the latest step; not following pins the current range. */
  private toggleFollow(): void {
    const shown = this.shown;
    if (!shown.live) return;
    const { from, to } = this.range();
    if (this.window.kind === 'range')
      this.setWindow(
        to - from >= shown.lastStep - shown.firstStep ? { kind: 'all' } : { kind: 'latest', width: to - from },
      );
    else this.setWindow({ kind: 'range', from, to });
  }

  private sizeHeatmap(layers: number): void {
    const rows = Math.max(1, layers);
    const height = Math.min(520, Math.max(120, rows * 18 + 40));
    this.el.heatmapBox.style.height = `${height}px`;
    // The layer names set the left gutter of every chart so steps line up across them.
    const ctx = this.doc.createElement('canvas').getContext('2d');
    if (ctx && this.data.header) {
      ctx.font = `${Math.max(10, this.theme.fontSize - 1)}px ${this.theme.fontFamily}`;
      const widest = Math.max(0, ...this.data.header.layers.map((n) => ctx.measureText(shortLayerName(n)).width));
      this.axis.gutters.left = Math.round(Math.min(220, Math.max(72, widest + 16)));
    }
  }

  private applyTheme(): void {
    this.theme = readTheme(this.doc);
    applyChartDefaults(this.theme);
    for (const c of [this.norm, this.loss, this.layers, this.heatmap]) c.applyTheme(this.theme);
    this.overlay?.restyle(this.theme.palette);
    this.scheduleRender();
  }

  private saveState(patch: Partial<DashboardState>): void {
    this.state = { ...this.state, ...patch };
    this.host.saveState(this.state);
  }

  /** What tests and benchmarks read: the real drawn data, not a re-computation. */
  testHook(): object {
    return {
      metrics: this.metrics,
      drawnNorms: () => this.norm.drawnNorms(),
      drawnMarkers: () => this.norm.drawnMarkers(),
      drawnAlerts: () => this.norm.drawnAlerts(),
      drawnThreshold: () => this.norm.drawnThreshold(),
      drawnLayers: () => this.layers.ranked.map((r) => this.data.header?.layers[r.layer]),
      heatmapCell: (step: number, row: number) => this.heatmap.cellAt(step, row),
      range: () => this.range(),
      /** Page coordinates of a step in the middle of the norm chart, to aim wheel zooms. */
      normChartPoint: (step: number) => {
        const chart = this.norm.chart;
        const box = chart.canvas.getBoundingClientRect();
        return {
          x: box.left + chart.scales.x.getPixelForValue(step),
          y: box.top + (chart.chartArea.top + chart.chartArea.bottom) / 2,
        };
      },
      window: () => this.window,
      trueMax: () => this.data.maxPoint()?.y,
      normLineColor: () => this.norm.chart.data.datasets[0].borderColor,
      rendered: () => this.frame === undefined,
      /** Compare mode: per run what its line and markers draw, and its true maximum (from all its rows). */
      drawnOverlay: () => this.norm.drawnOverlay(),
      overlayTrueMax: () => this.overlay?.runs.map((r) => r.data.maxPoint()?.y) ?? [],
    };
  }
}

function padded(r: StepRange): StepRange {
  return r.to - r.from >= 1 ? r : { from: r.from - 1, to: r.to + 1 };
}
