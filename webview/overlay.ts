/**
 * The page's copy of a comparison: one RunData per compared run (so each run keeps its own sorted
 * points and non-finite markers, and decimation works per run), its color and dash, and the step
 * extent of all of them together, which the shared step axis aligns them on.
 */
import { CompareMessage } from '../src/shared/webviewProtocol';
import { RunData } from './runData';

export interface OverlayRun {
  key: string;
  data: RunData;
  color: string;
  /** Empty (solid) for the first round of the palette; dashed once colors repeat. */
  dash: number[];
}

/** The i-th run's look: palette colors in order, dashed when the palette has gone round once. */
export function overlayStyle(palette: readonly string[], i: number): { color: string; dash: number[] } {
  return { color: palette[i % palette.length], dash: i < palette.length ? [] : [6, 3] };
}

export class Overlay {
  runs: OverlayRun[] = [];

  load(m: CompareMessage, palette: readonly string[]): void {
    this.runs = m.runs.map((r, i) => {
      const data = new RunData();
      data.load({
        type: 'snapshot',
        run: r.run,
        rows: r.rows,
        alerts: [],
        summary: emptySummary(r.run.steps),
        bucketWidth: r.bucketWidth,
      });
      return { key: r.key, data, ...overlayStyle(palette, i) };
    });
  }

  /** Colors follow the theme: re-derived from its palette on a theme change. */
  restyle(palette: readonly string[]): void {
    this.runs.forEach((r, i) => Object.assign(r, overlayStyle(palette, i)));
  }

  /** Smallest first step and largest last step over all runs (NaN while none has steps). */
  get firstStep(): number {
    return this.runs.reduce((a, r) => (Number.isNaN(a) || r.data.firstStep < a ? r.data.firstStep : a), NaN);
  }

  get lastStep(): number {
    return this.runs.reduce((a, r) => (Number.isNaN(a) || r.data.lastStep > a ? r.data.lastStep : a), NaN);
  }

  get live(): boolean {
    return this.runs.some((r) => r.data.live);
  }

  /** The coarsest envelope among the runs (1 when every run is held raw). */
  get bucketWidth(): number {
    return Math.max(1, ...this.runs.map((r) => r.data.bucketWidth));
  }
}

function emptySummary(steps: number) {
  return { median: null, p99: null, window: 0, steps, stepsPerSecond: null, clipRate: null, clipWindow: 0 };
}
