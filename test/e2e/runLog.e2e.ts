/**
 * Recorded logs in real VS Code (code-server): a run clicked in the Runs view opens in the
 * dashboard's read-only log editor with its chart and its summary; an alert in the summary zooms
 * the chart to its step; a crashed run's log (a bad line, a torn last line) opens with everything
 * readable, and says which line was bad; a log large enough for the worker-thread reader loads
 * through the bundled worker.
 */
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { runStartFor, syntheticSteps } from '../../src/cli/synthetic';
import { stringifyKeepingNonFinite } from '../../src/protocol/json';
import { ClientMessage } from '../../src/protocol/messages';
import { dashboardFrame, waitForHook } from './dashboardFrame';
import { launchVSCode, VSCodeSession } from './harness';

let vscode: VSCodeSession;

const lines = (messages: ClientMessage[]): string => messages.map((m) => stringifyKeepingNonFinite(m) + '\n').join('');

function files(): Record<string, string> {
  const done = { runId: 'finished-e2e', name: 'finished e2e run', steps: 400, spikeAt: 120, nanAt: 300, threshold: 5 };
  const crashed = { runId: 'crashed-e2e', name: 'crashed e2e run', steps: 250 };
  const crashedLines = lines([runStartFor(crashed), ...syntheticSteps(crashed)]).split('\n');
  crashedLines.splice(10, 0, '{"type":"step","run_id":"crashed-e2e","step":'); // line 11: a bad line in the middle
  const large = { runId: 'large-e2e', name: 'large e2e run', steps: 60_000, spikeAt: 40_000 };
  const largeLines = lines([runStartFor(large), ...syntheticSteps(large)]).split('\n');
  largeLines.splice(30_000, 0, '{"type":"step","run_id":"large-e2e"'); // line 30,001, in a worker's range
  return {
    // About 18 MB: over the size from which logs are parsed by worker threads.
    '.gradient-monitor/runs/large-e2e-0123456789.jsonl': largeLines.join('\n'),
    '.gradient-monitor/runs/finished-e2e-0123456789.jsonl': lines([
      runStartFor(done),
      ...syntheticSteps(done),
      { type: 'run_end', run_id: done.runId, status: 'completed' },
    ]),
    // Killed while writing: the last line stops mid-record, without a newline.
    '.gradient-monitor/runs/crashed-e2e-0123456789.jsonl':
      crashedLines.join('\n') + '{"type":"step","run_id":"crashed-e2e","step":250,"total_no',
  };
}

before(async () => {
  vscode = await launchVSCode({ files: files(), settings: { 'gradientMonitor.notifications.enabled': false } });
});

after(async () => {
  await vscode?.close();
});

const row = (text: string | RegExp) => vscode.page.locator('.monaco-list-row', { hasText: text }).first();

test('a recorded run opens from the Runs view in the dashboard editor, with its summary; a crashed log shows what it could read', async () => {
  await vscode.page
    .locator('.activitybar .action-item a[aria-label^="Gradient Monitor"]')
    .first()
    .click({ timeout: 30_000 });
  await row('finished e2e run').click({ timeout: 30_000 });

  let frame = await dashboardFrame(vscode, 30_000, '#recorded:not([hidden])');
  await vscode.page.locator('.tab', { hasText: 'finished-e2e-0123456789.jsonl' }).waitFor({ timeout: 10_000 });
  await waitForHook(
    frame,
    'the whole recorded run drawn',
    (h) => h.range().to >= 399 && h.drawnMarkers().some((m) => m.step === 300),
  );
  assert.equal(await frame.textContent('#run-state'), 'completed');
  const facts = (await frame.textContent('#recorded-facts')) ?? '';
  assert.match(facts, /Steps400 \(0 to 399\)/);
  assert.match(facts, /at step 120/, 'the maximum is the spike');
  assert.match(facts, /First non-finitestep 300 in /);
  assert.match(facts, /Suggested max_norm\d/);
  const alerts = frame.locator('#recorded-alerts button.link');
  assert.ok((await alerts.count()) >= 2, 'the threshold and NaN alerts are listed');
  await frame
    .locator('#recorded-alerts button.link', { hasText: /step 300: / })
    .first()
    .click();
  await waitForHook(frame, 'the chart zoomed to step 300', (h) => h.range().from > 250 && h.range().to < 350);
  await vscode.page.waitForTimeout(300);
  await vscode.screenshot('run-log-editor');

  await row('crashed e2e run').click();
  frame = await dashboardFrame(vscode, 30_000, '#log-problems:not([hidden])');
  await waitForHook(
    frame,
    'every complete step of the crashed run',
    (h) => h.range().to >= 249 && h.drawnNorms().length === 250,
  );
  const problems = (await frame.textContent('#log-problems')) ?? '';
  assert.match(problems, /crashed-e2e-0123456789\.jsonl/, 'the message names the file');
  assert.match(problems, /line 11: /, 'and the bad line');
  assert.match(problems, /last line was cut short/);
  assert.match((await frame.textContent('#recorded-status')) ?? '', /unfinished/);
  assert.equal(await frame.textContent('#run-state'), 'interrupted', 'nothing streams into a log: it is not live');
  await vscode.page.waitForTimeout(300);
  await vscode.screenshot('run-log-editor-crashed');
});

test('a log that is still being written keeps growing in the open editor, and its run counts as live', async () => {
  const file = path.join(vscode.workspace, '.gradient-monitor/runs/crashed-e2e-0123456789.jsonl');
  const frame = await dashboardFrame(vscode, 30_000, '#log-problems:not([hidden])');
  // The writer finishes the half-written step 250 and goes on.
  const more = { runId: 'crashed-e2e', steps: 260 };
  const later = lines([...syntheticSteps(more)].slice(251));
  appendFileSync(file, `rm":1.5}\n${later}`);
  await waitForHook(frame, 'steps 250..259 appended to the open log', (h) => h.drawnNorms().length === 260, 20_000);
  assert.equal(await frame.textContent('#run-state'), 'live');
  appendFileSync(file, lines([{ type: 'run_end', run_id: 'crashed-e2e', status: 'completed' }]));
  for (let i = 0; i < 50 && (await frame.textContent('#run-state')) !== 'completed'; i++)
    await vscode.page.waitForTimeout(200);
  assert.equal(await frame.textContent('#run-state'), 'completed');
});

test('a log large enough for worker threads loads whole in the extension host, its bad line located', async () => {
  await row('large e2e run').click({ timeout: 30_000 });
  const frame = await dashboardFrame(vscode, 60_000, '#log-problems:not([hidden])');
  await waitForHook(frame, 'the whole large run drawn', (h) => h.range().to >= 59_999, 60_000);
  const facts = (await frame.textContent('#recorded-facts')) ?? '';
  assert.match(facts, /Steps60,000 \(0 to 59,999\)/);
  assert.match(facts, /at step 40,?000/, 'the maximum is the spike');
  assert.match((await frame.textContent('#log-problems')) ?? '', /line 30,?001: /);
});

test('the webviews caused no Content-Security-Policy violations', () => {
  assert.deepEqual(vscode.cspViolations(), []);
});
