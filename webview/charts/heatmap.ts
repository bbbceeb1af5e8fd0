/**
 * Layers × steps: each cell is a layer's largest norm over a slice of steps, on a log color scale
 * from the theme; non-finite cells have their own color, so the layer that blew up first shows as
 * the leftmost mark in its row. Hovering names the layer, steps and value.
 */
import { Chart, ChartOptions, Plugin } from 'chart.js';
import { fmt } from '../../src/shared/format';
import { LayerView } from '../../src/shared/webviewProtocol';
import { positiveRange, ramp, RAMP_STEPS, rampTable, Rgb } from '../colorScale';
import { columnAt, columnSteps } from '../layerColumns';
import { Theme } from '../theme';
import { baseOptions, formatStep, gutterFit, StepAxis, syncStepAxis } from './common';
import { RedrawGate } from './redrawGate';

export interface HeatmapCell {
  layer: string;
  firstStep: number;
  lastStep: number;
  value: number;
}

export class Heatmap {
  readonly chart: Chart<'scatter'>;
  private theme: Theme;
  private view?: LayerView;
  private layers: readonly string[] = [];
  private image?: HTMLCanvasElement;
  /** The theme's ramp as a table, and the stops it was made from. */
  private ramp: Uint8ClampedArray = new Uint8ClampedArray(0);
  private rampFor?: readonly Rgb[];
  range?: { lo: number; hi: number };
  private readonly gate = new RedrawGate();
  /** What the color key shows, to rebuild it only when that changes. */
  private legendFor: readonly unknown[] = [];

  constructor(
    canvas: HTMLCanvasElement,
    private readonly axis: StepAxis,
    theme: Theme,
    private readonly tooltip: HTMLElement,
  ) {
    this.theme = theme;
    const drawCells: Plugin<'scatter'> = { id: 'gmHeatmapCells', beforeDatasetsDraw: (chart) => this.drawCells(chart) };
    this.chart = new Chart(canvas, {
      type: 'scatter',
      data: { datasets: [{ data: [] }] },
      options: this.optionsFor(theme),
      plugins: [drawCells],
    });
    this.applyTheme(theme);
    canvas.addEventListener('mousemove', (e) => this.hover(e));
    canvas.addEventListener('mouseleave', () => (this.tooltip.hidden = true));
  }

  applyTheme(theme: Theme): void {
    this.theme = theme;
    this.chart.options = this.optionsFor(theme);
    this.gate.invalidate();
    this.paint();
  }

  private optionsFor(theme: Theme): ChartOptions<'scatter'> {
    const options = baseOptions(theme, this.axis);
    const names = this.layers;
    options.scales = {
      ...options.scales,
      y: {
        type: 'linear',
        ...gutterFit(this.axis, 'left'),
        reverse: true, // first layer (closest to the input) on top
        min: 0,
        max: Math.max(1, names.length),
        grid: { display: false },
        border: { color: theme.grid },
        afterBuildTicks: (scale) => {
          scale.ticks = names.map((_, i) => ({ value: i + 0.5 }));
        },
        ticks: {
          color: theme.muted,
          autoSkip: true,
          callback: (v) => shortLayerName(names[Math.floor(Number(v))] ?? ''),
        },
      },
    };
    options.plugins!.tooltip = { enabled: false };
    return options as ChartOptions<'scatter'>;
  }

  render(view: LayerView | undefined, layers: readonly string[]): void {
    const changed = view !== this.view || layers !== this.layers;
    this.view = view;
    if (layers !== this.layers) {
      this.layers = layers;
      this.applyTheme(this.theme); // the y axis lists the layers
    } else if (changed) {
      this.paint();
    }
    if (this.gate.needed(this.chart, this.axis, [layers])) {
      syncStepAxis(this.chart, this.axis);
      this.chart.update('none');
    } else if (changed) {
      this.chart.draw(); // new cells on the same axes: nothing to lay out
    }
  }

  /** The color key: a bar from the smallest to the largest value in view, and the non-finite color. */
  renderLegend(container: HTMLElement): void {
    const range = this.range;
    const key = [range?.lo, range?.hi, this.theme];
    if (key.every((v, i) => v === this.legendFor[i])) return;
    this.legendFor = key;
    container.replaceChildren();
    if (!range) return;
    const bar = document.createElement('canvas');
    bar.className = 'heat-bar';
    bar.width = 96;
    bar.height = 8;
    const ctx = bar.getContext('2d');
    if (ctx) {
      for (let x = 0; x < bar.width; x++) {
        const [r, g, b] = ramp(this.theme.heatStops, x / (bar.width - 1));
        ctx.fillStyle = `rgb(${r}, ${g}, ${b})`;
        ctx.fillRect(x, 0, 1, bar.height);
      }
    }
    const swatch = document.createElement('span');
    swatch.className = 'heat-swatch';
    const [r, g, b] = this.theme.heatNonFinite;
    swatch.style.background = `rgb(${r}, ${g}, ${b})`;
    const text = (s: string): HTMLSpanElement => {
      const span = document.createElement('span');
      span.textContent = s;
      return span;
    };
    container.append(text(fmt(range.lo)), bar, text(`${fmt(range.hi)} (log)`), swatch, text('NaN/Inf'));
  }

