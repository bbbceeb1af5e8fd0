/**
 * Total gradient norm over steps: the line (min/max decimated, so every spike survives any zoom),
 * the threshold, alert markers at their steps and non-finite steps as distinct markers with a rule
 * across the chart, never as silent gaps.
 */
import { Chart, ChartDataset, ChartOptions, Plugin, ScriptableContext, TooltipItem } from 'chart.js';
import { fmt } from '../../src/shared/format';
import { dedupeByPixel } from '../pixelDedupe';
import { OverlayRun } from '../overlay';
import { AlertPoint, Point, RunData } from '../runData';
import { Theme } from '../theme';
import { applyYScale, YScale } from './yScale';
import { withAlpha } from '../colorScale';
import { baseOptions, EDGE_Y, formatStep, normAxes, pointsInView, StepAxis, syncStepAxis } from './common';
import { RedrawGate } from './redrawGate';

interface MarkerPoint extends Point {
  value: number;
  /** Where this step's NaN was born, when the run traced it: drawn beside the marker's rule. */
  label?: string;
}

interface AlertDrawPoint extends Point {
  alert: AlertPoint;
}

export class NormChart {
  readonly chart: Chart<'line', (Point | MarkerPoint | AlertDrawPoint)[]>;
  private threshold = NaN;
  /** The threshold the last frame drew a line at (NaN: none was in view), for tests. */
  private drawnThresholdValue = NaN;
  private theme: Theme;
  /** Marker datasets whose steps get a rule down through the chart, in their run's color. */
  private rules: { dataset: number; color: string }[] = [];
  /** The runs (keys and looks) the overlay datasets were built for; undefined in single-run mode. */
  private overlayLayout?: string;
  private readonly gate = new RedrawGate();
  /** The runs whose total norms the lines draw (datasets 0, 2, 4…: each line has its markers next to it). */
  private lines: readonly RunData[] = [];

  constructor(
    canvas: HTMLCanvasElement,
    private readonly axis: StepAxis,
    theme: Theme,
  ) {
    this.theme = theme;
    const thresholdLine: Plugin<'line'> = {
      id: 'gmThreshold',
      afterDatasetsDraw: (chart) => this.drawThreshold(chart),
    };
    const nonFiniteRules: Plugin<'line'> = {
      id: 'gmNonFiniteRules',
      beforeDatasetsDraw: (chart) => this.drawNonFiniteRules(chart),
    };
    this.rules = [{ dataset: 1, color: theme.error }];
    this.chart = new Chart(canvas, {
      type: 'line',
      data: { datasets: datasetsFor(theme) },
      options: this.optionsFor(theme),
      plugins: [
        thresholdLine,
        nonFiniteRules,
        pointsInView((chart, from, to, width) => this.fillLines(chart, from, to, width)),
      ],
    });
  }

  applyTheme(theme: Theme): void {
    this.theme = theme;
    this.chart.options = this.optionsFor(theme);
    this.gate.invalidate();
    // Overlay datasets are rebuilt with the new colors by the next renderOverlay.
    if (this.overlayLayout !== undefined) {
      this.overlayLayout = '';
      return;
    }
    // Fresh dataset objects: chart.js caches resolved point options per dataset.
    const data = this.chart.data.datasets.map((d) => d.data);
    this.chart.data.datasets = datasetsFor(theme).map((d, i) => ({ ...d, data: data[i] }));
    this.rules = [{ dataset: 1, color: theme.error }];
  }

  private optionsFor(theme: Theme): ChartOptions<'line'> {
    const options = baseOptions(theme, this.axis);
    options.scales = { ...options.scales, ...normAxes(theme, this.axis, 'total norm') };
    options.plugins!.tooltip!.callbacks = {
      title: (items: TooltipItem<'line'>[]) => (items.length ? `step ${formatStep(stepOf(items[0]))}` : ''),
      label: (item: TooltipItem<'line'>) => labelFor(item),
    };
    return options;
  }

  /** Redraws from the run's data for the current range and y scale. */
  render(data: RunData, yScale: YScale): void {
    const chart = this.chart;
    if (!this.gate.needed(chart, this.axis, [data.version, yScale])) return;
    syncStepAxis(chart, this.axis);
    this.threshold = data.header?.threshold ?? NaN;
    applyYScale(chart, 'y', yScale, Number.isFinite(this.threshold) ? this.threshold * 1.15 : undefined);
    const { from, to } = this.axis.range();
    const width = chart.chartArea?.width ?? chart.canvas.clientWidth;
    const [, nonFinite, alerts] = chart.data.datasets;
    this.lines = [data];
    const origins = new Map(data.alerts.filter((a) => a.origin).map((a) => [a.step, a.origin]));
    nonFinite.data = dedupeByPixel(data.nonFinite, from, to, width).map((p): MarkerPoint => {
      const marker: MarkerPoint = { x: p.x, y: EDGE_Y, step: p.step, value: p.y };
      const label = origins.get(p.step);
      if (label) marker.label = label;
      return marker;
    });
    alerts.data = data.alerts
      .filter((a) => a.kind !== 'nonfinite' && Number.isFinite(a.value) && a.step >= from && a.step <= to)
      .map((a): AlertDrawPoint => ({ x: a.step, y: a.value, step: a.step, alert: a }));
    chart.update('none');
  }

