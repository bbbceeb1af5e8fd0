/**
 * The layers of src/ import one way, and no two files import each other even indirectly. The graph
 * is every relative import of src/ and webview/ (type-only ones too), as the TypeScript compiler
 * reads them. The layers are listed in src/layers.json and described in docs/architecture.md;
 * ESLint's no-restricted-imports keeps the same rules while editing (eslint.config.mjs).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import * as ts from 'typescript';
import layersFile from '../../src/layers.json';

const ROOT = path.resolve(__dirname, '../..');

/** Bottom to top; folders on one line do not import each other (src/layers.json, which ESLint reads too). */
const LAYERS: readonly (readonly string[])[] = layersFile.layers;
const RANK = new Map(LAYERS.flatMap((folders, rank) => folders.map((f) => [f, rank] as const)));

interface Module {
  file: string;
  /** Files it imports, relative to the repository root. */
  imports: string[];
  /** Package names it imports. */
  packages: string[];
}

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)));
}

function resolveImport(from: string, specifier: string): string {
  const base = path.resolve(ROOT, path.dirname(from), specifier);
  for (const candidate of [`${base}.ts`, path.join(base, 'index.ts'), base]) {
    if (existsSync(candidate) && candidate.endsWith('.ts')) return path.relative(ROOT, candidate);
  }
  throw new Error(`${from} imports ${specifier}, which resolves to no TypeScript file`);
}

function readModules(): Map<string, Module> {
  const modules = new Map<string, Module>();
  for (const file of [...sourceFiles('src'), ...sourceFiles('webview')]) {
    const info = ts.preProcessFile(readFileSync(path.join(ROOT, file), 'utf8'), true, true);
    const specifiers = info.importedFiles.map((f) => f.fileName);
    modules.set(file, {
      file,
      imports: specifiers.filter((s) => s.startsWith('.')).map((s) => resolveImport(file, s)),
      packages: specifiers.filter((s) => !s.startsWith('.')),
    });
  }
  return modules;
}

/** 'src/runs' for src/runs/series.ts, 'webview' for any webview file. */
function layerOf(file: string): string {
  const [top, folder] = file.split(path.sep);
  return top === 'src' ? folder : top;
}

/** Strongly connected components of more than one file (Tarjan's algorithm). */
function cycles(modules: Map<string, Module>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of modules.get(v)?.imports ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const file of modules.keys()) if (!index.has(file)) visit(file);
  return found;
}

describe('architecture', () => {
  const modules = readModules();

  test('every folder of src/ has a layer', () => {
    const folders = new Set([...modules.keys()].filter((f) => f.startsWith('src')).map(layerOf));
    assert.deepEqual(
      [...folders].filter((f) => !RANK.has(f)),
      [],
      'add the new folder to LAYERS here and to docs/architecture.md',
    );
  });

  test('layers import only their own layer and the layers below', () => {
    const upward: string[] = [];
    for (const m of modules.values()) {
      const from = layerOf(m.file);
      if (from === 'webview') continue;
      for (const target of m.imports) {
        const to = layerOf(target);
        if (to === from) continue;
        if (to === 'webview' || RANK.get(to)! >= RANK.get(from)!) upward.push(`${m.file} -> ${target}`);
      }
    }
    assert.deepEqual(upward, []);
  });

  test('the webview imports only webview/ and src/shared/', () => {
    const outside = [...modules.values()]
      .filter((m) => layerOf(m.file) === 'webview')
      .flatMap((m) =>
        m.imports.filter((t) => !['webview', 'shared'].includes(layerOf(t))).map((t) => `${m.file} -> ${t}`),
      );
    assert.deepEqual(outside, []);
  });

  test('only src/vscode/ imports vscode', () => {
    const importers = [...modules.values()]
      .filter((m) => m.packages.includes('vscode') && layerOf(m.file) !== 'vscode')
      .map((m) => m.file);
    assert.deepEqual(importers, []);
  });

  test('no import cycles between files', () => {
    assert.deepEqual(cycles(modules), []);
  });
});
