/** Edits to a call's arguments that keep its layout: add a keyword argument, replace an argument's value. */
import type { Node } from './parser';
import { indentAt, Style, TextEdit } from './edits';
import { callArguments } from './syntax';

/** Edits adding arguments (e.g. `gradient_clip_val=1.0`) after the call's last one, in the call's own layout. */
export function appendArgumentEdits(call: Node, added: readonly string[], source: string, style: Style): TextEdit[] {
  const list = callArguments(call).list;
  return list ? appendItemEdits(list, added, source, style) : [];
}

/** Edits adding items after the last one of a bracketed list (`(...)` arguments, a `{...}` dict), in its own layout. */
export function appendItemEdits(list: Node, added: readonly string[], source: string, style: Style): TextEdit[] {
  const args = list.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment');
  const close = list.endIndex - 1; // the `)`
  const last = args[args.length - 1];
  if (!last) return [{ start: close, end: close, text: added.join(', ') }];
  const lineStart = source.lastIndexOf('\n', last.startIndex - 1) + 1;
  const ownLine = source.slice(lineStart, last.startIndex).trim() === '';
  const afterLast = source.slice(last.endIndex, close);
  const trailingComma = /^\s*,/.test(afterLast);
  if (!ownLine || last.startPosition.row === list.startPosition.row) {
    // One-line call (or several arguments per line): `, new` right after the last argument.
    return [{ start: last.endIndex, end: last.endIndex, text: added.map((a) => `, ${a}`).join('') }];
  }
  // One argument per line: a new line at the same indentation, after any comment that ends the last one's line.
  const lineEnd = source.indexOf('\n', last.endIndex);
  const endOfLastLine =
    lineEnd === -1 || lineEnd > close ? last.endIndex : lineEnd - (source[lineEnd - 1] === '\r' ? 1 : 0);
  const indent = indentAt(source, last.startIndex);
  const edits: TextEdit[] = [];
  if (!trailingComma) edits.push({ start: last.endIndex, end: last.endIndex, text: ',' });
  edits.push({
    start: endOfLastLine,
    end: endOfLastLine,
    text: added.map((a) => `${style.eol}${indent}${a}`).join(',') + (trailingComma ? ',' : ''),
  });
  return edits;
}

/** Edits giving keyword arguments these values: existing ones are replaced in place, the others appended. */
export function setKeywordEdits(
  call: Node,
  values: ReadonlyArray<readonly [string, string]>,
  source: string,
  style: Style,
): TextEdit[] {
  const keywords = callArguments(call).keywords;
  const edits: TextEdit[] = [];
  const added: string[] = [];
  for (const [name, value] of values) {
    const existing = keywords.get(name);
    if (existing) edits.push({ start: existing.value.startIndex, end: existing.value.endIndex, text: value });
    else added.push(`${name}=${value}`);
  }
  if (added.length) edits.push(...appendArgumentEdits(call, added, source, style));
  return edits;
}
