// Runs test/electron in a downloaded desktop VS Code through @vscode/test-electron. Needs internet
// access to download VS Code (not available on the project's CI machines, where the code-server
// suite, `npm run test:e2e`, is the one that must pass).
import { build } from 'esbuild';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runTests } from '@vscode/test-electron';

const root = resolve(import.meta.dirname, '..');
await build({
  entryPoints: [join(root, 'test/electron/suite.ts')],
  outfile: join(root, 'out/electron/suite.js'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  external: ['vscode'],
});
const workspace = mkdtempSync(join(tmpdir(), 'gm-electron-'));
const token = 'electron-test-token';
mkdirSync(join(workspace, '.vscode'), { recursive: true });
writeFileSync(join(workspace, '.vscode', 'settings.json'), JSON.stringify({ 'gradientMonitor.token': token }));
try {
  await runTests({
    extensionDevelopmentPath: root,
    extensionTestsPath: join(root, 'out/electron/suite.js'),
    launchArgs: [workspace, '--disable-extensions'],
    extensionTestsEnv: { GRADIENT_MONITOR_TEST_TOKEN: token },
  });
} catch (e) {
  console.error(`test-electron: ${e.message ?? e} (it downloads VS Code; without internet use npm run test:e2e)`);
  process.exit(1);
}
