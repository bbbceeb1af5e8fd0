/**
 * The Runs view in real VS Code: the activity bar container lists a recorded run from the
 * workspace's runs folder and other tools' logs from a folder added in the settings, grouped by
 * day; a streamed run shows under Live with a growing step count, then joins the recorded runs when
 * it ends; deleting a recorded run asks first, then removes its log.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { runStartFor, syntheticSteps } from '../../src/cli/synthetic';
import { stringifyKeepingNonFinite } from '../../src/protocol/json';
import { eventFile } from '../helpers/tfeventsWriter';
import { launchVSCode, REPO, VSCodeSession } from './harness';

const run = promisify(execFile);
let vscode: VSCodeSession;
let recordedLog: string;

function makeWorkspace(): string {
  const ws = mkdtempSync(path.join(os.tmpdir(), 'gm-e2e-runs-'));
  const put = (rel: string, content: string | Buffer): string => {
    const file = path.join(ws, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
    return file;
  };
  const o = { runId: 'recorded-e2e', name: 'recorded e2e run', steps: 200, nanAt: 150 };
  recordedLog = put(
    '.gradient-monitor/runs/recorded-e2e-0123456789.jsonl',
    [runStartFor(o), ...syntheticSteps(o), { type: 'run_end', run_id: o.runId, status: 'completed' }]
      .map((m) => stringifyKeepingNonFinite(m) + '\n')
      .join(''),
  );
  put(
    'other-logs/hf-finetune/trainer_state.json',
    '{\n  "global_step": 20,\n  "log_history": [\n    {"grad_norm": 1.5, "loss": 2.0, "step": 10},\n    {"grad_norm": NaN, "loss": 2.0, "step": 20}\n  ],\n  "max_steps": 20\n}\n',
  );
  put(
    'other-logs/tb/resnet/events.out.tfevents.1700000000.host',
    eventFile([0, 1, 2].map((step) => ({ step, values: [{ tag: 'train/grad_norm', simple: 1 + step }] }))),
  );
  put('other-logs/norms.csv', 'step,total_norm,a\n0,1,1\n1,2,2\n');
  put('other-logs/dataset.csv', 'id,label\n1,cat\n');
  return ws;
}

before(async () => {
  vscode = await launchVSCode({
    workspace: makeWorkspace(),
    settings: { 'gradientMonitor.runFolders': ['other-logs'] },
  });
});

after(async () => {
  await vscode?.close();
});

const row = (text: string | RegExp) => vscode.page.locator('.monaco-list-row', { hasText: text }).first();

test('the Runs view lists recorded and imported runs by day, shows a live run, and deletes with confirmation', async () => {
  const endpoint = await vscode.endpoint();
  await vscode.page
    .locator('.activitybar .action-item a[aria-label^="Gradient Monitor"]')
    .first()
    .click({ timeout: 30_000 });

  // Recorded runs from the runs folder and the added folder, under today's group; a CSV without our
  // header is not a log.
  await row(/^Today/).waitFor({ timeout: 30_000 });
  for (const name of ['recorded e2e run', 'hf-finetune', 'resnet', 'norms'])
    await row(name).waitFor({ timeout: 15_000 });
  assert.match(await row('resnet').innerText(), /TensorBoard/);
  assert.match(await row('hf-finetune').innerText(), /Hugging Face/);
  assert.equal(await vscode.page.locator('.monaco-list-row', { hasText: 'dataset' }).count(), 0);

  // A streamed run appears under Live and its step count grows while it streams.
  const streaming = run(process.execPath, [
    path.join(REPO, 'bin', 'gradient-monitor'),
    'simulate',
    '--url',
    endpoint.url,
    '--token',
    endpoint.token,
    '--steps',
    '600',
    '--rate',
    '50',
    '--run-id',
    'e2e-live',
    '--name',
    'live e2e run',
  ]);
  await row(/^Live$/).waitFor({ timeout: 20_000 });
  const liveRow = row(/^live e2e run\s*live · /);
  await liveRow.waitFor({ timeout: 10_000 });
  const stepsShown = async (): Promise<number> =>
    Number(/live · ([\d,]+) steps/.exec(await liveRow.innerText())?.[1].replace(/,/g, '') ?? NaN);
  const early = await stepsShown();
  await vscode.page.waitForTimeout(1500);
  const later = await stepsShown();
  assert.ok(later > early, `live step count grows (${early} -> ${later})`);
  await vscode.screenshot('runs-tree-live');

  // When it ends it is a recorded run like the others.
  await streaming;
  await vscode.page.waitForFunction(
    () => ![...document.querySelectorAll('.monaco-list-row')].some((r) => /live · /.test(r.textContent ?? '')),
    undefined,
    { timeout: 15_000 },
  );
  await row('live e2e run').waitFor({ timeout: 10_000 });
  await vscode.screenshot('runs-tree');

  // Delete asks first; cancelling keeps the file, confirming removes it and its row.
  const deleteRecorded = async (): Promise<void> => {
    // On a loaded machine the menu can fail to open, or close under a tree refresh before Enter
    // lands: try again, a few times.
    for (let attempt = 1; ; attempt++) {
      try {
        await row('recorded e2e run').click({ button: 'right' });
        // Menu items act on mouse-up in VS Code's own menus; choosing the hovered item with Enter is
        // what works in every build.
        await vscode.page
          .locator('.context-view .action-label', { hasText: 'Delete Run Log' })
          .first()
          .hover({ timeout: 10_000 });
        await vscode.page.keyboard.press('Enter');
        await vscode.page.locator('.monaco-dialog-box').waitFor({ timeout: 5_000 });
        return;
      } catch (e) {
        if (attempt === 3) throw e;
        await vscode.page.keyboard.press('Escape');
      }
    }
  };
  await deleteRecorded();
  assert.match(
    await vscode.page.locator('.monaco-dialog-box').innerText(),
    /Delete the log of run "recorded e2e run"\?/,
  );
  await vscode.page.locator('.monaco-dialog-box .monaco-button', { hasText: 'Cancel' }).click();
  assert.ok(existsSync(recordedLog), 'cancel keeps the log');
  await deleteRecorded();
  await vscode.page.locator('.monaco-dialog-box .monaco-button', { hasText: /^Delete$/ }).click();
  await vscode.page
    .locator('.monaco-list-row', { hasText: 'recorded e2e run' })
    .waitFor({ state: 'detached', timeout: 15_000 });
  assert.equal(existsSync(recordedLog), false, 'the log is deleted');
});
