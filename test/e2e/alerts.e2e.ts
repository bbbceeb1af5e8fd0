/**
 * The walking skeleton in real VS Code: the extension activates, a simulated run with a spike and
 * a NaN streams in, the status bar shows the NaN state, an error notification names the step and
 * layer, and the run's log file exists.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { launchVSCode, REPO, VSCodeSession } from './harness';

const run = promisify(execFile);
let vscode: VSCodeSession;

before(async () => {
  vscode = await launchVSCode({ files: { 'train.py': 'print("training")\n' } });
});

after(async () => {
  await vscode?.close();
});

test('a streamed run with a NaN raises a notification, colors the status bar and is recorded', async () => {
  const endpoint = await vscode.endpoint();
  assert.match(endpoint.url, /^ws:\/\/127\.0\.0\.1:\d+\/v1\/stream$/);
  const status = vscode.page.locator('.statusbar-item', { hasText: 'grad' }).first();
  await status.waitFor({ timeout: 30_000 });

  const { stdout } = await run(process.execPath, [
    path.join(REPO, 'bin', 'gradient-monitor'),
    'simulate',
    '--url',
    endpoint.url,
    '--token',
    endpoint.token,
    '--steps',
    '300',
    '--rate',
    '200',
    '--spike-at',
    '120',
    '--nan-at',
    '250',
    '--run-id',
    'e2e-nan-run',
    '--name',
    'e2e run',
  ]);
  assert.match(stdout, /sent 300 steps/);

  const toast = vscode.page.locator('.notification-toast', { hasText: 'non-finite gradient norm' }).first();
  await toast.waitFor({ timeout: 20_000 });
  const text = await toast.innerText();
  assert.match(text, /step 250/);
  assert.match(text, /encoder\.2\.attn/);
  assert.match(text, /Open Dashboard/);

  // The spike at step 120 also breached the threshold: one notification says both.
  const spikeToasts = vscode.page.locator('.notification-toast', { hasText: 'spiked' });
  assert.equal(await spikeToasts.count(), 1);
  assert.match(await spikeToasts.first().innerText(), /exceeds the threshold 10 at step 120/);

  await vscode.page.waitForFunction(
    () => {
      const items = [...document.querySelectorAll('.statusbar-item')];
      return items.some((el) => /grad/.test(el.textContent ?? '') && el.querySelector('.codicon-error'));
    },
    undefined,
    { timeout: 10_000 },
  );
  await vscode.screenshot('alerts-nan-notification');

  const runsDir = path.join(vscode.workspace, '.gradient-monitor', 'runs');
  assert.ok(existsSync(runsDir), `${runsDir} exists`);
  const logs = readdirSync(runsDir).filter((f) => f.startsWith('e2e-nan-run'));
  assert.equal(logs.length, 1, `one log for the run in ${readdirSync(runsDir).join(', ')}`);
  const { stdout: summary } = await run(process.execPath, [
    path.join(REPO, 'bin', 'gradient-monitor'),
    'inspect',
    '--json',
    path.join(runsDir, logs[0]),
  ]);
  const s = JSON.parse(summary);
  assert.equal(s.steps, 300);
  assert.equal(s.first_nonfinite.step, 250);
  assert.equal(s.status, 'completed');
});
