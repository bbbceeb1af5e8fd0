/**
 * The dashboard in real VS Code (code-server): open it, stream a run with `simulate`, watch the
 * chart grow and the threshold and NaN markers appear; hide and show the panel; reload the window
 * (the extension host restarts) and see the restored panel re-attach when the run streams again;
 * Reproduce on a traced NaN opens the replay lines in an editor.
 */
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { stringifyKeepingNonFinite } from '../../src/protocol/json';
import type { DiscoveryRecord } from '../../src/server/discovery';
import { connect } from '../helpers/endpoint';
import { LOG_GATE_ORIGIN } from '../helpers/exampleOrigin';
import { dashboardFrame as findDashboard, hook, waitForHook } from './dashboardFrame';
import { launchVSCode, REPO, VSCodeSession } from './harness';

let vscode: VSCodeSession;

before(async () => {
  vscode = await launchVSCode({
    files: { 'train.py': 'print("training")\n' },
    settings: { 'gradientMonitor.notifications.enabled': false },
  });
});

after(async () => {
  await vscode?.close();
});

const dashboardFrame = (timeoutMs?: number) => findDashboard(vscode, timeoutMs);

/** `--token=T`: a random token may start with '-', which a separate argument would turn into an option. */
function simulate(endpoint: DiscoveryRecord, args: string[]): { done: Promise<number>; child: ChildProcess } {
  const child = spawn(
    process.execPath,
    [
      path.join(REPO, 'bin', 'gradient-monitor'),
      'simulate',
      `--url=${endpoint.url}`,
      `--token=${endpoint.token}`,
      ...args,
    ],
    { stdio: 'ignore' },
  );
  return { child, done: new Promise((resolve) => child.once('exit', (code) => resolve(code ?? -1))) };
}

test('the dashboard grows with a streamed run and marks the threshold breach and the NaN step', async () => {
  const endpoint = await vscode.endpoint();
  await vscode.runCommand('Gradient Monitor: Open Dashboard');
  let frame = await dashboardFrame();
  await frame.waitForSelector('#message:not([hidden])');
  assert.match((await frame.textContent('#message')) ?? '', /No runs yet/);

  const sim = simulate(endpoint, [
    '--steps',
    '1500',
    '--rate',
    '300',
    '--spike-at',
    '400',
    '--nan-at',
    '1100',
    '--threshold',
    '5',
    '--run-id',
    'e2e-dashboard',
    '--name',
    'e2e dashboard run',
  ]);
  await waitForHook(frame, 'the first steps', (h) => h.range().to > 50);
  const early = await hook(frame, (h) => h.range().to);
  await waitForHook(frame, 'the chart to grow', (h) => h.range().to > 600);
  assert.ok((await hook(frame, (h) => h.range().to)) > early, 'the view follows the growing run');
  await waitForHook(frame, 'a threshold marker at the spike', (h) =>
    h.drawnAlerts().some((a) => a.kind === 'threshold' && a.step === 400),
  );
  await waitForHook(frame, 'the NaN marker', (h) => h.drawnMarkers().some((m) => m.step === 1100));
  assert.equal(await sim.done, 0);
  await waitForHook(frame, 'the whole run', (h) => h.range().to === 1499);
  // The run's end comes in the session's next update, which may follow the last steps' by a beat.
  await frame
    .waitForFunction(() => document.getElementById('run-state')?.textContent === 'completed', undefined, {
      timeout: 10_000,
    })
    .catch(() => undefined);
  assert.equal(await frame.textContent('#run-state'), 'completed');
  assert.match((await frame.textContent('#run-select')) ?? '', /e2e dashboard run — other · completed · 1,500 steps/);
  await vscode.page.waitForTimeout(500);
  await vscode.screenshot('dashboard-e2e-streamed');
  await frame.evaluate(() => document.getElementById('heatmap')?.scrollIntoView({ block: 'end' }));
  await vscode.page.waitForTimeout(300);
  await vscode.screenshot('dashboard-e2e-layers');
  await frame.evaluate(() => window.scrollTo(0, 0));

  // Hidden behind another editor, the page is dropped; shown again, it comes back from its state.
  await vscode.page.keyboard.press('F1');
  const quickOpen = vscode.page.locator('.quick-input-widget input');
  await quickOpen.fill('train.py'); // without '>' the palette opens files
  await vscode.page.locator('.quick-input-widget .monaco-list-row', { hasText: 'train.py' }).first().waitFor();
  await vscode.page.keyboard.press('Enter');
  await vscode.page.locator('.tab', { hasText: 'train.py' }).waitFor();
  assert.equal(await dashboardFrame(2000).catch(() => undefined), undefined, 'the hidden panel dropped its page');
  await vscode.page.locator('.tab', { hasText: 'Gradient Monitor' }).click();
  frame = await dashboardFrame();
  await waitForHook(
    frame,
    'the restored chart',
    (h) => h.range().to === 1499 && h.drawnMarkers().some((m) => m.step === 1100),
  );

  // A window reload restarts the extension host: the serializer restores the panel, which waits
  // for its run and re-attaches when the training process streams again.
  await vscode.runCommand('Developer: Reload Window');
  await vscode.page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
  const next = await waitForNewEndpoint(endpoint);
  frame = await dashboardFrame(60_000);
  await frame.waitForSelector('#message:not([hidden])');
  assert.match(
    (await frame.textContent('#message')) ?? '',
    /Waiting for run “e2e-dashboard”/,
    'the restored panel waits for its run',
  );
  const again = simulate(next, [
    '--steps',
    '200',
    '--rate',
    '400',
    '--run-id',
    'e2e-dashboard',
    '--name',
    'e2e dashboard run',
  ]);
  assert.equal(await again.done, 0);
  await waitForHook(
    frame,
    'the re-attached run',
    (h) => h.range().to === 1499 && h.drawnMarkers().some((m) => m.step === 1100),
    30_000,
  );
  await waitForHook(
    frame,
    'the run to show completed',
    () => document.getElementById('run-state')?.textContent === 'completed',
  );
  await vscode.screenshot('dashboard-e2e-restored');
});

