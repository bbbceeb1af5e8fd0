/**
 * Clipping quick fixes in real VS Code: the lightbulb on a training script's optimizer step offers
 * "Add gradient clipping", Ctrl+. applies it; a live run of that script that reports its line
 * raises a diagnostic there whose quick fix sets max_norm from the run's own norms; the
 * diagnostic clears when the run ends. In a Jupyter notebook (VS Code's own notebook editor), the
 * same fix on a loop in cell 3 whose model was made in cell 2 lands in cell 3 only.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { WebSocket } from 'ws';
import { stringifyKeepingNonFinite } from '../../src/protocol/json';
import { ClientMessage } from '../../src/protocol/messages';
import { launchVSCode, VSCodeSession } from './harness';

const TRAIN = `import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

for step in range(100):
    x = torch.randn(32, 8)
    loss = (model(x) - 3).pow(2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
`;
const STEP_LINE = 13; // 1-based line of optimizer.step()

const cell = (id: string, cellType: 'code' | 'markdown', source: string[]): object => ({
  cell_type: cellType,
  id,
  metadata: {},
  source,
  ...(cellType === 'code' ? { execution_count: null, outputs: [] } : {}),
});
const NOTEBOOK =
  JSON.stringify(
    {
      cells: [
        cell('imports', 'code', ['%matplotlib inline\n', 'import torch\n', 'from torch import nn']),
        cell('model', 'code', ['model = nn.Linear(4, 1)\n', 'optimizer = torch.optim.SGD(model.parameters(), lr=0.1)']),
        cell('notes', 'markdown', ['Three steps on random data.']),
        cell('loop', 'code', [
          'for step in range(3):\n',
          '    loss = model(torch.randn(8, 4)).pow(2).mean()\n',
          '    optimizer.zero_grad()\n',
          '    loss.backward()\n',
          '    optimizer.step()',
        ]),
      ],
      metadata: { kernelspec: { display_name: 'Python 3', language: 'python', name: 'python3' } },
      nbformat: 4,
      nbformat_minor: 5,
    },
    null,
    1,
  ) + '\n';

let vscode: VSCodeSession;
let file: string;

before(async () => {
  vscode = await launchVSCode({ files: { 'train.py': TRAIN, 'train.ipynb': NOTEBOOK } });
  file = path.join(vscode.workspace, 'train.py');
  await vscode.endpoint(); // the extension is active
});

after(async () => {
  await vscode?.close();
});

async function openAtLine(line: number): Promise<void> {
  const { page } = vscode;
  await vscode.runCommand('Go to File...');
  await page.keyboard.type('train.py');
  await page
    .locator('.quick-input-widget .monaco-list-row', { hasText: 'train.py' })
    .first()
    .waitFor({ timeout: 10_000 });
  await page.keyboard.press('Enter');
  await page.locator('.monaco-editor .view-lines', { hasText: 'optimizer' }).first().waitFor({ timeout: 20_000 });
  await vscode.runCommand('Go to Line/Column...');
  await page.keyboard.type(String(line));
  await page.keyboard.press('Enter');
  await page.keyboard.press('End'); // a cursor move asks for code actions again, once the analysis is ready
}

/** Opens the Quick Fix menu (Ctrl+.) and picks the first action whose title matches. */
async function pickQuickFix(title: RegExp): Promise<string[]> {
  const { page } = vscode;
  const rows = page.locator('.action-widget .monaco-list-row');
  for (let attempt = 0; attempt < 10; attempt++) {
    await page.keyboard.press('Control+.');
    try {
      await rows.filter({ hasText: title }).first().waitFor({ timeout: 3_000 });
      break;
    } catch {
      await page.keyboard.press('Escape'); // the analysis may still be loading: ask again
    }
  }
  const titles = await rows.allInnerTexts();
  // Keyboard, as a user does (a pointer block covers the menu): move the focus to the action, then Enter.
  for (let i = 0; i < titles.length; i++) {
    const focused = await page.locator('.action-widget .monaco-list-row.focused').getAttribute('aria-label');
    if (focused && title.test(focused)) break;
    await page.keyboard.press('ArrowDown');
  }
  await page.keyboard.press('Enter');
  await rows.first().waitFor({ state: 'detached', timeout: 5_000 });
  return titles;
}

/** Saves the editor and returns the file once it differs from what it was. */
async function saveAndRead(previous: string, saved = file): Promise<string> {
  await vscode.runCommand('File: Save');
  const deadline = Date.now() + 10_000;
  let text = readFileSync(saved, 'utf8');
  while (text === previous && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    text = readFileSync(saved, 'utf8');
  }
  return text;
}

