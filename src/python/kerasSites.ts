/**
 * Keras and TensorFlow: optimizer constructors (`global_clipnorm=` / `clipnorm=` / `clipvalue=`),
 * `compile(optimizer="adam")` strings (which cannot carry clipping, so become constructed
 * optimizers) and GradientTape loops (`tf.clip_by_global_norm` before `apply_gradients`).
 */
import { setKeywordEdits } from './arguments';
import type { AnalysisContext } from './context';
import { insertBefore, pyNumber } from './edits';
import type { ImportSpec } from './imports';
import type { ExistingClipping, Fix, TrainingSite } from './model';
import type { Node } from './parser';
import {
  argument,
  callArguments,
  contains,
  descendantsInScope,
  disablesClipping,
  enclosingFunction,
  isLoop,
  methodName,
  numberLiteral,
  receiver,
  stringLiteral,
} from './syntax';

const KERAS_IMPORT: ImportSpec = { line: 'import keras', local: 'keras', qualified: 'keras' };
const TF_IMPORT: ImportSpec = { line: 'import tensorflow as tf', local: 'tf', qualified: 'tensorflow' };
const KERAS_OPTIMIZER = /(^|\.)(tf_)?keras\.(src\.)?optimizers\.(legacy\.|experimental\.)?[A-Z]\w*$/;
const CLIP_KEYWORDS = ['global_clipnorm', 'clipnorm', 'clipvalue'] as const;

/** `compile(optimizer="...")` names Keras accepts, and their classes. */
const OPTIMIZER_CLASSES: Record<string, string> = {
  adadelta: 'Adadelta',
  adafactor: 'Adafactor',
  adagrad: 'Adagrad',
  adam: 'Adam',
  adamw: 'AdamW',
  adamax: 'Adamax',
  ftrl: 'Ftrl',
  lamb: 'Lamb',
  lion: 'Lion',
  nadam: 'Nadam',
  rmsprop: 'RMSprop',
  sgd: 'SGD',
};

export function kerasSites(ctx: AnalysisContext): TrainingSite[] {
  if (!ctx.imports.uses('keras') && !ctx.imports.uses('tensorflow') && !ctx.imports.uses('tf_keras')) return [];
  const isKerasOptimizer = (n: Node | undefined): boolean => ctx.constructs(n, (q) => KERAS_OPTIMIZER.test(q));
  const sites: TrainingSite[] = [];
  const covered = new Set<number>();
  for (const call of ctx.calls) {
    if (methodName(call) !== 'apply_gradients') continue;
    const optimizer = receiver(call);
    const value = optimizer ? ctx.resolve(optimizer, call)?.value : undefined;
    const constructor = isKerasOptimizer(value) ? value : undefined;
    if (constructor) covered.add(constructor.id);
    sites.push(tapeSite(ctx, call, constructor));
  }
  for (const call of ctx.calls) {
    if (methodName(call) === 'compile' && !ctx.qualifiedCallee(call)?.startsWith('torch')) {
      const arg = argument(call, 0, 'optimizer');
      if (arg?.type === 'string') sites.push(compileStringSite(ctx, call, arg));
    } else if (isKerasOptimizer(call) && !covered.has(call.id)) {
      sites.push(constructorSite(ctx, call));
    }
  }
  return sites;
}

function existingKeyword(
  ctx: AnalysisContext,
  constructor: Node,
): { name: string; clipping: ExistingClipping; value: Node } | undefined {
  const kw = callArguments(constructor).keywords;
  for (const name of CLIP_KEYWORDS) {
    const given = kw.get(name);
    if (given && !disablesClipping(given.value)) {
      return {
        name,
        value: given.value,
        clipping: {
          line: ctx.line(given.node.startIndex),
          kind: name === 'clipvalue' ? 'value' : 'norm',
          by: name,
          code: given.node.text,
          maxNorm: given.value.text,
        },
      };
    }
  }
  return undefined;
}

function lineSpan(ctx: AnalysisContext, node: Node): number[] {
  const first = ctx.line(node.startIndex);
  return Array.from({ length: ctx.line(node.endIndex) - first + 1 }, (_, i) => first + i);
}

function constructorSite(ctx: AnalysisContext, call: Node): TrainingSite {
  const name = call.childForFieldName('function')?.text ?? 'optimizer';
  const site: TrainingSite = {
    framework: 'keras',
    line: ctx.line(call.startIndex),
    lines: lineSpan(ctx, call),
    summary: `${name}(...) at ${ctx.place(call.startIndex)}`,
    details: { optimizer: name },
  };
  const has = existingKeyword(ctx, call);
  const set = (keyword: string, v: number, title: string): Fix => ({
    title,
    edits: setKeywordEdits(call, [[keyword, pyNumber(v)]], ctx.source, ctx.style),
    imports: [],
  });
  if (has) {
    site.clipping = has.clipping;
    if (has.name !== 'clipvalue')
      site.setMaxNorm = (n) =>
        numberLiteral(has.value) === n ? undefined : set(has.name, n, `Set ${has.name} to ${pyNumber(n)}`);
    return site;
  }
  // Keras raises when more than one of the three is set: each fix sets exactly one.
  site.addNormClipping = (n) => set('global_clipnorm', n, `Add global_clipnorm=${pyNumber(n)} to ${name}`);
  site.alternatives = (n) => [
    set('clipnorm', n, `Add clipnorm=${pyNumber(n)} to ${name} (each gradient by its own norm)`),
  ];
  site.addValueClipping = (v) => set('clipvalue', v, `Add clipvalue=${pyNumber(v)} to ${name}`);
  return site;
}

