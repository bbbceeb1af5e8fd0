/**
 * Extension-host tests for @vscode/test-electron (a downloaded desktop VS Code). The suite that must
 * pass on machines without internet is the code-server one (test/e2e); this one is for developers
 * who can download VS Code. `run` is the entry point test-electron calls inside the extension host.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { simulate } from '../../src/cli/simulate';

export async function run(): Promise<void> {
  const ext = vscode.extensions.getExtension('gradient-monitor.gradient-monitor');
  assert.ok(ext, 'the extension is installed');
  const api = (await ext.activate()) as { url: string; logDir: string } | undefined;
  assert.ok(api, 'the endpoint started');
  const commands = await vscode.commands.getCommands(true);
  for (const id of ['gradientMonitor.openDashboard', 'gradientMonitor.showRuns', 'gradientMonitor.copyEndpoint'])
    assert.ok(commands.includes(id), id);

  const token = process.env.GRADIENT_MONITOR_TEST_TOKEN;
  assert.ok(token, 'the runner fixes the token through settings and passes it here');
  const { sent } = await simulate({ url: api.url, token, runId: 'electron-run', steps: 50, rate: 0, nanAt: 40 });
  assert.equal(sent, 50);
  assert.ok(existsSync(api.logDir));
  assert.ok(
    readdirSync(api.logDir).some((f) => f.startsWith('electron-run')),
    `log in ${api.logDir}`,
  );
  console.log(`electron suite: 1 passed, 0 failed (${path.basename(api.logDir)})`);
}