test('the lightbulb on optimizer.step() adds clipping before the step', async () => {
  await openAtLine(STEP_LINE);
  // The lightbulb shows a preferred quick fix on the optimizer step.
  const bulb = vscode.page.locator('.lightBulbWidget.codicon-lightbulb-autofix');
  for (let i = 0; i < 20 && !(await bulb.isVisible()); i++) {
    await vscode.page.keyboard.press(i % 2 ? 'End' : 'Home');
    await new Promise((r) => setTimeout(r, 500));
  }
  await bulb.waitFor({ state: 'visible', timeout: 5_000 });
  const titles = await pickQuickFix(/Add gradient clipping \(max_norm=1\.0\)/);
  assert.ok(
    titles.some((t) => /Add gradient monitoring here/.test(t)),
    `menu: ${titles.join(' | ')}`,
  );
  const text = await saveAndRead(TRAIN);
  assert.match(
    text,
    /loss\.backward\(\)\n {4}torch\.nn\.utils\.clip_grad_norm_\(model\.parameters\(\), max_norm=1\.0\)\n {4}optimizer\.step\(\)\n$/,
  );
  await vscode.screenshot('quickfix-clipping-added');
});

test("a live run's NaN shows on its script line; the quick fix sets max_norm from the run's norms; the run's end clears it", async () => {
  const endpoint = await vscode.endpoint();
  const clipped = readFileSync(file, 'utf8');
  const clipLine = clipped.split('\n').findIndex((l) => l.includes('clip_grad_norm_')) + 1;
  assert.ok(clipLine > 0, 'the first test added clipping');
  const ws = new WebSocket(endpoint.url, { headers: { authorization: `Bearer ${endpoint.token}` } });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const send = (messages: ClientMessage[]): void => ws.send(stringifyKeepingNonFinite(messages));
  const runId = 'e2e-live-quickfix';
  send([
    {
      type: 'run_start',
      run_id: runId,
      name: 'e2e live',
      layers: ['fc1.weight', 'fc2.weight'],
      meta: { script: file, line: clipLine },
    },
  ]);
  // 40 healthy steps between 3.0 and 3.9: the suggested max_norm is 5.0.
  send(
    Array.from({ length: 40 }, (_, i): ClientMessage => ({
      type: 'step',
      run_id: runId,
      step: i,
      total_norm: 3 + (i % 10) / 10,
      layer_norms: [2, 2],
    })),
  );
  send([{ type: 'step', run_id: runId, step: 40, total_norm: NaN, layer_norms: [NaN, 1] }]);

  await vscode.runCommand('View: Focus Problems (Errors, Warnings, Infos)');
  const problem = vscode.page
    .locator('.markers-panel .monaco-list-row', { hasText: 'non-finite gradient norm' })
    .first();
  await problem.waitFor({ timeout: 20_000 });
  assert.match(await problem.innerText(), /fc1\.weight/);
  await vscode.screenshot('quickfix-live-diagnostic');

  await openAtLine(clipLine);
  const titles = await pickQuickFix(/Set max_norm to 5\.0 \(suggested by run e2e live\)/);
  assert.ok(
    titles.some((t) => /Dismiss this alert/.test(t)),
    `menu: ${titles.join(' | ')}`,
  );
  const text = await saveAndRead(clipped);
  assert.match(text, /clip_grad_norm_\(model\.parameters\(\), max_norm=5\.0\)/);

  send([{ type: 'run_end', run_id: runId, status: 'completed' }]);
  await vscode.runCommand('View: Focus Problems (Errors, Warnings, Infos)');
  await vscode.page
    .locator('.markers-panel .monaco-list-row', { hasText: 'non-finite gradient norm' })
    .first()
    .waitFor({ state: 'detached', timeout: 20_000 });
  ws.close();
});

test('in a notebook, the lightbulb in the loop cell adds clipping to that cell only', async () => {
  const { page } = vscode;
  const notebookFile = path.join(vscode.workspace, 'train.ipynb');
  await vscode.runCommand('Go to File...');
  await page.keyboard.type('train.ipynb');
  await page
    .locator('.quick-input-widget .monaco-list-row', { hasText: 'train.ipynb' })
    .first()
    .waitFor({ timeout: 10_000 });
  await page.keyboard.press('Enter');
  // The notebook editor shows each cell in its own Monaco editor; put the cursor on the step.
  const stepLine = page.locator('.notebookOverlay .view-line', { hasText: 'optimizer.step()' }).first();
  await stepLine.waitFor({ timeout: 30_000 });
  await stepLine.click();
  await page.keyboard.press('End');
  const titles = await pickQuickFix(/Add gradient clipping \(max_norm=1\.0\)/);
  assert.ok(titles.length > 0);
  await vscode.screenshot('quickfix-notebook-clipping-added');
  const saved = JSON.parse(await saveAndRead(NOTEBOOK, notebookFile)) as { cells: { source: string[] }[] };
  const before = JSON.parse(NOTEBOOK) as { cells: { source: string[] }[] };
  assert.deepEqual(saved.cells[3].source.slice(-2), [
    '    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)\n',
    '    optimizer.step()',
  ]);
  for (const i of [0, 1, 2]) assert.deepEqual(saved.cells[i].source, before.cells[i].source, `cell ${i + 1} unchanged`);
});
