/**
 * Whose parameters an expression lists (`model.parameters()`, param groups built from
 * `model.named_parameters()`, an optimizer's `param_groups`), and how that model is named where
 * the step runs (the loop may live in a function that receives the model under another name).
 */
import type { AnalysisContext } from './context';
import type { Node } from './parser';
import { argument, enclosingFunction, methodName, receiver } from './syntax';

export interface Owner {
  /** The module expression whose parameters are taken, and the node it is evaluated at. */
  node: Node;
  at: Node;
}

export function paramsOwners(ctx: AnalysisContext, expr: Node, at: Node): Owner[] {
  const out: Owner[] = [];
  const visited = new Set<number>();
  const visit = (n: Node, where: Node, depth: number): void => {
    if (depth > 6 || visited.has(n.id)) return;
    visited.add(n.id);
    if (n.type === 'call' && /^(named_)?parameters$/.test(methodName(n) ?? '')) {
      const r = receiver(n);
      if (r) out.push({ node: r.type === 'subscript' ? (r.childForFieldName('value') ?? r) : r, at: where });
      return;
    }
    if (n.type === 'attribute' && n.childForFieldName('attribute')?.text === 'param_groups') {
      const optimizer = n.childForFieldName('object');
      for (const v of optimizer ? ctx.values(optimizer, where) : []) {
        const p = v.value.type === 'call' ? argument(v.value, 0, 'params') : undefined;
        if (p) visit(p, v.value, depth + 1);
      }
      return;
    }
    if (n.type === 'identifier' || n.type === 'attribute') {
      for (const v of ctx.values(n, where))
        if (v.value.id !== n.id && v.index === undefined) visit(v.value, v.at, depth + 1);
      return;
    }
    for (const c of n.namedChildren) if (c) visit(c, where, depth + 1);
  };
  visit(expr, at, 0);
  return out;
}

/** A use of a name before a node, in that node's function or at module level, to resolve it there. */
export function useOf(ctx: AnalysisContext, name: string, at: Node): Node | undefined {
  const scope = enclosingFunction(at) ?? ctx.root;
  return scope
    .descendantsOfType(['identifier', 'attribute'])
    .find((n): n is Node => !!n && n.text === name && n.startIndex < at.startIndex);
}

/**
 * Names that may hold the model where the step runs: those called in the loop (the forward) first, then parameters and
 * assignments.
 */
function candidateNames(ctx: AnalysisContext, step: Node, region: Node): string[] {
  const fn = enclosingFunction(step);
  const called = region
    .descendantsOfType('call')
    .map((c) => c?.childForFieldName('function'))
    .filter((f): f is Node => !!f && (f.type === 'identifier' || f.type === 'attribute'))
    .map((f) => f.text);
  const params = (fn?.childForFieldName('parameters')?.namedChildren ?? [])
    .map((p) => (p?.type === 'identifier' ? p.text : p?.childForFieldName('name')?.text))
    .filter((t): t is string => !!t);
  const assigned = (fn ?? ctx.root)
    .descendantsOfType('assignment')
    .map((a) => a?.childForFieldName('left'))
    .filter((l): l is Node => !!l && (l.type === 'identifier' || l.type === 'attribute'))
    .map((l) => l.text);
  return [...new Set([...called, ...params, ...assigned])];
}

/** The name, valid at the step, of the model one of the owners stands for. */
export function modelAt(ctx: AnalysisContext, owners: readonly Owner[], step: Node, region: Node): string | undefined {
  const fn = enclosingFunction(step);
  for (const o of owners) {
    if (o.node.type !== 'identifier' && o.node.type !== 'attribute') continue;
    const origins = new Set(ctx.values(o.node, o.at).map((v) => v.value.id));
    const ownScope = enclosingFunction(o.at)?.id === fn?.id || o.node.text.startsWith('self.');
    if (origins.size === 0) {
      if (ownScope || (enclosingFunction(o.at) === undefined && useOf(ctx, o.node.text, step))) return o.node.text;
      continue;
    }
    if (ownScope) return o.node.text;
    for (const name of [o.node.text, ...candidateNames(ctx, step, region)]) {
      const use = useOf(ctx, name, step);
      if (use && ctx.values(use, step).some((v) => origins.has(v.value.id))) return name;
    }
  }
  return undefined;
}

/** A model called in the loop whose value passes a test (e.g. constructed by FSDP), when the optimizer says nothing. */
export function calledModel(
  ctx: AnalysisContext,
  step: Node,
  region: Node,
  test: (qualified: string) => boolean,
): string | undefined {
  return candidateNames(ctx, step, region).find((name) => {
    const use = useOf(ctx, name, step);
    return !!use && ctx.mayConstruct(use, step, test);
  });
}
