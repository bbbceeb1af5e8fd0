/**
 * When a dashboard chart is drawn again: a changed input, its width or the gutters, or the step
 * range or zoom limits moved half a pixel from the last redraw, or the range from what a zoom
 * gesture left on its axis; not for the sub-pixel growth of a followed run.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Chart } from 'chart.js';
import { RedrawGate } from '../../webview/charts/redrawGate';
import type { StepAxis } from '../../webview/charts/common';

/** A chart as far as the gate looks: 1000 px of plot showing `shown`. */
function fakeChart(shown: { from: number; to: number }, width = 1100): Chart {
  return {
    width,
    chartArea: { left: 100, right: 1100 },
    scales: { x: { min: shown.from, max: shown.to } },
  } as unknown as Chart;
}

function fakeAxis(range: { from: number; to: number }, limits = range): StepAxis {
  return {
    range: () => ({ ...range }),
    limits: () => ({ ...limits }),
    onUserRange: () => {},
    onResize: () => {},
    gutters: { left: 72, right: 0 },
  };
}

test('a chart is drawn first, then again only when an input, the width or the gutters change', () => {
  const gate = new RedrawGate();
  const range = { from: 0, to: 1_000_000 };
  const chart = fakeChart(range);
  const axis = fakeAxis(range);
  const view = {};
  assert.equal(gate.needed(chart, axis, [view, 5]), true, 'first frame');
  assert.equal(gate.needed(chart, axis, [view, 5]), false, 'nothing changed');
  assert.equal(gate.needed(chart, axis, [view, 6]), true, 'another top k');
  const resized = fakeChart(range, 900);
  assert.equal(gate.needed(resized, axis, [view, 6]), true, 'resized');
  axis.gutters.left = 120;
  assert.equal(gate.needed(resized, axis, [view, 6]), true, 'wider layer names');
  assert.equal(gate.needed(resized, axis, [view, 6]), false);
  gate.invalidate();
  assert.equal(gate.needed(resized, axis, [view, 6]), true, 'new theme');
});

test('a followed run growing by a fraction of a pixel per update redraws once the growth reaches half a pixel', () => {
  const gate = new RedrawGate();
  const range = { from: 0, to: 1_000_000 }; // 1000 steps a pixel
  const axis = fakeAxis(range);
  let chart = fakeChart({ ...range });
  assert.equal(gate.needed(chart, axis, []), true);
  const drawn: boolean[] = [];
  for (let i = 1; i <= 10; i++) {
    range.to = 1_000_000 + 100 * i; // 0.1 px more each update
    const yes = gate.needed(chart, axis, []);
    if (yes) chart = fakeChart({ ...range });
    drawn.push(yes);
  }
  assert.deepEqual(
    drawn.map((yes, i) => (yes ? i + 1 : 0)).filter(Boolean),
    [6],
    'half a pixel is 500 steps: redrawn after the 6th update',
  );
});

test('a zoom gesture that leaves the axis elsewhere than the dashboard range redraws, even when the range stayed', () => {
  const gate = new RedrawGate();
  const range = { from: 0, to: 1000 };
  const axis = fakeAxis(range);
  assert.equal(gate.needed(fakeChart(range), axis, []), true);
  assert.equal(
    gate.needed(fakeChart({ from: 200, to: 600 }), axis, []),
    true,
    'the wheel moved the axis; the range was clamped back',
  );
  assert.equal(gate.needed(fakeChart(range), axis, []), false);
  range.from = 200;
  range.to = 600;
  assert.equal(
    gate.needed(fakeChart({ from: 200, to: 600 }), axis, []),
    true,
    'the axis already shows the zoomed range, but markers were picked for the last one',
  );
});

test('looking at history while the run grows: redrawn once the zoom limits grew by half a pixel of the view', () => {
  const gate = new RedrawGate();
  const range = { from: 1000, to: 2000 }; // one step a pixel
  const limits = { from: 0, to: 10_000 };
  const axis = fakeAxis(range, limits);
  const chart = fakeChart(range);
  assert.equal(gate.needed(chart, axis, []), true);
  limits.to += 0.25;
  assert.equal(gate.needed(chart, axis, []), false, 'a quarter of a pixel');
  limits.to += 100;
  assert.equal(gate.needed(chart, axis, []), true, 'the pan may now reach the new steps');
});