  /**
   * Compare mode: each run's total norm as its own line (decimated per run, so each keeps its
   * maximum) and its non-finite steps as markers and rules in its color, staggered so that runs
   * failing at the same step stay distinguishable. No threshold or alerts: they belong to one run.
   */
  renderOverlay(runs: readonly OverlayRun[], yScale: YScale): void {
    const chart = this.chart;
    syncStepAxis(chart, this.axis);
    this.threshold = NaN;
    applyYScale(chart, 'y', yScale, undefined);
    const layout = runs.map((r) => `${r.key}\u0000${r.color}\u0000${r.dash.join(',')}`).join('\u0001');
    if (layout !== this.overlayLayout) {
      this.overlayLayout = layout;
      chart.data.datasets = runs.flatMap((r) => overlayDatasets(r, this.theme));
      this.rules = runs.map((r, i) => ({ dataset: 2 * i + 1, color: r.color }));
    }
    const { from, to } = this.axis.range();
    const width = chart.chartArea?.width ?? chart.canvas.clientWidth;
    this.lines = runs.map((r) => r.data);
    runs.forEach((r, i) => {
      const y = EDGE_Y - (i % 6) * 0.035;
      chart.data.datasets[2 * i + 1].data = dedupeByPixel(r.data.nonFinite, from, to, width).map((p): MarkerPoint => ({
        x: p.x,
        y,
        step: p.step,
        value: p.y,
      }));
    });
    chart.update('none');
  }

  private fillLines(chart: Chart<'line'>, from: number, to: number, width: number): void {
    const sets = chart.data.datasets;
    this.lines.forEach((data, i) => {
      if (sets[2 * i]) sets[2 * i].data = data.drawable('norms', from, to, width);
    });
  }

  /** Per compared run, what is drawn now: its line's points (after decimation), its markers, its color. */
  drawnOverlay(): { name: string; color: string; norms: Point[]; markers: MarkerPoint[] }[] {
    const sets = this.chart.data.datasets;
    const out = [];
    for (let i = 0; i + 1 < sets.length && this.overlayLayout !== undefined; i += 2) {
      out.push({
        name: sets[i].label ?? '',
        color: String(sets[i].borderColor),
        norms: (sets[i].data as Point[]).slice(),
        markers: (sets[i + 1].data as MarkerPoint[]).slice(),
      });
    }
    return out;
  }

  /** Points the line draws now (after decimation), for tests and benchmarks. */
  drawnNorms(): Point[] {
    return (this.chart.data.datasets[0].data as Point[]).slice();
  }

  drawnMarkers(): MarkerPoint[] {
    return (this.chart.data.datasets[1].data as MarkerPoint[]).slice();
  }

  drawnAlerts(): { kind: string; step: number }[] {
    return (this.chart.data.datasets[2].data as AlertDrawPoint[]).map((p) => ({ kind: p.alert.kind, step: p.step }));
  }

  drawnThreshold(): number {
    return this.drawnThresholdValue;
  }

  private drawThreshold(chart: Chart): void {
    const y = chart.scales.y;
    this.drawnThresholdValue = NaN;
    if (!Number.isFinite(this.threshold) || !y || this.threshold < y.min || this.threshold > y.max) return;
    this.drawnThresholdValue = this.threshold;
    const { left, right } = chart.chartArea;
    const py = y.getPixelForValue(this.threshold);
    const ctx = chart.ctx;
    ctx.save();
    ctx.strokeStyle = this.theme.warning;
    ctx.lineWidth = this.theme.highContrast ? 2 : 1;
    ctx.setLineDash([6, 4]);
    ctx.beginPath();
    ctx.moveTo(left, py);
    ctx.lineTo(right, py);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = this.theme.warning;
    ctx.font = `${Math.max(10, this.theme.fontSize - 2)}px ${this.theme.fontFamily}`;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'bottom';
    ctx.fillText(`threshold ${fmt(this.threshold)}`, right - 4, py - 2);
    ctx.restore();
  }

