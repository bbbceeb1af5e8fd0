/** Small, reusable questions about a tree-sitter Python syntax tree. */
import type { Node } from './parser';

/** `a.b.c` for an identifier/attribute chain; undefined for anything else (calls, subscripts...). */
export function dottedName(node: Node | null | undefined): string | undefined {
  if (!node) return undefined;
  if (node.type === 'identifier') return node.text;
  if (node.type === 'attribute') {
    const object = dottedName(node.childForFieldName('object'));
    const attribute = node.childForFieldName('attribute');
    return object && attribute ? `${object}.${attribute.text}` : undefined;
  }
  return undefined;
}

export function callee(call: Node): Node | null {
  return call.childForFieldName('function');
}

/** The attribute name a call is made through: `step` for `opt.step()`. */
export function methodName(call: Node): string | undefined {
  const f = callee(call);
  return f?.type === 'attribute' ? f.childForFieldName('attribute')?.text : undefined;
}

/** The object a method is called on: `opt` for `opt.step()`. */
export function receiver(call: Node): Node | null {
  const f = callee(call);
  return f?.type === 'attribute' ? f.childForFieldName('object') : null;
}

export interface CallArguments {
  list: Node | null;
  positional: Node[];
  keywords: Map<string, { node: Node; value: Node }>;
  /** `*args` or `**kwargs` present: the call may pass more than we see. */
  splat: boolean;
}

export function callArguments(call: Node): CallArguments {
  const list = call.childForFieldName('arguments');
  const out: CallArguments = { list, positional: [], keywords: new Map(), splat: false };
  if (!list || list.type !== 'argument_list') return out;
  for (const arg of list.namedChildren) {
    if (!arg || arg.type === 'comment') continue;
    if (arg.type === 'keyword_argument') {
      const name = arg.childForFieldName('name');
      const value = arg.childForFieldName('value');
      if (name && value) out.keywords.set(name.text, { node: arg, value });
    } else if (arg.type === 'list_splat' || arg.type === 'dictionary_splat') {
      out.splat = true;
    } else {
      out.positional.push(arg);
    }
  }
  return out;
}

/** The argument at a position or by keyword, as Python binds it. */
export function argument(call: Node, index: number, keyword: string): Node | undefined {
  const a = callArguments(call);
  return a.keywords.get(keyword)?.value ?? a.positional[index];
}

const STATEMENT_PARENTS = new Set(['block', 'module']);

/** The statement a node belongs to (the ancestor directly inside a block or the module). */
export function statementOf(node: Node): Node {
  let n = node;
  while (n.parent && !STATEMENT_PARENTS.has(n.parent.type)) n = n.parent;
  return n;
}

export function ancestors(node: Node): Node[] {
  const out: Node[] = [];
  for (let n = node.parent; n; n = n.parent) out.push(n);
  return out;
}

/** The innermost function (def or lambda) around a node, or undefined at module level. */
export function enclosingFunction(node: Node): Node | undefined {
  for (let n = node.parent; n; n = n.parent) if (n.type === 'function_definition' || n.type === 'lambda') return n;
  return undefined;
}

export function isLoop(node: Node): boolean {
  return node.type === 'for_statement' || node.type === 'while_statement';
}

/** Whether `inner` lies within `outer` (or is it). */
export function contains(outer: Node, inner: Node): boolean {
  return outer.startIndex <= inner.startIndex && inner.endIndex <= outer.endIndex;
}

/** Descendants of given types, not descending into nested function definitions or lambdas. */
export function descendantsInScope(
  root: Node,
  types: ReadonlySet<string>,
  allowFunction?: (fn: Node) => boolean,
): Node[] {
  const out: Node[] = [];
  const visit = (n: Node): void => {
    for (const child of n.namedChildren) {
      if (!child) continue;
      if (types.has(child.type)) out.push(child);
      if ((child.type === 'function_definition' || child.type === 'lambda') && !(allowFunction?.(child) ?? false))
        continue;
      visit(child);
    }
  };
  visit(root);
  return out;
}

/** The literal number a node holds (`1.0`, `-2`, `1e-3`), or undefined. */
export function numberLiteral(node: Node | undefined): number | undefined {
  if (!node) return undefined;
  if (node.type === 'integer' || node.type === 'float') {
    const v = Number(node.text.replace(/_/g, ''));
    return Number.isFinite(v) ? v : undefined;
  }
  if (node.type === 'unary_operator' && node.text.startsWith('-')) {
    const inner = numberLiteral(node.namedChildren[0] ?? undefined);
    return inner === undefined ? undefined : -inner;
  }
  return undefined;
}

/** The value of a plain string literal (no f-string, no concatenation), or undefined. */
export function stringLiteral(node: Node | undefined): string | undefined {
  if (!node || node.type !== 'string') return undefined;
  const parts = node.namedChildren.filter((c) => c && c.type !== 'string_start' && c.type !== 'string_end');
  if (parts.some((c) => c!.type !== 'string_content')) return undefined;
  return parts.map((c) => c!.text).join('');
}

/** `None` or a literal zero: a clipping argument that turns clipping off. */
export function disablesClipping(node: Node | undefined): boolean {
  return node?.type === 'none' || numberLiteral(node) === 0;
}
