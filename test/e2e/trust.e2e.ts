/**
 * Workspace trust in real VS Code: a folder opened in Restricted Mode gets no endpoint (no discovery
 * file, nothing on the configured port) and records nothing, so a training script started there
 * falls back to its own local log; once the user trusts the folder in the Workspace Trust editor the
 * endpoint starts without a reload, and the same script's run is streamed and recorded in the
 * workspace. The client is the real Python one, from the repository on PYTHONPATH, finding the
 * endpoint through the discovery files as a script started outside VS Code's terminals does.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { freePort, launchVSCode, REPO, VSCodeSession } from './harness';

const STEPS = 20;
const TRAIN_PY = [
  'import sys',
  'from gradient_monitor import Monitor',
  '',
  'run_id, fallback_dir = sys.argv[1], sys.argv[2]',
  'with Monitor("trust check", run_id=run_id, log_dir=fallback_dir) as monitor:',
  `    for step in range(${STEPS}):`,
  '        monitor.log(step, 1.0 + step / 10)',
  '',
].join('\n');

let vscode: VSCodeSession;
let port: number;
/** Where the script's own local log goes when it finds no endpoint (kept apart from the extension's recordings). */
let fallbackDir: string;

before(async () => {
  port = await freePort();
  fallbackDir = mkdtempSync(path.join(os.tmpdir(), 'gm-trust-fallback-'));
  vscode = await launchVSCode({
    workspaceTrust: true,
    files: { 'train.py': TRAIN_PY },
    settings: { 'gradientMonitor.port': port },
  });
});

after(async () => {
  await vscode?.close();
});

function filesIn(dir: string, prefix = ''): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.startsWith(prefix)) : [];
}

/** Runs train.py from the workspace folder with the repository's client on PYTHONPATH. */
async function train(runId: string): Promise<void> {
  await promisify(execFile)('/usr/bin/python3', ['train.py', runId, fallbackDir], {
    cwd: vscode.workspace,
    timeout: 60_000,
    env: {
      ...process.env,
      PYTHONPATH: path.join(REPO, 'clients', 'python'),
      GRADIENT_MONITOR_URL: '',
      GRADIENT_MONITOR_TOKEN: '',
      GRADIENT_MONITOR_HOME: vscode.home,
    },
  });
}

function portRefuses(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(true));
  });
}

test('an untrusted folder gets no endpoint and no recording until the user trusts it', async () => {
  const { page } = vscode;
  const runsFolder = path.join(vscode.workspace, '.gradient-monitor', 'runs');
  await page.getByRole('button', { name: "No, I don't trust the authors" }).click();
  await page.locator('.statusbar-item', { hasText: 'Restricted Mode' }).waitFor();
  // The extension is active (its status item is there) and says why it is not listening.
  await page.locator('.statusbar-item[aria-label*="off until this workspace is trusted"]').waitFor({ timeout: 30_000 });

  assert.deepEqual(filesIn(path.join(vscode.home, 'endpoints')), [], 'no discovery file');
  assert.ok(await portRefuses(), `nothing listens on the configured port ${port}`);
  await train('untrusted-run');
  assert.equal(filesIn(fallbackDir, 'untrusted-run').length, 1, 'the script found no endpoint and logged locally');
  assert.ok(!existsSync(runsFolder), 'the extension recorded nothing into the untrusted workspace');

  await vscode.runCommand('Workspaces: Manage Workspace Trust');
  await page.locator('.workspace-trust-editor .monaco-button', { hasText: /^Trust$/ }).click();
  await page.locator('.statusbar-item', { hasText: 'Restricted Mode' }).waitFor({ state: 'detached' });

  const endpoint = await vscode.endpoint(30_000);
  assert.equal(
    Number(new URL(endpoint.url).port),
    port,
    'the endpoint starts on the configured port, without a reload',
  );
  assert.deepEqual(endpoint.workspaceFolders, [vscode.workspace]);
  await train('trusted-run');
  const [log] = filesIn(runsFolder, 'trusted-run');
  assert.ok(log, `the streamed run is recorded in ${runsFolder}`);
  const lines = readFileSync(path.join(runsFolder, log), 'utf8').trim().split('\n');
  assert.equal(lines.filter((l) => l.includes('"type":"step"')).length, STEPS, 'every step is recorded');
  assert.deepEqual(filesIn(fallbackDir, 'trusted-run'), [], 'streamed, not logged locally by the script');
});
