/**
 * Settings and the CodeLens in real VS Code: lowering gradientMonitor.threshold in the workspace
 * settings moves the open dashboard's threshold line and makes the next steps raise threshold
 * alerts, with no reload; a run that names its script puts its numbers above the script's
 * optimizer step and clipping call, and clicking them opens that run's dashboard. Writes the
 * README's screenshots (docs/images/) of the dashboard and of a quick fix on the way.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { WebSocket } from 'ws';
import { dashboardFrame, waitForHook } from './dashboardFrame';
import { launchVSCode, REPO, VSCodeSession } from './harness';

const run = promisify(execFile);
let vscode: VSCodeSession;

const TRAIN_PY = [
  'import torch',
  '',
  'model = torch.nn.Linear(8, 1)',
  'optimizer = torch.optim.SGD(model.parameters(), lr=0.1)',
  'for step in range(100):',
  '    loss = model(torch.randn(16, 8)).pow(2).mean()',
  '    loss.backward()',
  '    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)',
  '    optimizer.step()',
  '    optimizer.zero_grad()',
  '',
].join('\n');

before(async () => {
  vscode = await launchVSCode({
    files: { 'train.py': TRAIN_PY, 'finetune.py': TRAIN_PY.replace(/^ +torch\.nn\.utils\.clip_grad_norm_.*\n/m, '') },
  });
});

after(async () => {
  await vscode?.close();
});

async function simulate(args: string[]): Promise<void> {
  const endpoint = await vscode.endpoint();
  await run(process.execPath, [
    path.join(REPO, 'bin', 'gradient-monitor'),
    'simulate',
    `--url=${endpoint.url}`,
    `--token=${endpoint.token}`,
    '--rate',
    '0',
    ...args,
  ]);
}

/**
 * Saves a screenshot in test-results/; with UPDATE_README_IMAGES=1 also as the README's image in
 * docs/images/ (opt-in, so that a test run leaves the committed images alone).
 */
async function readmeImage(name: string): Promise<void> {
  await vscode.screenshot(name);
  if (process.env.UPDATE_README_IMAGES !== '1') return;
  const dir = path.join(REPO, 'docs', 'images');
  mkdirSync(dir, { recursive: true });
  await vscode.page.screenshot({ path: path.join(dir, `${name}.png`) });
}

test('a new threshold in the settings moves the dashboard line and changes the alerts, without a reload', async () => {
  await simulate(['--steps', '300', '--run-id', 'calm-run', '--name', 'calm run']);
  await vscode.runCommand('Gradient Monitor: Open Dashboard');
  const frame = await dashboardFrame(vscode);
  await waitForHook(frame, 'the threshold line at 10', (h) => h.drawnThreshold() === 10);
  assert.equal(
    await vscode.page.locator('.notification-toast', { hasText: 'exceeds the threshold' }).count(),
    0,
    'norms of 1 to 4 stay under the default threshold',
  );

  mkdirSync(path.join(vscode.workspace, '.vscode'), { recursive: true });
  writeFileSync(
    path.join(vscode.workspace, '.vscode', 'settings.json'),
    JSON.stringify({ 'gradientMonitor.threshold': 2 }),
  );
  await waitForHook(frame, 'the threshold line at 2', (h) => h.drawnThreshold() === 2, 20_000);

  await simulate(['--steps', '50', '--run-id', 'after-change', '--name', 'after change']);
  const toast = vscode.page.locator('.notification-toast', { hasText: 'exceeds the threshold 2 at step 0' });
  await toast.first().waitFor({ timeout: 20_000 });
  await readmeImage('dashboard');
});

async function openFile(name: string): Promise<void> {
  await vscode.runCommand('Go to File...');
  await vscode.page.keyboard.type(name);
  await vscode.page.locator('.quick-input-widget .monaco-list-row', { hasText: name }).first().waitFor();
  await vscode.page.keyboard.press('Enter');
  await vscode.page.locator('.tab.active', { hasText: name }).waitFor();
}

/** A client that says which script it trains, as the Python client does (run_start.meta.script). */
async function streamFromScript(runId: string, script: string, name = 'scripted run'): Promise<void> {
  const endpoint = await vscode.endpoint();
  const ws = new WebSocket(endpoint.url, { headers: { authorization: `Bearer ${endpoint.token}` } });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const messages: object[] = [{ type: 'run_start', run_id: runId, name, meta: { script, line: 9 } }];
  for (let step = 0; step < 100; step++)
    messages.push({
      type: 'step',
      run_id: runId,
      step,
      total_norm: step === 60 ? 31.3 : 0.8 + (step % 5) * 0.01,
      clipped: step % 10 === 0,
    });
  messages.forEach((m, seq) => Object.assign(m, { seq }));
  const acked = new Promise<void>((resolve) =>
    ws.on('message', (d) => {
      const replies = [JSON.parse(d.toString())].flat() as { type: string; seq?: number }[];
      if (replies.some((r) => r.type === 'ack' && r.seq === messages.length - 1)) resolve();
    }),
  );
  ws.send(JSON.stringify(messages));
  await acked;
  ws.close();
}

test("a script's run shows its numbers above the clip call and the optimizer step; a click opens its dashboard", async () => {
  const script = path.join(vscode.workspace, 'train.py');
  await streamFromScript('scripted-run', script);
  await openFile('train.py');

  const lens = vscode.page.locator('.codelens-decoration a', { hasText: 'max 31.3' });
  await lens.first().waitFor({ timeout: 30_000 });
  assert.equal(await lens.count(), 2, 'one over the clipping call, one over optimizer.step()');
  assert.match(
    (await lens.first().innerText()).trim(),
    /^grad 0\.8\d* · max 31\.3 · clipped 10% · suggested max_norm 1$/,
  );

  await lens.first().click();
  const frame = await dashboardFrame(vscode);
  await frame.waitForFunction(
    () => (document.getElementById('run-select') as HTMLSelectElement).value === 'scripted-run',
    undefined,
    {
      timeout: 15_000,
    },
  );
});

test("the clipping quick fix takes its max_norm from the script's run (the README screenshot)", async () => {
  await streamFromScript('finetune-run', path.join(vscode.workspace, 'finetune.py'), 'finetune');
  await vscode.runCommand('Notifications: Clear All Notifications'); // an uncluttered screenshot
  await vscode.page.locator('.quick-input-widget').waitFor({ state: 'hidden' }); // before the palette opens again
  await openFile('finetune.py');
  await vscode.page.locator('.codelens-decoration a', { hasText: 'max 31.3' }).first().waitFor({ timeout: 30_000 });
  await vscode.runCommand('Go to Line/Column...');
  await vscode.page.keyboard.type('8');
  await vscode.page.keyboard.press('Enter');
  await vscode.page.keyboard.press('End');
  const fix = vscode.page.locator('.action-widget .monaco-list-row', { hasText: 'Add gradient clipping' });
  for (let attempt = 0; attempt < 10 && !(await fix.count()); attempt++) {
    await vscode.page.keyboard.press('Control+.');
    await fix
      .first()
      .waitFor({ timeout: 3_000 })
      .catch(() => vscode.page.keyboard.press('Escape')); // the analysis may still be loading: ask again
  }
  assert.match(await fix.first().innerText(), /Add gradient clipping \(max_norm=1\.0\) \(suggested by run finetune\)/);
  await readmeImage('quick-fix');
  await vscode.page.keyboard.press('Escape');
});
