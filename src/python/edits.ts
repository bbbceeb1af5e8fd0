/**
 * Text edits over a source string (UTF-16 offsets, as tree-sitter and VS Code count), and how to
 * place new statements.
 */
import type { Node } from './parser';

export interface TextEdit {
  start: number;
  end: number;
  text: string;
}

/** Applies non-overlapping edits; insertions at the same offset keep their given order. */
export function applyEdits(source: string, edits: readonly TextEdit[]): string {
  const ordered = edits
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.start - b.e.start || a.e.end - b.e.end || a.i - b.i);
  let out = '';
  let at = 0;
  for (const { e } of ordered) {
    if (e.start < at) throw new Error(`overlapping edits at offset ${e.start}`);
    out += source.slice(at, e.start) + e.text;
    at = e.end;
  }
  return out + source.slice(at);
}

export interface Position {
  /** 0-based line and UTF-16 column. */
  line: number;
  character: number;
}

export class LineIndex {
  private readonly starts: number[] = [0];

  constructor(source: string) {
    for (let i = 0; i < source.length; i++) if (source.charCodeAt(i) === 10) this.starts.push(i + 1);
  }

  position(offset: number): Position {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo, character: offset - this.starts[lo] };
  }

  lineStart(line: number): number {
    return this.starts[Math.max(0, Math.min(line, this.starts.length - 1))];
  }
}

/** The file's conventions for new code: line ending and one level of indentation. */
export interface Style {
  eol: string;
  indentUnit: string;
}

export function detectStyle(root: Node, source: string): Style {
  const eol = source.includes('\r\n') ? '\r\n' : '\n';
  const counts = new Map<string, number>();
  for (const block of root.descendantsOfType('block')) {
    const first = block?.namedChildren[0];
    const header = block?.parent;
    if (!first || !header || first.startPosition.row === header.startPosition.row) continue;
    const outer = indentAt(source, header.startIndex);
    const inner = indentAt(source, first.startIndex);
    if (inner.length > outer.length && inner.startsWith(outer)) {
      const unit = inner.slice(outer.length);
      counts.set(unit, (counts.get(unit) ?? 0) + 1);
    }
  }
  let indentUnit = '    ';
  let best = 0;
  for (const [unit, n] of counts) if (n > best) [indentUnit, best] = [unit, n];
  return { eol, indentUnit };
}

/** Leading whitespace of the line holding an offset. */
export function indentAt(source: string, offset: number): string {
  const start = source.lastIndexOf('\n', offset - 1) + 1;
  let end = start;
  while (end < source.length && (source[end] === ' ' || source[end] === '\t')) end++;
  return source.slice(start, end);
}

/** A line of new code, `depth` levels deeper than the statement it is placed next to. */
export interface CodeLine {
  text: string;
  depth?: number;
}

/** Where a statement sits, for placing new statements next to it. */
export interface StatementAnchor {
  start: number;
  end: number;
  /** Start of the line holding `start`. */
  lineStart: number;
  /** Just past the line break ending the statement's last line (or the end of the file). */
  afterLine: number;
  indent: string;
  /** Nothing but whitespace precedes the statement on its line. */
  firstOnLine: boolean;
  /** No other statement follows on the statement's last line. */
  lastOnLine: boolean;
  /** The file ends on this statement's line without a line break. */
  atEndWithoutNewline: boolean;
}

export function anchorOf(stmt: Node, source: string): StatementAnchor {
  const lineStart = source.lastIndexOf('\n', stmt.startIndex - 1) + 1;
  const nl = source.indexOf('\n', stmt.endIndex);
  const next = stmt.nextNamedSibling;
  const before = source.slice(lineStart, stmt.startIndex);
  return {
    start: stmt.startIndex,
    end: stmt.endIndex,
    lineStart,
    afterLine: nl === -1 ? source.length : nl + 1,
    indent: indentAt(source, stmt.startIndex),
    firstOnLine: before.trim() === '',
    lastOnLine: !next || next.type === 'comment' || next.startPosition.row > stmt.endPosition.row,
    atEndWithoutNewline: nl === -1,
  };
}

function renderLines(lines: readonly CodeLine[], indent: string, style: Style): string {
  return lines.map((l) => indent + style.indentUnit.repeat(l.depth ?? 0) + l.text + style.eol).join('');
}

/** Simple statements can share a line with `; `; a nested block cannot. */
function joinable(lines: readonly CodeLine[]): boolean {
  return lines.every((l) => !l.depth && !l.text.trimEnd().endsWith(':'));
}

/** An edit placing statements just before a statement, at its indentation; undefined where that cannot be done. */
export function insertBefore(anchor: StatementAnchor, lines: readonly CodeLine[], style: Style): TextEdit | undefined {
  if (anchor.firstOnLine)
    return { start: anchor.lineStart, end: anchor.lineStart, text: renderLines(lines, anchor.indent, style) };
  if (!joinable(lines)) return undefined;
  return { start: anchor.start, end: anchor.start, text: `${lines.map((l) => l.text).join('; ')}; ` };
}

/** An edit placing statements just after a statement, at its indentation; undefined where that cannot be done. */
export function insertAfter(anchor: StatementAnchor, lines: readonly CodeLine[], style: Style): TextEdit | undefined {
  if (anchor.lastOnLine && anchor.firstOnLine) {
    const lead = anchor.atEndWithoutNewline ? style.eol : '';
    return { start: anchor.afterLine, end: anchor.afterLine, text: lead + renderLines(lines, anchor.indent, style) };
  }
  if (!joinable(lines)) return undefined;
  return { start: anchor.end, end: anchor.end, text: `; ${lines.map((l) => l.text).join('; ')}` };
}

/** An edit deleting a statement that has its line(s) to itself; undefined otherwise. */
export function deleteStatement(anchor: StatementAnchor): TextEdit | undefined {
  if (!anchor.firstOnLine || !anchor.lastOnLine) return undefined;
  return { start: anchor.lineStart, end: anchor.afterLine, text: '' };
}

/** Python literal for a clipping number: `1.0`, `2.5`, `0.001`. */
export function pyNumber(n: number): string {
  if (!Number.isFinite(n)) throw new RangeError(`not a finite number: ${n}`);
  return Number.isInteger(n) && Math.abs(n) < 1e16 ? n.toFixed(1) : String(n);
}