  /** The cell under a step and layer row, for hover and tests. */
  cellAt(step: number, row: number): HeatmapCell | undefined {
    const view = this.view;
    const L = this.layers.length;
    if (!view || row < 0 || row >= L) return undefined;
    const c = columnAt(view, step);
    if (c < 0 || c >= view.columns) return undefined;
    const value = view.values[c * L + row];
    if (value === -Infinity) return undefined;
    const { first, last } = columnSteps(view, c);
    return { layer: this.layers[row], firstStep: first, lastStep: last, value };
  }

  /** Renders the cells once into an offscreen image (one pixel per cell), scaled when drawn. */
  private paint(): void {
    const view = this.view;
    const L = this.layers.length;
    this.image = undefined;
    this.range = undefined;
    if (!view || L === 0 || view.values.length !== view.columns * L) return;
    const image = document.createElement('canvas');
    image.width = view.columns;
    image.height = L;
    const ctx = image.getContext('2d');
    if (!ctx) return;
    const pixels = ctx.createImageData(view.columns, L);
    const range = positiveRange(view.values);
    this.range = range;
    const { heatStops, heatNonFinite } = this.theme;
    if (this.rampFor !== heatStops) {
      this.rampFor = heatStops;
      this.ramp = rampTable(heatStops);
    }
    const colors = this.ramp;
    // logPosition, with the logarithms of the range taken once.
    const logLo = range ? Math.log(range.lo) : 0;
    const scale = range && range.hi > range.lo ? (RAMP_STEPS - 1) / (Math.log(range.hi) - logLo) : 0;
    const top = range && range.hi > range.lo ? 0 : RAMP_STEPS - 1; // a flat range is all top color, as logPosition says
    const data = pixels.data;
    for (let c = 0; c < view.columns; c++) {
      for (let l = 0; l < L; l++) {
        const v = view.values[c * L + l];
        if (v === -Infinity) continue; // no data: transparent
        const o = (l * view.columns + c) * 4;
        if (Number.isNaN(v) || v === Infinity) {
          data[o] = heatNonFinite[0];
          data[o + 1] = heatNonFinite[1];
          data[o + 2] = heatNonFinite[2];
        } else {
          const k =
            3 *
            (v > 0 && range
              ? Math.min(RAMP_STEPS - 1, Math.max(0, Math.round((Math.log(v) - logLo) * scale + top)))
              : 0);
          data[o] = colors[k];
          data[o + 1] = colors[k + 1];
          data[o + 2] = colors[k + 2];
        }
        data[o + 3] = 255;
      }
    }
    ctx.putImageData(pixels, 0, 0);
    this.image = image;
  }

  private drawCells(chart: Chart): void {
    const view = this.view;
    if (!view || !this.image) return;
    const { left, right, top, bottom } = chart.chartArea;
    const x = chart.scales.x;
    const x0 = x.getPixelForValue(view.from);
    const x1 = x.getPixelForValue(view.to + 1);
    const ctx = chart.ctx;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, right - left, bottom - top);
    ctx.clip();
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(this.image, x0, top, x1 - x0, bottom - top);
    ctx.restore();
  }

  private hover(e: MouseEvent): void {
    const chart = this.chart;
    const area = chart.chartArea;
    const rect = chart.canvas.getBoundingClientRect();
    const px = e.clientX - rect.left;
    const py = e.clientY - rect.top;
    const inside = px >= area.left && px <= area.right && py >= area.top && py <= area.bottom;
    const cell = inside
      ? this.cellAt(chart.scales.x.getValueForPixel(px) ?? NaN, Math.floor(chart.scales.y.getValueForPixel(py) ?? -1))
      : undefined;
    if (!cell) {
      this.tooltip.hidden = true;
      return;
    }
    const steps =
      cell.firstStep === cell.lastStep
        ? `step ${formatStep(cell.firstStep)}`
        : `steps ${formatStep(cell.firstStep)}–${formatStep(cell.lastStep)}`;
    const value = Number.isFinite(cell.value) ? `max norm ${fmt(cell.value)}` : `non-finite (${String(cell.value)})`;
    // Layer names come from the training script: text only, never markup.
    this.tooltip.textContent = '';
    const name = document.createElement('strong');
    name.textContent = cell.layer;
    this.tooltip.append(name, document.createElement('br'), `${steps}: ${value}`);
    this.tooltip.hidden = false;
    const tip = this.tooltip.getBoundingClientRect();
    const left = Math.min(e.clientX + 12, window.innerWidth - tip.width - 8);
    const topPx = e.clientY + 16 + tip.height > window.innerHeight ? e.clientY - tip.height - 8 : e.clientY + 16;
    this.tooltip.style.left = `${Math.max(4, left)}px`;
    this.tooltip.style.top = `${Math.max(4, topPx)}px`;
  }
}

/** Long module paths keep their most specific end. */
export function shortLayerName(name: string, max = 28): string {
  return name.length <= max ? name : `…${name.slice(name.length - max + 1)}`;
}
