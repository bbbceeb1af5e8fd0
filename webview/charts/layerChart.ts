/** The k layers with the largest norms in view, one line each; non-finite cells as markers at the top. */
import { Chart, ChartDataset, ChartOptions, TooltipItem } from 'chart.js';
import { fmt } from '../../src/shared/format';
import { LayerView } from '../../src/shared/webviewProtocol';
import { columnSteps, stepsPerColumn } from '../layerColumns';
import { LayerRank, topLayers } from '../layerRanking';
import { Point } from '../runData';
import { Theme } from '../theme';
import { baseOptions, EDGE_Y, formatStep, normAxes, StepAxis, syncStepAxis } from './common';
import { RedrawGate } from './redrawGate';
import { applyYScale, YScale } from './yScale';

interface LayerPoint extends Point {
  layer: string;
  lastStep: number;
  value: number;
}

type LayerDataset = ChartDataset<'line', LayerPoint[]>;

export class LayerChart {
  readonly chart: Chart<'line', LayerPoint[]>;
  private theme: Theme;
  private shown: LayerRank[] = [];
  private readonly gate = new RedrawGate();
  /**
   * One line per rank and the non-finite markers, kept across views: chart.js keys its per-dataset
   * state (controller, elements, resolved options) by the dataset object, so fresh objects per
   * view would rebuild all of it.
   */
  private readonly lines: LayerDataset[] = [];
  private readonly markers: LayerDataset = {
    label: 'non-finite',
    data: [],
    yAxisID: 'edge',
    showLine: false,
    pointStyle: 'crossRot',
    pointRadius: 6,
    borderWidth: 2,
  };

  constructor(
    canvas: HTMLCanvasElement,
    private readonly axis: StepAxis,
    theme: Theme,
  ) {
    this.theme = theme;
    this.chart = new Chart(canvas, { type: 'line', data: { datasets: [] }, options: this.optionsFor(theme) });
    this.applyTheme(theme);
  }

  applyTheme(theme: Theme): void {
    this.theme = theme;
    this.chart.options = this.optionsFor(theme);
    this.lines.forEach((d, i) => this.colorDataset(d, i));
    this.markers.borderColor = theme.error;
    this.markers.backgroundColor = theme.error;
    this.gate.invalidate();
  }

  private optionsFor(theme: Theme): ChartOptions<'line'> {
    const options = baseOptions(theme, this.axis);
    options.scales = { ...options.scales, ...normAxes(theme, this.axis, 'layer norm') };
    // Legend on top (not the side): every chart keeps the same x extent.
    options.plugins!.legend = {
      display: true,
      position: 'top',
      align: 'start',
      labels: { color: theme.foreground, boxWidth: 14, boxHeight: 2, filter: (item) => item.text !== 'non-finite' },
    };
    options.plugins!.tooltip!.callbacks = {
      title: (items: TooltipItem<'line'>[]) => {
        const p = items[0]?.raw as LayerPoint | undefined;
        return p
          ? p.step === p.lastStep
            ? `step ${formatStep(p.step)}`
            : `steps ${formatStep(p.step)}–${formatStep(p.lastStep)}`
          : '';
      },
      label: (item: TooltipItem<'line'>) => {
        const p = item.raw as LayerPoint;
        return Number.isFinite(p.value)
          ? `${p.layer}: max ${fmt(p.value)}`
          : `${p.layer}: non-finite (${String(p.value)})`;
      },
    };
    return options;
  }

  /** Layers drawn now, highest first (for the legend and tests). */
  get ranked(): readonly LayerRank[] {
    return this.shown;
  }

  render(view: LayerView | undefined, layers: readonly string[], k: number, yScale: YScale): void {
    const chart = this.chart;
    if (!this.gate.needed(chart, this.axis, [view, layers, k, yScale])) return;
    syncStepAxis(chart, this.axis);
    applyYScale(chart, 'y', yScale);
    const L = layers.length;
    if (!view || L === 0 || view.values.length !== view.columns * L) {
      this.shown = [];
      chart.data.datasets = [];
      chart.update('none');
      return;
    }
    this.shown = topLayers(view.values, view.columns, L, k);
    const per = stepsPerColumn(view);
    const markers: LayerPoint[] = [];
    const datasets = this.shown.map(({ layer }, i): LayerDataset => {
      const points: LayerPoint[] = [];
      for (let c = 0; c < view.columns; c++) {
        const v = view.values[c * L + layer];
        if (v === -Infinity) continue; // no data in this slice
        const { first, last } = columnSteps(view, c);
        const point: LayerPoint = {
          x: view.from + (c + 0.5) * per,
          y: v,
          step: first,
          lastStep: last,
          layer: layers[layer],
          value: v,
        };
        if (Number.isFinite(v)) points.push(point);
        else {
          points.push({ ...point, y: NaN }); // break the line where the layer is not finite
          markers.push({ ...point, y: EDGE_Y });
        }
      }
      const line = (this.lines[i] ??= this.colorDataset(
        { data: [], yAxisID: 'y', pointRadius: 0, pointHitRadius: 4, spanGaps: false },
        i,
      ));
      line.label = layers[layer];
      line.data = points;
      return line;
    });
    this.markers.data = markers;
    chart.data.datasets = [...datasets, this.markers];
    chart.update('none');
  }

  colorOf(rankIndex: number): string {
    const p = this.theme.palette;
    return p[rankIndex % p.length];
  }

  private colorDataset(d: LayerDataset, i: number): LayerDataset {
    const color = this.colorOf(i);
    d.borderColor = color;
    d.backgroundColor = color;
    // Past the palette, dashes keep lines apart.
    d.borderDash = i >= this.theme.palette.length ? [5, 3] : [];
    d.borderWidth = this.theme.highContrast ? 2 : 1.25;
    return d;
  }
}
