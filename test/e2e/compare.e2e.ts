/**
 * Compare Runs in real VS Code (code-server): two recorded runs selected together in the Runs view
 * (Ctrl+click), compared from the context menu, open one dashboard panel in compare mode with both
 * runs overlaid: each draws its true maximum, in its own color, with its NaN step as its own marker,
 * and the legend names both.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { runStartFor, SyntheticOptions, syntheticSteps } from '../../src/cli/synthetic';
import { stringifyKeepingNonFinite } from '../../src/protocol/json';
import { ClientMessage } from '../../src/protocol/messages';
import { dashboardFrame, hook, waitForHook } from './dashboardFrame';
import { launchVSCode, VSCodeSession } from './harness';

let vscode: VSCodeSession;

const RUNS: SyntheticOptions[] = [
  { runId: 'baseline-e2e', name: 'baseline lr 1e-3', steps: 600, spikeAt: 200, nanAt: 500, seed: 1 },
  { runId: 'warmup-e2e', name: 'warmup lr 3e-3', steps: 900, spikeAt: 700, nanAt: 800, seed: 2 },
];

/** The log of a run, and its largest finite total norm. */
function log(o: SyntheticOptions): { text: string; max: number } {
  const messages: ClientMessage[] = [
    runStartFor(o),
    ...syntheticSteps(o),
    { type: 'run_end', run_id: o.runId, status: 'completed' },
  ];
  let max = -Infinity;
  for (const m of messages)
    if (m.type === 'step' && Number.isFinite(m.total_norm) && m.total_norm! > max) max = m.total_norm!;
  return { text: messages.map((m) => stringifyKeepingNonFinite(m) + '\n').join(''), max };
}

const logs = RUNS.map(log);

before(async () => {
  vscode = await launchVSCode({
    files: Object.fromEntries(RUNS.map((o, i) => [`.gradient-monitor/runs/${o.runId}-0123456789.jsonl`, logs[i].text])),
    settings: { 'gradientMonitor.notifications.enabled': false },
  });
});

after(async () => {
  await vscode?.close();
});

const row = (text: string | RegExp) => vscode.page.locator('.monaco-list-row', { hasText: text }).first();

test('two recorded runs selected in the Runs view compare on one chart, each in its own color', async () => {
  await vscode.page
    .locator('.activitybar .action-item a[aria-label^="Gradient Monitor"]')
    .first()
    .click({ timeout: 30_000 });
  // Select both rows without opening them (a plain click opens the log editor).
  await row('baseline lr 1e-3').waitFor({ timeout: 30_000 });
  await row('baseline lr 1e-3').click({ modifiers: ['ControlOrMeta'] });
  await row('warmup lr 3e-3').click({ modifiers: ['ControlOrMeta'] });
  await vscode.page.locator('.monaco-list-row.selected').nth(1).waitFor({ timeout: 10_000 });
  await row('warmup lr 3e-3').click({ button: 'right' });
  // Menu items act on mouse-up in VS Code's own menus; choosing the hovered item with Enter works in every build.
  await vscode.page
    .locator('.context-view .action-label', { hasText: 'Compare Runs' })
    .first()
    .hover({ timeout: 10_000 });
  await vscode.page.keyboard.press('Enter');

  const frame = await dashboardFrame(vscode, 30_000, 'body.compare-mode');
  await vscode.page.locator('.tab', { hasText: 'Compare: ' }).waitFor({ timeout: 10_000 });
  await waitForHook(frame, 'both runs drawn whole', (h) => {
    const runs = h.drawnOverlay();
    return runs.length === 2 && runs.every((r) => r.norms.length > 0 && r.markers.length === 1) && h.range().to >= 899;
  });
  const runs = await hook(frame, (h) =>
    h.drawnOverlay().map((r) => ({
      name: r.name,
      color: r.color,
      max: Math.max(...r.norms.map((p) => p.y)),
      markers: r.markers.map((m) => m.step),
    })),
  );
  assert.deepEqual(new Set(runs.map((r) => r.name)), new Set(RUNS.map((o) => o.name)));
  for (const r of runs) {
    const i = RUNS.findIndex((o) => o.name === r.name);
    assert.equal(r.max, logs[i].max, `${r.name}: drawn maximum is the run's true maximum`);
    assert.deepEqual(r.markers, [RUNS[i].nanAt], `${r.name}: its NaN step is its own marker`);
  }
  assert.notEqual(runs[0].color, runs[1].color, 'each run has its own color');
  const legend = (await frame.textContent('#compare-legend')) ?? '';
  for (const o of RUNS) assert.ok(legend.includes(o.name ?? ''), `legend names ${o.name}: ${legend}`);
  await vscode.page.waitForTimeout(300);
  await vscode.screenshot('compare-runs');
});

test('the webviews caused no Content-Security-Policy violations', () => {
  assert.deepEqual(vscode.cspViolations(), []);
});