function compileStringSite(ctx: AnalysisContext, call: Node, literal: Node): TrainingSite {
  const given = stringLiteral(literal) ?? literal.text;
  const cls = OPTIMIZER_CLASSES[given.toLowerCase()];
  const line = ctx.line(literal.startIndex);
  const site: TrainingSite = {
    framework: 'keras',
    line,
    lines: lineSpan(ctx, call),
    summary: `compile(optimizer=${literal.text}) at ${ctx.place(literal.startIndex)}`,
    details: { optimizer: literal.text },
  };
  if (!cls) {
    site.cannotFix = `unknown optimizer name ${literal.text}`;
    return site;
  }
  // A string cannot carry clipping: construct the optimizer instead, as the file spells Keras.
  const construct = (keyword: string, v: number): Fix => {
    const ref = ctx.imports.reference(
      [`keras.optimizers.${cls}`, `tensorflow.keras.optimizers.${cls}`, `tf_keras.optimizers.${cls}`],
      KERAS_IMPORT,
    );
    const text = `${ref.text}(${keyword}=${pyNumber(v)})`;
    return {
      title: `Use ${text} instead of ${literal.text}`,
      edits: [{ start: literal.startIndex, end: literal.endIndex, text }],
      imports: ref.needs ? [ref.needs] : [],
    };
  };
  site.addNormClipping = (n) => construct('global_clipnorm', n);
  site.alternatives = (n) => [construct('clipnorm', n)];
  site.addValueClipping = (v) => construct('clipvalue', v);
  return site;
}

function tapeSite(ctx: AnalysisContext, apply: Node, constructor: Node | undefined): TrainingSite {
  const line = ctx.line(apply.startIndex);
  const pairs = argument(apply, 0, 'grads_and_vars');
  const grads =
    pairs?.type === 'call' && pairs.childForFieldName('function')?.text === 'zip'
      ? callArguments(pairs).positional[0]
      : undefined;
  const site: TrainingSite = {
    framework: 'tensorflow',
    line,
    lines: [line],
    summary: `${apply.text.split('\n')[0]} at ${ctx.place(apply.startIndex)}`,
    details: { optimizer: receiver(apply)?.text ?? null, gradients: grads?.text ?? null },
  };
  const fn = enclosingFunction(apply);
  const scope = fn?.childForFieldName('body') ?? ctx.root;
  let region: Node = scope;
  for (let n = apply.parent; n && n.id !== scope.id; n = n.parent) if (isLoop(n)) region = n;
  const clip = descendantsInScope(region, new Set(['call'])).find(
    (c) =>
      c.startIndex < apply.startIndex &&
      /^tensorflow\.clip_by_(global_norm|norm|value)$/.test(ctx.qualifiedCallee(c) ?? '') &&
      (!fn || contains(scope, c)),
  );
  if (clip) {
    const limit = argument(clip, 1, 'clip_norm');
    const q = ctx.qualifiedCallee(clip)!;
    site.clipping = {
      line: ctx.line(clip.startIndex),
      kind: q.endsWith('value') ? 'value' : 'norm',
      by: clip.childForFieldName('function')?.text ?? q,
      code: clip.text,
      maxNorm: q.endsWith('value') ? undefined : limit?.text,
    };
    if (q.endsWith('global_norm') && limit) {
      site.setMaxNorm = (n) =>
        numberLiteral(limit) === n
          ? undefined
          : {
              title: `Set clip_norm to ${pyNumber(n)}`,
              edits: [{ start: limit.startIndex, end: limit.endIndex, text: pyNumber(n) }],
              imports: [],
            };
    }
    return site;
  }
  const onOptimizer = constructor && existingKeyword(ctx, constructor);
  if (onOptimizer) {
    site.clipping = onOptimizer.clipping;
    return site;
  }
  if (!grads || grads.type !== 'identifier') {
    site.cannotFix = 'apply_gradients does not take zip(<gradients variable>, <variables>)';
    return site;
  }
  const tf = (): { text: string; imports: ImportSpec[] } => {
    const ref = ctx.imports.reference(['tensorflow'], TF_IMPORT);
    return { text: ref.text, imports: ref.needs ? [ref.needs] : [] };
  };
  const g = grads.text;
  const place = (code: string, title: string, imports: ImportSpec[]): Fix | undefined => {
    const edit = insertBefore(ctx.anchor(apply), [{ text: code }], ctx.style);
    return edit && { title, edits: [edit], imports };
  };
  site.addNormClipping = (n) => {
    const t = tf();
    return place(
      `${g}, _ = ${t.text}.clip_by_global_norm(${g}, ${pyNumber(n)})`,
      `Add ${t.text}.clip_by_global_norm(${g}, ${pyNumber(n)}) before apply_gradients`,
      t.imports,
    );
  };
  site.addValueClipping = (v) => {
    const t = tf();
    const c = pyNumber(v);
    return place(
      `${g} = [None if g is None else ${t.text}.clip_by_value(g, -${c}, ${c}) for g in ${g}]`,
      `Add ${t.text}.clip_by_value(..., -${c}, ${c}) before apply_gradients`,
      t.imports,
    );
  };
  return site;
}
