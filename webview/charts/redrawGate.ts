/**
 * Whether a chart must be laid out and drawn again: something it draws from changed, or the step
 * range moved by half a pixel or more. While a run streams, an update changes the norms or the
 * layer view, rarely both, and following the whole run moves the range by a fraction of a pixel
 * per update: the charts whose inputs stayed keep their frame, which no one could tell apart.
 */
import type { Chart } from 'chart.js';
import type { StepRange } from '../../src/shared/stepWindow';
import type { StepAxis } from './common';

export class RedrawGate {
  private inputs: readonly unknown[] = [];
  private stale = true;
  /** The step range of the last redraw. */
  private drawn?: StepRange;

  /** The next check answers yes (new options, theme). */
  invalidate(): void {
    this.stale = true;
  }

  /** `inputs`: what the chart draws from besides its width, the step range and the gutters, compared by identity. */
  needed(chart: Chart, axis: StepAxis, inputs: readonly unknown[]): boolean {
    const all = [chart.width, axis.gutters.left, axis.gutters.right, ...inputs];
    const range = axis.range();
    // Against the last redraw (markers and alerts were picked for its range) and against what the
    // step axis shows now (a zoom gesture moves it without a redraw).
    const x = chart.scales.x;
    const changed = this.stale || all.length !== this.inputs.length || all.some((v, i) => v !== this.inputs[i]) || !x || apart(chart, range, this.drawn) || apart(chart, range, { from: x.min, to: x.max });
    this.inputs = all;
    this.stale = false;
    if (changed) this.drawn = range;
    return changed;
  }
}

/** Whether two step ranges differ by half a pixel or more at either end on the chart's plot area. */
function apart(chart: Chart, a: StepRange, b: StepRange | undefined): boolean {
  const area = chart.chartArea;
  if (!b || !area || !(area.right > area.left)) return true;
  const halfPx = (a.to - a.from) / (area.right - area.left) / 2;
  return !(Math.abs(a.from - b.from) < halfPx && Math.abs(a.to - b.to) < halfPx);
}