  private drawNonFiniteRules(chart: Chart): void {
    const { top, bottom } = chart.chartArea;
    const x = chart.scales.x;
    const ctx = chart.ctx;
    for (const rule of this.rules) {
      const markers = chart.data.datasets[rule.dataset]?.data as MarkerPoint[] | undefined;
      if (!markers?.length) continue;
      ctx.save();
      ctx.strokeStyle = withAlpha(rule.color, this.theme.highContrast ? 0.9 : 0.45);
      ctx.lineWidth = 1;
      ctx.beginPath();
      for (const m of markers) {
        const px = Math.round(x.getPixelForValue(m.x)) + 0.5;
        ctx.moveTo(px, top);
        ctx.lineTo(px, bottom);
      }
      ctx.stroke();
      ctx.fillStyle = rule.color;
      ctx.font = `${Math.max(10, this.theme.fontSize - 2)}px ${this.theme.fontFamily}`;
      ctx.textBaseline = 'top';
      for (const m of markers) {
        if (!m.label) continue;
        const px = x.getPixelForValue(m.x);
        // Beside the rule, on the side with room, below the marker at the top edge.
        const right = px < (chart.chartArea.left + chart.chartArea.right) / 2;
        ctx.textAlign = right ? 'left' : 'right';
        ctx.fillText(m.label, px + (right ? 6 : -6), top + 14);
      }
      ctx.restore();
    }
  }
}

function datasetsFor(theme: Theme): ChartDataset<'line', (Point | MarkerPoint | AlertDrawPoint)[]>[] {
  return [
    {
      label: 'total norm',
      data: [],
      yAxisID: 'y',
      ...colors(theme.norm, theme.norm),
      pointRadius: 0,
      pointHitRadius: 4,
      pointHoverRadius: 3,
      borderWidth: theme.highContrast ? 2 : 1.25,
      tension: 0,
    },
    {
      label: 'non-finite',
      showLine: false,
      data: [],
      yAxisID: 'edge',
      ...colors(theme.error, theme.error),
      pointStyle: 'crossRot',
      pointRadius: 7,
      pointHoverRadius: 9,
      borderWidth: 2.5,
    },
    {
      label: 'alerts',
      showLine: false,
      data: [],
      yAxisID: 'y',
      ...colors(theme.warning, withAlpha(theme.warning, 0.6)),
      pointRadius: 5,
      pointHoverRadius: 7,
      borderWidth: 1.5,
      pointStyle: (ctx: ScriptableContext<'line'>) =>
        (ctx.raw as AlertDrawPoint | undefined)?.alert.kind === 'spike' ? 'rectRot' : 'triangle',
    },
  ];
}

function overlayDatasets(
  run: OverlayRun,
  theme: Theme,
): ChartDataset<'line', (Point | MarkerPoint | AlertDrawPoint)[]>[] {
  const name = run.data.header?.name ?? run.key;
  return [
    {
      label: name,
      data: [],
      yAxisID: 'y',
      ...colors(run.color, run.color),
      borderDash: run.dash,
      pointRadius: 0,
      pointHitRadius: 4,
      pointHoverRadius: 3,
      borderWidth: theme.highContrast ? 2 : 1.5,
      tension: 0,
    },
    {
      label: `${name}: non-finite`,
      showLine: false,
      data: [],
      yAxisID: 'edge',
      ...colors(run.color, run.color),
      pointStyle: 'crossRot',
      pointRadius: 7,
      pointHoverRadius: 9,
      borderWidth: 2.5,
    },
  ];
}

/** Points take their colors from point* options (else Chart.defaults, the grid color). */
function colors(border: string, fill: string): Record<string, string> {
  return {
    borderColor: border,
    backgroundColor: fill,
    pointBorderColor: border,
    pointBackgroundColor: fill,
    pointHoverBorderColor: border,
    pointHoverBackgroundColor: fill,
  };
}

function stepOf(item: TooltipItem<'line'>): number {
  return (item.raw as Point).step;
}

function labelFor(item: TooltipItem<'line'>): string {
  const raw = item.raw as Point & Partial<MarkerPoint> & Partial<AlertDrawPoint>;
  if (raw.alert) return raw.alert.message;
  // Overlay lines are named after their run; the single run's datasets are not.
  const run =
    item.dataset.label && !['total norm', 'non-finite'].includes(item.dataset.label)
      ? `${item.dataset.label.replace(/: non-finite$/, '')}: `
      : '';
  if (raw.value !== undefined)
    return `${run}non-finite total norm: ${String(raw.value)}${raw.label ? `; ${raw.label}` : ''}`;
  return `${run}total norm ${fmt(raw.y)}`;
}
