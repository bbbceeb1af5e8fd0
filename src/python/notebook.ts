/**
 * Jupyter notebooks as one Python program: the code cells in order, joined by line breaks, with
 * IPython magics blanked to spaces of the same length (offsets stay those of the cells), so the
 * analysis sees a model made in cell 2 and the loop in cell 5 together; edits are mapped back
 * to their cell. `.ipynb` files are edited through jsonc-parser, touching only a changed cell's
 * `source`: metadata, outputs and the file's own formatting stay as they were.
 */
import { modify, applyEdits as applyJsonEdits } from 'jsonc-parser';
import { applyEdits, LineIndex, TextEdit } from './edits';

export interface NotebookCell {
  kind: 'code' | 'markup';
  /** The cell's language (`python`, `markdown`, `r`...). */
  language: string;
  text: string;
}

export class NotebookError extends Error {}

/** Cell magics whose body is still Python (`%%time` runs the cell); any other cell magic (`%%bash`) skips the cell. */
const PYTHON_CELL_MAGICS = new Set(['time', 'timeit', 'capture', 'prun', 'debug', 'memit']);
const PYTHON = /^(python|python3|ipython|ipython3)$/i;

interface Span {
  /** Index of the cell in the notebook (all cells, markup included). */
  cell: number;
  start: number;
  end: number;
}

export class NotebookProgram {
  readonly source: string;
  private readonly spans: Span[] = [];
  private readonly cellLines = new Map<number, LineIndex>();

  /**
   * @param otherLanguages what to do with a code cell in another language: fail (the CLI, which
   * must not guess) or leave it out (the editor, where such cells are common).
   */
  constructor(
    readonly cells: readonly NotebookCell[],
    otherLanguages: 'error' | 'skip' = 'error',
  ) {
    const parts: string[] = [];
    let at = 0;
    cells.forEach((c, i) => {
      if (c.kind !== 'code') return;
      let text = c.text;
      if (!PYTHON.test(c.language)) {
        if (otherLanguages === 'error')
          throw new NotebookError(`cell ${i + 1} is in ${c.language}, not Python; nothing was changed`);
        text = blank(text);
      } else {
        text = withoutMagics(text);
      }
      if (parts.length) at += 1; // the line break joining two cells
      this.spans.push({ cell: i, start: at, end: at + text.length });
      this.cellLines.set(i, new LineIndex(c.text));
      parts.push(text);
      at += text.length;
    });
    this.source = parts.join('\n');
  }

  /** The cell holding a program offset, and the offset within it. */
  locate(offset: number): { cell: number; offset: number } | undefined {
    const s = this.spans.find((x) => x.start <= offset && offset <= x.end);
    return s && { cell: s.cell, offset: offset - s.start };
  }

  /** The program offset of an offset in a cell's own text, when the cell is part of the program. */
  programOffset(cell: number, offset: number): number | undefined {
    const s = this.spans.find((x) => x.cell === cell);
    return s && s.start + Math.min(offset, s.end - s.start);
  }

  /** "cell 4, line 5" (1-based, cells counted as the notebook shows them, markdown included). */
  where(offset: number): { cell: number; line: number; column: number; text: string } {
    const at = this.locate(offset) ?? { cell: this.spans[0]?.cell ?? 0, offset: 0 };
    const p = this.cellLines.get(at.cell)!.position(at.offset);
    return {
      cell: at.cell + 1,
      line: p.line + 1,
      column: p.character + 1,
      text: `cell ${at.cell + 1}, line ${p.line + 1}`,
    };
  }

  /** Program edits split by cell, as edits of each cell's own text. */
  cellEdits(edits: readonly TextEdit[]): Map<number, TextEdit[]> {
    const out = new Map<number, TextEdit[]>();
    for (const e of edits) {
      // A deletion of a cell's last line reaches the line break that joins it to the next cell.
      const s =
        this.spans.find((x) => x.start <= e.start && e.end <= x.end) ??
        this.spans.find((x) => x.start <= e.start && e.start < x.end && e.end === x.end + 1 && e.text === '');
      if (!s) throw new NotebookError('an edit crosses the boundary between two cells');
      let start = e.start - s.start;
      let end = Math.min(e.end, s.end) - s.start;
      if (e.end === s.end + 1 && start > 0 && this.source[e.start - 1] === '\n') start -= 1;
      if (start > end) end = start;
      out.set(s.cell, [...(out.get(s.cell) ?? []), { start, end, text: e.text }]);
    }
    return out;
  }

