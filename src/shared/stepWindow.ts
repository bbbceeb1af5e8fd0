/** Resolving a dashboard's step window against a run's extent, and what a user's zoom means for following. */
import type { StepWindow } from './webviewProtocol';

export interface StepRange {
  from: number;
  to: number;
}

/** The steps a window shows for a run spanning first..last. */
export function resolveWindow(window: StepWindow, first: number, last: number): StepRange {
  switch (window.kind) {
    case 'all':
      return { from: first, to: Math.max(first, last) };
    case 'latest':
      return { from: Math.max(first, last - window.width), to: Math.max(first, last) };
    case 'range':
      return { from: window.from, to: window.to };
  }
}

/**
 * The window after the user zoomed or panned to `range`. A view whose right edge still reaches the
 * latest step of a live run keeps following it with the same width; one that looks at history stops.
 */
export function windowAfterZoom(range: StepRange, first: number, last: number, live: boolean): StepWindow {
  const width = range.to - range.from;
  const slack = Math.max(1, width * 0.01); // a pixel or so of rounding must not stop following
  const reachesLatest = range.to >= last - slack;
  if (reachesLatest && range.from <= first + slack) return { kind: 'all' };
  if (live && reachesLatest) return { kind: 'latest', width };
  return { kind: 'range', from: range.from, to: range.to };
}

/** Whether a window moves with new steps. */
export function follows(window: StepWindow): boolean {
  return window.kind !== 'range';
}
