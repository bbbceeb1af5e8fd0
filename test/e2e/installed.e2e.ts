/**
 * What users get: the extension packaged with `npm run package` and installed into code-server with
 * --install-extension, then the smoke test against it: a streamed run with a NaN raises the
 * notification and is recorded, and the walkthrough's Run the Demo streams into the dashboard.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { dashboardFrame, waitForHook } from './dashboardFrame';
import { launchVSCode, REPO, VSCodeSession } from './harness';

const run = promisify(execFile);
const VSIX = path.join(REPO, 'dist', 'gradient-monitor.vsix');
let vscode: VSCodeSession;

before(async () => {
  execFileSync('npm', ['run', '--silent', 'package'], { cwd: REPO, stdio: 'pipe' });
  // Packaging leaves minified bundles in dist/: the other e2e files run against the development build.
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: REPO, stdio: 'pipe' });
  vscode = await launchVSCode({ vsix: VSIX, files: { 'train.py': 'print("training")\n' } });
});

after(async () => {
  await vscode?.close();
});

test('code-server installed the packaged extension, with its icon, changelog and walkthrough', () => {
  const pkg = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8'));
  const installed = readdirSync(vscode.extensionsDir).find((d) => d.startsWith(`${pkg.publisher}.${pkg.name}-`));
  assert.ok(installed, `installed in ${readdirSync(vscode.extensionsDir).join(', ')}`);
  const dir = path.join(vscode.extensionsDir, installed);
  for (const file of ['package.json', 'dist/extension.js', 'media/icon.png', 'media/walkthrough/run-demo.md'])
    assert.ok(existsSync(path.join(dir, file)), `${file} is in the package`);
  assert.ok(
    readdirSync(dir).some((f) => f.toLowerCase() === 'changelog.md'),
    'the changelog is in the package',
  );
  assert.ok(!existsSync(path.join(dir, 'src')), 'sources stay out of the package');
});

test('smoke: a streamed run with a NaN raises a notification and is recorded', async () => {
  const endpoint = await vscode.endpoint();
  const { stdout } = await run(process.execPath, [
    path.join(REPO, 'bin', 'gradient-monitor'),
    'simulate',
    `--url=${endpoint.url}`,
    `--token=${endpoint.token}`,
    '--steps',
    '200',
    '--rate',
    '0',
    '--nan-at',
    '150',
    '--run-id',
    'installed-run',
  ]);
  assert.match(stdout, /sent 200 steps/);
  const toast = vscode.page.locator('.notification-toast', { hasText: 'non-finite gradient norm' }).first();
  await toast.waitFor({ timeout: 20_000 });
  assert.match(await toast.innerText(), /step 150/);
  const runsDir = path.join(vscode.workspace, '.gradient-monitor', 'runs');
  assert.ok(readdirSync(runsDir).some((f) => f.startsWith('installed-run')));
});

test("the walkthrough's Run the Demo streams a run into the dashboard", async () => {
  await vscode.runCommand('Gradient Monitor: Run the Demo');
  const frame = await dashboardFrame(vscode);
  await waitForHook(frame, 'the demo run drawn', (h) => h.drawnNorms().length > 50, 30_000);
  await frame.waitForFunction(
    () => /^demo-/.test((document.getElementById('run-select') as HTMLSelectElement).value),
    undefined,
    { timeout: 10_000 },
  );
});