  /** The new text of each changed cell. */
  patchedCells(edits: readonly TextEdit[]): Map<number, string> {
    const out = new Map<number, string>();
    for (const [cell, list] of this.cellEdits(edits)) out.set(cell, applyEdits(this.cells[cell].text, list));
    return out;
  }
}

/** Replaces every character but line breaks by a space: the text is gone, the offsets stay. */
function blank(text: string): string {
  return text.replace(/[^\r\n]/g, ' ');
}

function withoutMagics(text: string): string {
  const firstLine = /^\s*%%(\w+)/.exec(text);
  if (firstLine && !PYTHON_CELL_MAGICS.has(firstLine[1])) return blank(text);
  return text
    .split('\n')
    .map((line) => {
      const m = /^(\s*)((?:[\w.,\s]+=\s*)?[!%].*?)(\r?)$/.exec(line);
      if (!m) return line;
      // `!pip install x`, `files = !ls` -> `pass`, padded to the same length.
      const [, indent, magic, cr] = m;
      return indent + (magic.length >= 4 ? 'pass'.padEnd(magic.length) : ' '.repeat(magic.length)) + cr;
    })
    .join('\n');
}

interface IpynbCell {
  cell_type?: unknown;
  source?: unknown;
  metadata?: { vscode?: { languageId?: unknown } };
}

/** The cells of an `.ipynb` file; a clear NotebookError when it is not one. */
export function parseIpynb(text: string): NotebookCell[] {
  let nb: { cells?: unknown; metadata?: { kernelspec?: { language?: unknown }; language_info?: { name?: unknown } } };
  try {
    nb = JSON.parse(text) as typeof nb;
  } catch (e) {
    throw new NotebookError(`not a valid notebook: its JSON does not parse (${(e as Error).message})`);
  }
  if (!nb || typeof nb !== 'object' || !Array.isArray(nb.cells))
    throw new NotebookError('not a valid notebook: it has no "cells" list');
  const language = String(nb.metadata?.kernelspec?.language ?? nb.metadata?.language_info?.name ?? 'python');
  return (nb.cells as IpynbCell[]).map((c, i) => {
    const source = c?.source;
    if (typeof source !== 'string' && !(Array.isArray(source) && source.every((l) => typeof l === 'string')))
      throw new NotebookError(`not a valid notebook: cell ${i + 1} has no source text`);
    const own = c.metadata?.vscode?.languageId;
    return {
      kind: c.cell_type === 'code' ? 'code' : 'markup',
      language: typeof own === 'string' ? own : c.cell_type === 'code' ? language : 'markdown',
      text: typeof source === 'string' ? source : source.join(''),
    };
  });
}

/** The `.ipynb` text with some cells' sources replaced, everything else byte for byte as it was. */
export function patchIpynb(text: string, cells: ReadonlyMap<number, string>): string {
  const nb = JSON.parse(text) as { cells: { source: unknown }[] };
  const indent = /\n([ \t]+)"/.exec(text)?.[1] ?? ' ';
  const formattingOptions = {
    insertSpaces: !indent.startsWith('\t'),
    tabSize: indent.startsWith('\t') ? 1 : indent.length,
    eol: text.includes('\r\n') ? '\r\n' : '\n',
  };
  let out = text;
  for (const [index, source] of cells) {
    // Keep the cell's representation: nbformat writes a list of lines, each with its line break.
    const value = Array.isArray(nb.cells[index].source) ? (source.match(/[^\n]*\n|[^\n]+$/g) ?? []) : source;
    out = applyJsonEdits(out, modify(out, ['cells', index, 'source'], value, { formattingOptions }));
  }
  return out;
}
