/**
 * DeepSpeed clips inside `engine.step()` from its config's `"gradient_clipping"`, never by hand.
 * The config is a dict literal in the script or a JSON file named by `config=` (or the argparse
 * default of `--deepspeed_config`); the JSON is edited with jsonc-parser so its formatting stays.
 * DeepSpeed's docs and code have disagreed on the default, so the value is always written out.
 */
import { findNodeAtLocation, modify, parseTree } from 'jsonc-parser';
import { appendItemEdits } from './arguments';
import type { AnalysisContext } from './context';
import { pyNumber, TextEdit } from './edits';
import type { ExistingClipping, FileEdits } from './model';
import type { Node } from './parser';
import { argument, callArguments, methodName, numberLiteral, stringLiteral } from './syntax';

const KEY = 'gradient_clipping';

export type DeepSpeedConfig =
  { kind: 'dict'; dict: Node } | { kind: 'json'; path: string; text: string } | { kind: 'unknown'; why: string };

/** Where the config of a `deepspeed.initialize(...)` call is. */
export function deepspeedConfig(ctx: AnalysisContext, initialize: Node): DeepSpeedConfig {
  const kw = callArguments(initialize).keywords;
  const given = kw.get('config')?.value ?? kw.get('config_params')?.value;
  for (const v of given ? ctx.values(given, initialize) : []) {
    if (v.value.type === 'dictionary') return { kind: 'dict', dict: v.value };
    const path = stringLiteral(v.value);
    if (path !== undefined) return json(ctx, path);
  }
  if (!given || /deepspeed_config/.test(given.text)) {
    // `deepspeed.add_config_arguments(parser)` or an own `--deepspeed_config` option: its default, when it has one.
    const option = ctx.calls.find(
      (c) =>
        methodName(c) === 'add_argument' && /^--deepspeed[_-]config$/.test(stringLiteral(argument(c, 0, '')) ?? ''),
    );
    const path = stringLiteral(option ? callArguments(option).keywords.get('default')?.value : undefined);
    if (path !== undefined) return json(ctx, path);
    if (!given && !kw.has('args'))
      return {
        kind: 'unknown',
        why: 'deepspeed.initialize(...) is given no config (config= or args.deepspeed_config)',
      };
    return {
      kind: 'unknown',
      why: `the DeepSpeed config comes from the command line (--deepspeed_config): set "${KEY}" in that JSON file`,
    };
  }
  return { kind: 'unknown', why: `cannot follow the DeepSpeed config ${given.text} to a dict or a JSON file` };
}

function json(ctx: AnalysisContext, path: string): DeepSpeedConfig {
  const text = ctx.readFile?.(path);
  return text === undefined
    ? { kind: 'unknown', why: `cannot read the DeepSpeed config ${path}` }
    : { kind: 'json', path, text };
}

/** The clipping a config sets, or undefined when it sets none (absent or 0). */
export function configClipping(
  ctx: AnalysisContext,
  config: DeepSpeedConfig,
  initialize: Node,
): (ExistingClipping & { literal: boolean }) | undefined {
  if (config.kind === 'dict') {
    const pair = dictEntry(config.dict);
    if (!pair) return undefined;
    const value = pair.childForFieldName('value');
    if (numberLiteral(value ?? undefined) === 0) return undefined;
    return {
      line: ctx.line(pair.startIndex),
      kind: 'norm',
      by: `"${KEY}" in the DeepSpeed config`,
      code: pair.text,
      maxNorm: value?.text,
      literal: numberLiteral(value ?? undefined) !== undefined,
    };
  }
  if (config.kind === 'json') {
    const node = findNodeAtLocation(parseTree(config.text) ?? { type: 'null', offset: 0, length: 0 }, [KEY]);
    if (!node || node.value === 0 || node.value === null) return undefined;
    return {
      line: ctx.line(initialize.startIndex),
      kind: 'norm',
      by: `"${KEY}" in ${config.path}`,
      code: `"${KEY}": ${JSON.stringify(node.value)}`,
      maxNorm: String(node.value),
      literal: typeof node.value === 'number',
    };
  }
  return undefined;
}

function dictEntry(dict: Node): Node | undefined {
  return dict.namedChildren.find(
    (p): p is Node => !!p && p.type === 'pair' && stringLiteral(p.childForFieldName('key') ?? undefined) === KEY,
  );
}

/** The edits that set `"gradient_clipping": n` in the config: script edits for a dict, file edits for JSON. */
export function setGradientClipping(
  ctx: AnalysisContext,
  config: DeepSpeedConfig,
  n: number,
): { edits: TextEdit[]; files: FileEdits[] } | undefined {
  if (config.kind === 'dict') {
    const pair = dictEntry(config.dict);
    const value = pair?.childForFieldName('value');
    if (value) return { edits: [{ start: value.startIndex, end: value.endIndex, text: pyNumber(n) }], files: [] };
    return { edits: appendItemEdits(config.dict, [`"${KEY}": ${pyNumber(n)}`], ctx.source, ctx.style), files: [] };
  }
  if (config.kind !== 'json') return undefined;
  const edits = modify(config.text, [KEY], n, { formattingOptions: jsonFormatting(config.text) });
  // Written as DeepSpeed's examples write it (1.0, not 1), through jsonc-parser's edit of the number.
  const fileEdits = edits.map((e) => ({
    start: e.offset,
    end: e.offset + e.length,
    text: e.content.replace(new RegExp(`("${KEY}"\\s*:\\s*)${n}(?![\\d.])`), `$1${pyNumber(n)}`),
  }));
  return { edits: [], files: [{ path: config.path, edits: fileEdits }] };
}

/** The JSON file's own indentation and line ending, so an added key looks like its neighbours. */
function jsonFormatting(text: string): { insertSpaces: boolean; tabSize: number; eol: string } {
  const indent = /\n([ \t]+)\S/.exec(text)?.[1] ?? '  ';
  return {
    insertSpaces: !indent.startsWith('\t'),
    tabSize: indent.startsWith('\t') ? 1 : indent.length,
    eol: text.includes('\r\n') ? '\r\n' : '\n',
  };
}
