/** Log or linear value axes. Norms span orders of magnitude, so log is the default. */
import { Chart } from 'chart.js';
import { fmt } from '../../src/shared/format';
import { rawOptions } from './common';

export type YScale = 'log' | 'linear';

/** Switches an axis between logarithmic and linear, keeping `suggestedMax` (the threshold) in view. */
export function applyYScale(chart: Chart, axisId: string, scale: YScale, suggestedMax?: number): void {
  const axis = rawOptions(chart).scales?.[axisId];
  if (!axis) return;
  Object.assign(axis, {
    type: scale === 'log' ? 'logarithmic' : 'linear',
    suggestedMax,
    beginAtZero: scale === 'linear',
  });
  axis.ticks = { ...axis.ticks, callback: scale === 'log' ? logTick : (v: number | string) => fmt(Number(v)) };
}

/** Log axes label 1, 2 and 5 times powers of ten only; the rest stay as grid lines. */
function logTick(value: number | string): string {
  const v = Number(value);
  const mantissa = Number((v / 10 ** Math.floor(Math.log10(v))).toPrecision(3));
  return mantissa === 1 || mantissa === 2 || mantissa === 5 ? fmt(v) : '';
}
