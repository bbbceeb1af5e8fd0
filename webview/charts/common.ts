/** Chart.js setup shared by the dashboard's charts: registration, theme, the step axis, zoom and pan. */
import {
  Chart,
  ChartOptions,
  ChartType,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  LogarithmicScale,
  Plugin,
  PointElement,
  ScatterController,
  Tooltip,
} from 'chart.js';
import zoomPlugin from 'chartjs-plugin-zoom';
import { StepRange } from '../../src/shared/stepWindow';
import { withAlpha } from '../colorScale';
import { Theme } from '../theme';

Chart.register(
  LineController,
  ScatterController,
  LineElement,
  PointElement,
  LinearScale,
  LogarithmicScale,
  Tooltip,
  Legend,
  zoomPlugin,
);

const compact = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 });
const whole = new Intl.NumberFormat('en', { maximumFractionDigits: 0 });

/** A step as people read it: 123,457. */
export function formatStep(step: number): string {
  return whole.format(step);
}

/** Axis ticks stay short: 20K, 1.5M. */
export function formatStepTick(step: number): string {
  return Math.abs(step) >= 10_000 ? compact.format(step) : whole.format(step);
}

/** What every chart needs from the dashboard: the shared step range and where user zooms go. */
export interface StepAxis {
  range(): StepRange;
  /** Steps the zoom may reach: the run's extent. */
  limits(): StepRange;
  onUserRange(range: StepRange): void;
  /** A chart took a new size (chart.js redraws it as it was): what it draws may depend on its width. */
  onResize(): void;
  /**
   * Widths of the value axes left and right of every chart, equal for all charts so that a step
   * sits at the same x in each of them (the heatmap's layer names set the left one).
   */
  gutters: { left: number; right: number };
}

/** Markers of non-finite values sit near the top of a hidden 0..1 axis, whatever the value scale. */
export const EDGE_Y = 0.95;
export const EDGE_AXIS = { type: 'linear', axis: 'y', min: 0, max: 1, display: false } as const;

/** A log-scaled norm axis (switchable, see yScale.ts) in the left gutter, and the hidden edge axis for markers. */
export function normAxes(theme: Theme, axis: StepAxis, title: string) {
  return {
    y: {
      type: 'logarithmic' as const,
      ...gutterFit(axis, 'left'),
      grid: { color: theme.grid },
      border: { color: theme.grid },
      ticks: { color: theme.muted },
      title: { display: true, text: title, color: theme.muted },
    },
    edge: { ...EDGE_AXIS },
  };
}

/** Pins a value axis to the shared gutter width. */
export function gutterFit(axis: StepAxis, side: 'left' | 'right'): { afterFit(scale: { width: number }): void } {
  return {
    afterFit(scale) {
      scale.width = axis.gutters[side];
    },
  };
}

export function applyChartDefaults(theme: Theme): void {
  Chart.defaults.color = theme.foreground;
  Chart.defaults.borderColor = theme.grid;
  Chart.defaults.font.family = theme.fontFamily;
  Chart.defaults.font.size = Math.max(10, theme.fontSize - 1);
}

/**
 * Options common to all charts: no animation (streaming), pre-parsed sorted data (decimated by
 * RunData.drawable), shared x axis, zoom.
 */
export function baseOptions(theme: Theme, axis: StepAxis): ChartOptions<'line'> {
  const { from, to } = axis.range();
  const limits = axis.limits();
  const userRange = ({ chart }: { chart: Chart }): void => {
    const x = chart.scales.x;
    axis.onUserRange({ from: x.min, to: x.max });
  };
  return {
    animation: false,
    parsing: false,
    layout: { padding: { right: 0 } },
    normalized: true,
    responsive: true,
    maintainAspectRatio: false,
    onResize: () => axis.onResize(),
    interaction: { mode: 'nearest', axis: 'x', intersect: false },
    scales: {
      x: {
        type: 'linear',
        min: from,
        max: to,
        grid: { color: theme.grid },
        ticks: { color: theme.muted, maxRotation: 0, autoSkipPadding: 24, callback: (v) => formatStepTick(Number(v)) },
        border: { color: theme.grid },
      },
    },
    plugins: {
      legend: { display: false },
      tooltip: {
        backgroundColor: theme.tooltipBackground,
        titleColor: theme.tooltipForeground,
        bodyColor: theme.tooltipForeground,
        borderColor: theme.tooltipBorder,
        borderWidth: 1,
        displayColors: true,
        boxPadding: 3,
      },
      zoom: {
        limits: { x: { min: limits.from, max: limits.to, minRange: 10 } },
        pan: { enabled: true, mode: 'x', onPanComplete: userRange },
        zoom: {
          mode: 'x',
          wheel: { enabled: true },
          pinch: { enabled: true },
          drag: {
            enabled: true,
            modifierKey: 'shift',
            backgroundColor: withAlpha(theme.norm, 0.15),
            borderColor: theme.norm,
            borderWidth: 1,
          },
          onZoomComplete: userRange,
        },
      },
    },
  };
}

/**
 * The options a chart was given, as given. `chart.options` is chart.js's resolving proxy: every
 * read through it costs a scope lookup, many per frame; writes to either land in the same object.
 */
export function rawOptions<T extends ChartType>(chart: Chart<T>): ChartOptions<T> {
  return chart.config.options as ChartOptions<T>;
}

/** Keeps a chart's step axis and zoom limits in line with the dashboard's range. */
export function syncStepAxis(chart: Chart, axis: StepAxis): void {
  const options = rawOptions(chart);
  const x = options.scales?.x;
  const { from, to } = axis.range();
  if (x) {
    x.min = from;
    x.max = to;
  }
  const padding = options.layout?.padding;
  if (padding && typeof padding === 'object' && !hasRightAxis(options))
    (padding as { right: number }).right = axis.gutters.right;
  const limits = options.plugins?.zoom?.limits?.x;
  if (limits) {
    const l = axis.limits();
    limits.min = l.from;
    limits.max = l.to;
  }
}

/**
 * Calls `fill` with the steps in view and the plot's width before every update of the chart (the
 * first included, inside its constructor): the dashboard's frames, and the zoom plugin's own while
 * the user wheels or pans, which show other steps than the last frame did. Lines decimated for
 * what is in view get their points there (where chart.js's decimation plugin works).
 */
export function pointsInView(
  fill: (chart: Chart<'line'>, from: number, to: number, widthPx: number) => void,
): Plugin<'line'> {
  return {
    id: 'gmPointsInView',
    beforeElementsUpdate(chart) {
      const { min, max } = chart.scales.x.getUserBounds();
      fill(chart, min, max, chart.chartArea?.width || chart.width);
    },
  };
}

function hasRightAxis(options: ChartOptions): boolean {
  return Object.values(options.scales ?? {}).some(
    (s) =>
      (s as { position?: string; display?: unknown }).position === 'right' &&
      (s as { display?: unknown }).display !== false,
  );
}