/** After a reload the extension publishes a new endpoint (new extension host process). */
async function waitForNewEndpoint(old: DiscoveryRecord): Promise<DiscoveryRecord> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const e = await vscode.endpoint();
    if (e.pid !== old.pid || e.url !== old.url) return e;
    if (Date.now() > deadline) throw new Error('no new endpoint after the reload');
    await new Promise((r) => setTimeout(r, 500));
  }
}

test('Reproduce on a traced NaN with a snapshot opens the replay lines in an untitled Python editor', async () => {
  const endpoint = await vscode.endpoint();
  const snapshot = '/tmp/gm-e2e-run/.gradient-monitor/snapshots/e2e-traced/step-3.pt';
  const client = await connect(endpoint.url, { authorization: `Bearer ${endpoint.token}` });
  const messages: object[] = [
    { type: 'run_start', run_id: 'e2e-traced', name: 'traced run', layers: ['a', 'b'], threshold: 10 },
    ...[0, 1, 2, 3].map((step) => ({
      type: 'step',
      run_id: 'e2e-traced',
      step,
      total_norm: step === 3 ? NaN : 1,
      layer_norms: [step === 3 ? NaN : 0.5, 0.5],
      ...(step === 3 ? { nonfinite_origin: { ...LOG_GATE_ORIGIN, snapshot } } : {}),
    })),
  ];
  for (const m of messages) client.ws.send(stringifyKeepingNonFinite(m));
  await vscode.runCommand('Gradient Monitor: Open Dashboard');
  const frame = await dashboardFrame();
  await frame.waitForSelector('#run-select option[value="e2e-traced"]', { state: 'attached' });
  await frame.selectOption('#run-select', 'e2e-traced');
  const reproduce = await frame.waitForSelector('.stat-nonFinite button.stat-action:not([hidden])');
  await reproduce.click();
  const lines = vscode.page.locator('.monaco-editor .view-lines', { hasText: 'detect_anomaly' }).first();
  await lines.waitFor({ timeout: 20_000 });
  const text = (await lines.textContent())?.replace(/\u00a0/g, ' ') ?? '';
  assert.ok(text.includes(`torch.load(${JSON.stringify(snapshot)}, weights_only=False)`), text);
  assert.ok(text.includes('Step 3 of run "e2e-traced"'), text);
  await dashboardFrame(5_000); // opened beside the dashboard, which keeps its page
  await vscode.screenshot('dashboard-e2e-reproduce');
  client.ws.close();
});

test('the webviews caused no Content-Security-Policy violations, and one would be caught', async () => {
  assert.deepEqual(vscode.cspViolations(), []);
  // The detector itself: a remote image inside the dashboard must be refused and reported.
  const frame = await dashboardFrame();
  await frame.evaluate(() => {
    const img = document.createElement('img');
    img.src = 'http://127.0.0.1:9/tracking.png';
    document.body.appendChild(img);
  });
  for (let i = 0; i < 50 && vscode.cspViolations().length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.match(vscode.cspViolations().join('\n'), /img-src|Content Security Policy/);
});
