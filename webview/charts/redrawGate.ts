/**
 * Whether a chart must be laid out and drawn again: something it draws from changed, or the step
 * range or the zoom limits (the run's extent) moved by half a pixel or more. While a run streams,
 * an update changes the norms or the layer view, rarely both, and following the whole run moves
 * the range by a fraction of a pixel per update: the charts whose inputs stayed keep their frame,
 * which no one could tell apart.
 */
import type { Chart } from 'chart.js';
import type { StepRange } from '../../src/shared/stepWindow';
import type { StepAxis } from './common';

export class RedrawGate {
  private inputs: readonly unknown[] = [];
  private stale = true;
  /** The step range and the zoom limits of the last redraw. */
  private drawn?: { range: StepRange; limits: StepRange };

  /** The next check answers yes (new options, theme). */
  invalidate(): void {
    this.stale = true;
  }

  /** `inputs`: what the chart draws from besides its width, the step range and the gutters, compared by identity. */
  needed(chart: Chart, axis: StepAxis, inputs: readonly unknown[]): boolean {
    const all = [chart.width, axis.gutters.left, axis.gutters.right, ...inputs];
    const range = axis.range();
    const limits = axis.limits();
    const x = chart.scales.x;
    const area = chart.chartArea;
    const halfPx = area && area.right > area.left ? (range.to - range.from) / (area.right - area.left) / 2 : NaN;
    const apart = (a: StepRange, b: StepRange | undefined): boolean =>
      !b || !(Math.abs(a.from - b.from) < halfPx && Math.abs(a.to - b.to) < halfPx);
    const changed =
      this.stale ||
      all.length !== this.inputs.length ||
      all.some((v, i) => v !== this.inputs[i]) ||
      !x ||
      // Against the last redraw (markers and alerts were picked for its range; the zoom plugin
      // reads its limits once per chart update) and against what the step axis shows now (a zoom
      // gesture moves it without a redraw).
      apart(range, this.drawn?.range) ||
      apart(limits, this.drawn?.limits) ||
      apart(range, { from: x.min, to: x.max });
    this.inputs = all;
    this.stale = false;
    if (changed) this.drawn = { range, limits };
    return changed;
  }
}
