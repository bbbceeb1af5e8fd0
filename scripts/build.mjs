// Builds the bundles: the extension host (Node, CommonJS, `vscode` external), the CLI, the worker
// threads that parse large logs and write imported run logs (both of them start them from dist/),
// and the dashboard webview (browser). `--watch` rebuilds on change; `--production` minifies.
import * as esbuild from 'esbuild';
import { cpSync, mkdirSync, existsSync } from 'node:fs';
import * as shared from './bundleOptions.mjs';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');
const mode = { sourcemap: production ? false : 'linked', minify: production };
const common = { ...shared.common, ...mode };
const nodeBundle = { ...shared.nodeBundle, ...mode };

const builds = [
  { ...nodeBundle, entryPoints: ['src/vscode/extension.ts'], outfile: 'dist/extension.js', external: ['vscode'] },
  { ...nodeBundle, entryPoints: ['src/cli/main.ts'], outfile: 'dist/cli.js' },
  { ...nodeBundle, entryPoints: ['src/logs/logParseWorker.ts'], outfile: 'dist/logParseWorker.js' },
  { ...nodeBundle, entryPoints: ['src/logs/runLogWriteWorker.ts'], outfile: 'dist/runLogWriteWorker.js' },
  { ...nodeBundle, entryPoints: ['src/importers/tableImportWorker.ts'], outfile: 'dist/tableImportWorker.js' },
  {
    ...common,
    entryPoints: ['webview/main.ts'],
    outfile: 'dist/webview.js',
    platform: 'browser',
    format: 'iife',
    target: 'chrome120',
  },
];

mkdirSync('dist', { recursive: true });
// The Python parser's WASM files travel with the bundles (web-tree-sitter loads them at run time).
for (const [from, to] of [
  ['node_modules/web-tree-sitter/tree-sitter.wasm', 'dist/tree-sitter.wasm'],
  ['node_modules/tree-sitter-python/tree-sitter-python.wasm', 'dist/tree-sitter-python.wasm'],
  // The dashboard's icons: codicons' stylesheet and font, served to the webview from the extension.
  ['node_modules/@vscode/codicons/dist/codicon.css', 'dist/codicon.css'],
  ['node_modules/@vscode/codicons/dist/codicon.ttf', 'dist/codicon.ttf'],
])
  if (existsSync(from)) cpSync(from, to);

if (watch) {
  for (const b of builds) await (await esbuild.context(b)).watch();
} else {
  await Promise.all(builds.map((b) => esbuild.build(b)));
}
