/** JAX/optax: the gradient transformation chain gets `optax.clip_by_global_norm(N)` first (chain applies in order). */
import type { AnalysisContext } from './context';
import { pyNumber } from './edits';
import type { Fix, TrainingSite } from './model';
import type { Node } from './parser';
import { argument, callArguments, numberLiteral } from './syntax';

const OPTIMIZERS = new Set([
  'adabelief',
  'adadelta',
  'adafactor',
  'adagrad',
  'adam',
  'adamax',
  'adamaxw',
  'adamw',
  'adan',
  'amsgrad',
  'fromage',
  'lamb',
  'lars',
  'lion',
  'nadam',
  'nadamw',
  'noisy_sgd',
  'novograd',
  'optimistic_gradient_descent',
  'polyak_sgd',
  'radam',
  'rmsprop',
  'rprop',
  'sgd',
  'sign_sgd',
  'sm3',
  'yogi',
  'muon',
  'lbfgs',
]);
const CHAINS = new Set(['optax.chain', 'optax.named_chain']);

export function optaxSites(ctx: AnalysisContext): TrainingSite[] {
  if (!ctx.imports.uses('optax')) return [];
  const optax = ctx.imports.reference(['optax'], { line: 'import optax', local: 'optax', qualified: 'optax' }).text;
  const seen = new Set<number>();
  const sites: TrainingSite[] = [];
  for (const call of ctx.calls) {
    if (!isOptimizer(ctx, call)) continue;
    const top = outermostChain(ctx, call);
    if (seen.has(top.id)) continue;
    seen.add(top.id);
    sites.push(site(ctx, top, optax));
  }
  return sites;
}

function isOptimizer(ctx: AnalysisContext, call: Node): boolean {
  const f = call.childForFieldName('function');
  if (f?.type === 'call') return ctx.qualifiedCallee(f) === 'optax.inject_hyperparams';
  const q = ctx.qualifiedCallee(call);
  return !!q && q.startsWith('optax.') && OPTIMIZERS.has(q.slice('optax.'.length));
}

function outermostChain(ctx: AnalysisContext, node: Node): Node {
  let top = node;
  for (;;) {
    const list = top.parent;
    const call = list?.type === 'argument_list' ? list.parent : undefined;
    if (!call || !CHAINS.has(ctx.qualifiedCallee(call) ?? '')) return top;
    top = call;
  }
}

function site(ctx: AnalysisContext, expr: Node, optax: string): TrainingSite {
  const line = ctx.line(expr.startIndex);
  const s: TrainingSite = {
    framework: 'optax',
    line,
    lines: [line],
    summary: `${expr.text.split('\n')[0]} at ${ctx.place(expr.startIndex)}`,
    details: { optimizer: expr.text.split('\n')[0] },
  };
  const clip = expr
    .descendantsOfType('call')
    .find((c) => c && /^optax\.(clip\w*|adaptive_grad_clip)$/.test(ctx.qualifiedCallee(c) ?? ''));
  if (clip) {
    const q = ctx.qualifiedCallee(clip)!;
    const limit = q === 'optax.clip_by_global_norm' ? argument(clip, 0, 'max_norm') : undefined;
    s.clipping = {
      line: ctx.line(clip.startIndex),
      kind: q === 'optax.clip' ? 'value' : 'norm',
      by: clip.childForFieldName('function')?.text ?? q,
      code: clip.text,
      maxNorm: limit?.text,
    };
    if (limit)
      s.setMaxNorm = (n) =>
        numberLiteral(limit) === n
          ? undefined
          : {
              title: `Set clip_by_global_norm to ${pyNumber(n)}`,
              edits: [{ start: limit.startIndex, end: limit.endIndex, text: pyNumber(n) }],
              imports: [],
            };
    return s;
  }
  const prepend = (transform: string, title: string): Fix => {
    if (CHAINS.has(ctx.qualifiedCallee(expr) ?? '')) {
      const list = callArguments(expr).list!;
      const first = list.namedChildren.find((c) => c && c.type !== 'comment');
      if (first) {
        const gap = ctx.source.slice(list.startIndex + 1, first.startIndex);
        return {
          title,
          edits: [{ start: first.startIndex, end: first.startIndex, text: `${transform},${gap || ' '}` }],
          imports: [],
        };
      }
    }
    return {
      title,
      edits: [{ start: expr.startIndex, end: expr.endIndex, text: `${optax}.chain(${transform}, ${expr.text})` }],
      imports: [],
    };
  };
  s.addNormClipping = (n) =>
    prepend(
      `${optax}.clip_by_global_norm(${pyNumber(n)})`,
      `Clip first: ${optax}.chain(${optax}.clip_by_global_norm(${pyNumber(n)}), ...)`,
    );
  s.addValueClipping = (v) =>
    prepend(`${optax}.clip(${pyNumber(v)})`, `Clip first: ${optax}.chain(${optax}.clip(${pyNumber(v)}), ...)`);
  return s;
}
