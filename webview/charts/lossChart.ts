/** Loss (left axis) and learning rate (right axis), when the client reports them. */
import { Chart, ChartDataset, ChartOptions, TooltipItem } from 'chart.js';
import { fmt } from '../../src/shared/format';
import { Point, RunData } from '../runData';
import { Theme } from '../theme';
import { baseOptions, formatStep, gutterFit, pointsInView, rawOptions, StepAxis, syncStepAxis } from './common';
import { RedrawGate } from './redrawGate';

export class LossChart {
  readonly chart: Chart<'line', Point[]>;
  private readonly gate = new RedrawGate();
  private data?: RunData;

  constructor(
    canvas: HTMLCanvasElement,
    private readonly axis: StepAxis,
    theme: Theme,
  ) {
    this.chart = new Chart(canvas, {
      type: 'line',
      data: { datasets: datasetsFor(theme) },
      options: this.optionsFor(theme),
      plugins: [pointsInView((chart, from, to, width) => this.fillLines(chart, from, to, width))],
    });
  }

  applyTheme(theme: Theme): void {
    // Fresh dataset objects: chart.js caches resolved options per dataset.
    this.chart.data.datasets = datasetsFor(theme);
    this.chart.options = this.optionsFor(theme);
    this.gate.invalidate();
  }

  private optionsFor(theme: Theme): ChartOptions<'line'> {
    const options = baseOptions(theme, this.axis);
    const axis = (title: string | undefined, position: 'left' | 'right') => ({
      type: 'linear' as const,
      position,
      ...gutterFit(this.axis, position),
      grid: { color: theme.grid, drawOnChartArea: position === 'left' },
      border: { color: theme.grid },
      ticks: { color: theme.muted, maxTicksLimit: 5, callback: (v: number | string) => fmt(Number(v)) },
      title: { display: title !== undefined, text: title, color: theme.muted },
    });
    // Learning rates are often constant for long stretches: from zero, rounding noise stays flat.
    options.scales = {
      ...options.scales,
      y: axis('loss', 'left'),
      lr: { ...axis(undefined, 'right'), beginAtZero: true },
    }; // the legend names it
    options.plugins!.legend = {
      display: true,
      position: 'top',
      align: 'end',
      labels: { color: theme.foreground, boxWidth: 14, boxHeight: 2 },
    };
    options.plugins!.tooltip!.callbacks = {
      title: (items: TooltipItem<'line'>[]) => (items.length ? `step ${formatStep((items[0].raw as Point).step)}` : ''),
      label: (item: TooltipItem<'line'>) => `${item.dataset.label}: ${fmt((item.raw as Point).y)}`,
    };
    return options;
  }

  /** Whether the run reports loss or learning rate at all (the panel hides otherwise). */
  static hasData(data: RunData): boolean {
    return data.losses.length > 0 || data.lrs.length > 0;
  }

  render(data: RunData): void {
    const chart = this.chart;
    if (!this.gate.needed(chart, this.axis, [data.version])) return;
    syncStepAxis(chart, this.axis);
    this.data = data;
    const scales = rawOptions(chart).scales!;
    scales.y!.display = data.losses.length > 0;
    scales.lr!.display = data.lrs.length > 0;
    chart.update('none');
  }

  private fillLines(chart: Chart<'line'>, from: number, to: number, width: number): void {
    const data = this.data;
    if (!data) return;
    const [loss, lr] = chart.data.datasets;
    loss.data = data.drawable('losses', from, to, width);
    lr.data = data.drawable('lrs', from, to, width);
  }
}

function datasetsFor(theme: Theme): ChartDataset<'line', Point[]>[] {
  const loss = theme.palette[2];
  const lr = theme.palette[3];
  return [
    {
      label: 'loss',
      data: [],
      yAxisID: 'y',
      borderColor: loss,
      backgroundColor: loss,
      pointRadius: 0,
      pointHitRadius: 4,
      borderWidth: 1.25,
    },
    {
      label: 'learning rate',
      data: [],
      yAxisID: 'lr',
      borderColor: lr,
      backgroundColor: lr,
      pointRadius: 0,
      pointHitRadius: 4,
      borderWidth: 1.25,
      borderDash: [4, 3],
    },
  ];
}
