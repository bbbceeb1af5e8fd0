/**
 * Import Log in real VS Code: a TensorBoard run folder (two event files, a restart) and a Lightning
 * metrics.csv, each imported from the Explorer's context menu, become run logs in the runs folder,
 * show in the Runs view and open in the log editor.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { eventFile } from '../helpers/tfeventsWriter';
import { launchVSCode, VSCodeSession } from './harness';

let vscode: VSCodeSession;

function makeWorkspace(): string {
  const ws = mkdtempSync(path.join(os.tmpdir(), 'gm-e2e-import-'));
  const put = (rel: string, content: string | Buffer): void => {
    const file = path.join(ws, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
  };
  const events = (steps: number[], offset: number): Buffer =>
    eventFile(steps.map((step) => ({ step, values: [{ tag: 'train/grad_norm', simple: step + offset }] })));
  put('tbrun/events.out.tfevents.1700000000.host.1.0', events([0, 1, 2, 3], 0));
  put('tbrun/events.out.tfevents.1700003600.host.2.0', events([2, 3, 4], 10));
  put(
    'lightning_logs/version_0/metrics.csv',
    'epoch,grad_2.0_norm/fc.weight,grad_2.0_norm_total,lr-SGD,step,train_loss_step,val_loss\n' +
      ',,,0.05,0,,\n0,0.5,1.5,,0,2.0,\n,,,0.05,1,,\n0,0.25,2.5,,1,1.5,\n0,,,,1,,1.25\n',
  );
  return ws;
}

before(async () => {
  vscode = await launchVSCode({ workspace: makeWorkspace() });
});

after(async () => {
  await vscode?.close();
});

/** The steps of the one run log whose name starts with `prefix` in the workspace's runs folder, once it is written. */
async function importedSteps(prefix: string): Promise<{ step: number; total_norm: number }[]> {
  const folder = path.join(vscode.workspace, '.gradient-monitor', 'runs');
  for (let waited = 0; ; waited += 250) {
    const file = existsSync(folder) && readdirSync(folder).find((f) => f.startsWith(prefix) && f.endsWith('.jsonl'));
    if (file)
      return readFileSync(path.join(folder, file), 'utf8')
        .split('\n')
        .filter((l) => l.includes('"type":"step"'))
        .map((l) => JSON.parse(l) as { step: number; total_norm: number });
    if (waited > 30_000)
      throw new Error(`no imported log named ${prefix}* in ${folder}\n${vscode.serverLog().slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function importFromExplorer(name: string): Promise<void> {
  const item = vscode.page.locator('.explorer-folders-view .monaco-list-row', { hasText: name }).first();
  await item.waitFor({ timeout: 30_000 });
  await item.click({ button: 'right' });
  // VS Code's own menus act on mouse-up; choosing the hovered item with Enter works in every build.
  await vscode.page
    .locator('.context-view .action-label', { hasText: 'Import Log' })
    .first()
    .hover({ timeout: 10_000 });
  await vscode.page.keyboard.press('Enter');
}

test('a TensorBoard run folder and a Lightning metrics.csv import from the Explorer and open as runs', async () => {
  await vscode.endpoint(); // the extension is up
  await importFromExplorer('tbrun');
  assert.deepEqual(
    (await importedSteps('tbrun')).map((s) => [s.step, s.total_norm]),
    [
      [0, 0],
      [1, 1],
      [2, 12],
      [3, 13],
      [4, 14],
    ],
  );
  // The import opens in the log editor, titled by its log file.
  await vscode.page
    .locator('.tab', { hasText: /^tbrun/ })
    .first()
    .waitFor({ timeout: 30_000 });

  await vscode.runCommand('View: Show Explorer');
  // Explorer shows lightning_logs/version_0 as one compact row: one click opens both.
  await vscode.page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'lightning_logs' }).first().click();
  await importFromExplorer('metrics.csv');
  assert.deepEqual(
    (await importedSteps('lightning_logs_version_0')).map((s) => [s.step, s.total_norm]),
    [
      [0, 1.5],
      [1, 2.5],
    ],
  );
  await vscode.screenshot('import-log');
});
