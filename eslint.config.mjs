// ESLint (flat config): typescript-eslint's recommended rules, and the layering of docs/architecture.md
// as import restrictions, so an import that crosses a layer the wrong way is flagged while editing.
// Formatting is Prettier's (`npm run format`); `npm run lint` runs both checks.
import { readFileSync } from 'node:fs';
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** @type {string[][]} */
const layers = JSON.parse(readFileSync(new URL('./src/layers.json', import.meta.url), 'utf8')).layers;

/** A relative import that climbs out of its folder into one of `folders` of src/. */
const intoFolders = (folders) => `^(\\.\\./)+(${folders.join('|')})(/|$)`;

const vscodeOnlyInAdapters = {
  name: 'vscode',
  message: 'Only the adapters in src/vscode/ import vscode; keep this module testable in plain Node.',
};

/** Per layer of src/: the layers it must not import (its peers and everything above it). */
const layerRules = layers.flatMap((line, rank) =>
  line.map((folder) => {
    const above = layers
      .slice(rank)
      .flat()
      .filter((f) => f !== folder);
    const patterns = [{ regex: '(^|/)webview(/|$)', message: 'The extension host never imports webview code.' }];
    if (above.length > 0) {
      patterns.push({
        regex: intoFolders(above),
        message: `src/${folder} may not import ${above.join(', ')}, which sit above or beside it (src/layers.json): move the code that needs them up, or pass it in.`,
      });
    }
    return {
      files: [`src/${folder}/**/*.ts`],
      rules: {
        'no-restricted-imports': ['error', { paths: folder === 'vscode' ? [] : [vscodeOnlyInAdapters], patterns }],
      },
    };
  }),
);

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'out/',
      'node_modules/',
      'test-results/',
      '.vscode-test/',
      'bench/results/',
      'clients/',
      'media/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // Prettier wraps code at 120 columns; what it cannot break (comments, strings, URLs) is held to the same width.
      'max-len': [
        'error',
        {
          code: 120,
          ignoreUrls: true,
          ignoreStrings: true,
          ignoreTemplateLiterals: true,
          ignoreRegExpLiterals: true,
        },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  ...layerRules,
  {
    files: ['webview/**/*.ts'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'vscode', message: 'The webview talks to the extension through postMessage (vscodeApi.ts).' },
          ],
          patterns: [
            {
              regex: '(^|/)src/(?!shared/)',
              message: 'The webview imports only webview/ and src/shared/: move what both sides need into src/shared/.',
            },
            { regex: '^node:', message: 'The webview runs in a browser.' },
          ],
        },
      ],
    },
  },
  {
    files: ['bench/*.page.js'],
    languageOptions: { globals: { ...globals.browser } },
  },
);
