/**
 * Deactivation releases the hub (issue 18): with two runs streamed, a dashboard and a comparison
 * open, "Developer: Reload Window" makes VS Code deactivate the extension (code-server has no
 * "Restart Extension Host": that command is desktop-only), and no listener is left on the hub.
 *
 * Why this shape: VS Code ends the extension host right after deactivating an extension, so the
 * count can only be taken inside that process, and the hub is private to activate(). The extension
 * therefore runs from hubListenersEntry.ts: the real activate() and deactivate(), bundled like
 * dist/extension.js, plus a count written to a file. VS Code, the wiring and the disposal of
 * context.subscriptions are the real thing. The alternatives were worse: a plain-Node test needs a
 * stand-in for the whole `vscode` module, and a listener count on the public API would exist only
 * for tests. hub.test.ts adds that nothing in src/vscode bypasses Hub.subscribe.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import * as esbuild from 'esbuild';
import { simulate } from '../../src/cli/simulate';
import { dashboardFrame } from './dashboardFrame';
import { launchVSCode, REPO, VSCodeSession, waitFor } from './harness';
import type { HubListenersNote } from './hubListenersEntry';

let vscode: VSCodeSession;

before(async () => {
  const options = path.join(REPO, 'scripts', 'bundleOptions.mjs');
  const { nodeBundle } = (await import(options)) as { nodeBundle: esbuild.BuildOptions };
  const entry = path.join(mkdtempSync(path.join(os.tmpdir(), 'gm-entry-')), 'extension.js');
  await esbuild.build({
    ...nodeBundle,
    entryPoints: [path.join(__dirname, 'hubListenersEntry.ts')],
    outfile: entry,
    external: ['vscode'],
  });
  vscode = await launchVSCode({ entry });
});

after(async () => {
  await vscode?.close();
});

function readNote(): HubListenersNote | undefined {
  try {
    return JSON.parse(readFileSync(path.join(vscode.home, 'hub-listeners.json'), 'utf8')) as HubListenersNote;
  } catch {
    return undefined; // not written yet
  }
}

async function stream(runId: string): Promise<void> {
  const { url, token } = await vscode.endpoint();
  const { sent } = await simulate({ url, token, runId, steps: 50, rate: 0, nanAt: 40 });
  assert.equal(sent, 50);
}

test('after VS Code deactivates the extension, no listener is left on the hub', async () => {
  await stream('first-run');
  await stream('second-run');
  await vscode.runCommand('Gradient Monitor: Open Dashboard');
  await dashboardFrame(vscode);
  // A comparison of both runs: its page listens to the hub too.
  await vscode.runCommand('Gradient Monitor: Compare Runs');
  await vscode.page.locator('.quick-input-widget .monaco-list-row', { hasText: 'second-run-' }).waitFor();
  await vscode.page.locator('.quick-input-widget [aria-label="Toggle all checkboxes"]').click();
  await vscode.page.keyboard.press('Enter');
  // Back from the webview (which keeps F1 to itself) to the workbench, to reach the palette.
  await vscode.page.locator('.tab', { hasText: 'Compare: ' }).click();

  await vscode.runCommand('Developer: Reload Window');
  const note = await waitFor('the note written at deactivation', readNote, 30_000);
  assert.equal(note.before.length, 1, 'one hub');
  const before = Object.values(note.before[0]).reduce((a, b) => a + b, 0);
  assert.ok(before > 10, `the extension listened to the hub (${JSON.stringify(note.before[0])})`);
  assert.deepEqual(note.after, [{}], 'no listener left after deactivation');
});
