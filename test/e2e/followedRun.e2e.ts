/**
 * A run that cannot reach the editor (a job on a cluster node): a separate Python process with no
 * endpoint, importing the client bundled with the extension the way integrated terminals do, writes
 * its run log into the shared workspace. The extension (code-server: its host runs apart from the
 * browser, as under Remote) follows the log and raises the same notification, status bar state and
 * diagnostic as for a streamed run, and records nothing into the log itself. And an integrated
 * terminal imports that bundled client with nothing installed, the user's PYTHONPATH kept.
 */
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { launchVSCode, REPO, VSCodeSession } from './harness';

const TRAIN = `import math, os, time
from gradient_monitor import Monitor

with Monitor("cluster job", run_id="cluster-nan") as monitor:
    for step in range(2000):
        bad = step == 40
        monitor.log(step, math.nan if bad else 1.0 + step % 3, {"encoder": 1.0, "head": math.nan if bad else 0.5})
        if step > 40 and os.path.exists("stop"):
            break
        time.sleep(0.05)
`;

let vscode: VSCodeSession;
let job: ChildProcess | undefined;

const USERS_PYTHONPATH = '/the/users/own/path';

before(async () => {
  process.env.PYTHONPATH = USERS_PYTHONPATH; // what the user had before VS Code started
  vscode = await launchVSCode({ files: { 'train.py': TRAIN } });
});

after(async () => {
  job?.kill();
  await vscode?.close();
});

test('a run with no endpoint writing its log into the workspace raises the alert, notification and diagnostic of a streamed run', async () => {
  await vscode.endpoint(); // the extension is up
  let output = '';
  job = spawn('/usr/bin/python3', ['train.py'], {
    cwd: vscode.workspace,
    env: {
      PATH: process.env.PATH,
      // No endpoint anywhere: no variables, and a discovery folder of its own with nothing in it.
      GRADIENT_MONITOR_HOME: mkdtempSync(path.join(os.tmpdir(), 'gm-e2e-node-')),
      PYTHONPATH: path.join(REPO, 'clients', 'python', 'bootstrap'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  job.stdout?.on('data', (d) => (output += d));
  job.stderr?.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => job!.once('exit', resolve));

  const toast = vscode.page.locator('.notification-toast', { hasText: 'non-finite gradient norm' }).first();
  await toast.waitFor({ timeout: 30_000 });
  const text = await toast.innerText();
  assert.match(text, /step 40/);
  assert.match(text, /head/);
  await vscode.page.waitForFunction(
    () =>
      [...document.querySelectorAll('.statusbar-item')].some(
        (el) => /grad/.test(el.textContent ?? '') && el.querySelector('.codicon-error'),
      ),
    undefined,
    { timeout: 10_000 },
  );

  // The Runs view shows it under Live while its log grows.
  await vscode.page
    .locator('.activitybar .action-item a[aria-label^="Gradient Monitor"]')
    .first()
    .click({ timeout: 30_000 });
  const liveRow = vscode.page
    .locator('.monaco-list-row', { hasText: /live · [\d,]+ steps/ })
    .filter({ hasText: 'cluster job' })
    .first();
  await liveRow.waitFor({ timeout: 15_000 });

  // The diagnostic sits on the line of train.py that reported, as for a streamed run.
  await vscode.runCommand('View: Focus Problems (Errors, Warnings, Infos)');
  const problem = vscode.page
    .locator('.markers-panel .monaco-list-row', { hasText: 'non-finite gradient norm' })
    .first();
  await problem.waitFor({ timeout: 20_000 });
  assert.match(await problem.innerText(), /cluster job/);
  const reportingLine = TRAIN.split('\n').findIndex((l) => l.includes('monitor.log(')) + 1;
  assert.match(await problem.innerText(), new RegExp(`\\[Ln ${reportingLine},`));
  await vscode.screenshot('followed-run-nan');

  writeFileSync(path.join(vscode.workspace, 'stop'), '');
  assert.equal(await exited, 0, output);
  await problem.waitFor({ state: 'detached', timeout: 20_000 }); // the run ended: its diagnostic goes

  // The training process wrote the log; the extension only read it.
  const runsDir = path.join(vscode.workspace, '.gradient-monitor', 'runs');
  const logs = readdirSync(runsDir);
  assert.equal(logs.length, 1, logs.join(', '));
  const lines = readFileSync(path.join(runsDir, logs[0]), 'utf8').trimEnd().split('\n');
  const steps = lines.map((l) => JSON.parse(l)).filter((m) => m.type === 'step');
  assert.equal(new Set(steps.map((m) => m.step)).size, steps.length, 'every step once');
  assert.equal(JSON.parse(lines[lines.length - 1]).status, 'completed');
});

test("an integrated terminal imports the bundled client, next to the endpoint's variables, keeping the user's PYTHONPATH", async () => {
  await vscode.endpoint();
  await vscode.runCommand('Terminal: Create New Terminal');
  await vscode.page.locator('.terminal-wrapper.active .xterm').first().waitFor({ timeout: 20_000 });
  await vscode.page.waitForTimeout(1500); // the shell's prompt
  const out = path.join(vscode.workspace, 'terminal.json');
  await vscode.page.keyboard.type(
    `python3 -c "import gradient_monitor, json, os; json.dump([gradient_monitor.__file__, os.environ['PYTHONPATH'], os.environ['GRADIENT_MONITOR_URL']], open('terminal.json', 'w'))"`,
  );
  await vscode.page.keyboard.press('Enter');
  const deadline = Date.now() + 20_000;
  while (!existsSync(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  const [file, pythonPath, url] = JSON.parse(readFileSync(out, 'utf8')) as string[];
  const extension = /^(.*\/extensions\/gradient-monitor\.gradient-monitor-[^/]+)\//.exec(file)?.[1];
  assert.ok(extension, `imported from the installed extension: ${file}`);
  assert.equal(file, path.join(extension, 'clients', 'python', 'gradient_monitor', '__init__.py'));
  assert.equal(
    pythonPath,
    `${path.join(extension, 'clients', 'python', 'bootstrap')}${path.delimiter}${USERS_PYTHONPATH}`,
  );
  assert.equal(url, (await vscode.endpoint()).url);
});
