/**
 * "Gradient Monitor: Install Python Client…" in real VS Code: browsing to an interpreter (a fresh
 * venv's; the Python extension is not installed in code-server) runs pip in a terminal the user
 * sees, and the client, bundled with the extension, lands in that interpreter.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { launchVSCode, REPO, VSCodeSession } from './harness';

let vscode: VSCodeSession;
const venv = path.join(mkdtempSync(path.join(os.tmpdir(), 'gm-e2e-install-')), 'venv');
const python = path.join(venv, 'bin', 'python');

before(async () => {
  execFileSync('/usr/bin/python3', ['-m', 'venv', venv], { timeout: 120_000 });
  process.env.PIP_RETRIES = '0'; // no internet here: fall through to the local mirror at once
  vscode = await launchVSCode();
});

after(async () => {
  await vscode?.close();
  rmSync(path.dirname(venv), { recursive: true, force: true });
});

const imports = (): string =>
  spawnSync(python, ['-c', 'import gradient_monitor; print(gradient_monitor.__version__, gradient_monitor.__file__)'], {
    encoding: 'utf8',
    cwd: os.tmpdir(),
  }).stdout.trim();

test('Install Python Client… pip-installs the bundled client into the picked interpreter, in a visible terminal', async () => {
  await vscode.endpoint();
  assert.equal(imports(), '', 'not installed before');
  await vscode.runCommand('Gradient Monitor: Install Python Client…');
  await vscode.page
    .locator('.quick-input-widget .monaco-list-row', { hasText: 'Browse…' })
    .first()
    .click({ timeout: 15_000 });
  // code-server's open dialog is a path box in the quick input.
  const pathBox = vscode.page.locator('.quick-input-widget input');
  await vscode.page.waitForTimeout(500);
  await pathBox.fill(python);
  await vscode.page.waitForTimeout(500);
  await vscode.page.keyboard.press('Enter');
  await vscode.page
    .locator('.terminal-tabs-entry, .single-terminal-tab, .terminal-tab', {
      hasText: 'Gradient Monitor: install Python client',
    })
    .first()
    .waitFor({ timeout: 20_000 });

  const deadline = Date.now() + 60_000;
  let found = imports();
  while (!found && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1000));
    found = imports();
  }
  await vscode.screenshot('install-python-client');
  const { version } = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string };
  assert.match(
    found,
    new RegExp(
      `^${version.replace(/\./g, '\\.')} ${venv}/lib/python3[.\\d]+/site-packages/gradient_monitor/__init__\\.py$`,
    ),
  );
});
