/**
 * What a file imports: local names bound to qualified module paths (`tf` -> `tensorflow`, `FSDP` ->
 * `torch.distributed.fsdp.FullyShardedDataParallel`), how to spell a qualified name with those
 * bindings, and where a new import line goes.
 */
import type { Node } from './parser';
import { dottedName, enclosingFunction } from './syntax';

export interface Binding {
  local: string;
  qualified: string;
  /** Bound at module level (usable anywhere), not inside a function. */
  moduleLevel: boolean;
}

export interface ImportSpec {
  /** The line to add, e.g. `import torch` or `import tensorflow as tf`. */
  line: string;
  /** The name it binds and the qualified path that name stands for. */
  local: string;
  qualified: string;
}

export class Imports {
  readonly bindings: Binding[] = [];
  /** Offset where a new import line is inserted (start of a line), and whether a newline must precede it. */
  readonly insertAt: number;
  readonly insertNeedsNewline: boolean;

  constructor(root: Node, source: string) {
    for (const n of root.descendantsOfType(['import_statement', 'import_from_statement'])) if (n) this.collect(n);
    const point = importInsertionPoint(root, source);
    this.insertAt = point.offset;
    this.insertNeedsNewline = point.needsNewline;
  }

  /** The qualified path a dotted expression refers to through the imports (`nn.utils.x` -> `torch.nn.utils.x`). */
  qualify(dotted: string | undefined): string | undefined {
    if (!dotted) return undefined;
    const [head, ...rest] = dotted.split('.');
    const b = this.bindings.find((x) => x.local === head);
    return b ? [b.qualified, ...rest].join('.') : undefined;
  }

  qualifyNode(node: Node | null | undefined): string | undefined {
    return this.qualify(dottedName(node));
  }

  /** Whether any import mentions a top-level package (`tensorflow`, `keras`...). */
  uses(topLevel: string): boolean {
    return this.bindings.some((b) => b.qualified === topLevel || b.qualified.startsWith(`${topLevel}.`));
  }

  /**
   * How to write one of the qualified names (the first the module-level imports reach), or the
   * fallback spelling and the import it needs.
   */
  reference(candidates: readonly string[], fallback: ImportSpec): { text: string; needs?: ImportSpec } {
    for (const qualified of candidates) {
      // The broadest import wins (`torch.nn.utils.x` over `nn.utils.x` when both work): the canonical spelling.
      let best: Binding | undefined;
      for (const b of this.bindings) {
        if (!b.moduleLevel) continue;
        if (qualified !== b.qualified && !qualified.startsWith(`${b.qualified}.`)) continue;
        if (!best || b.qualified.length < best.qualified.length) best = b;
      }
      if (best) return { text: best.local + qualified.slice(best.qualified.length) };
    }
    const text = fallback.local + candidates[0].slice(fallback.qualified.length);
    return { text, needs: fallback };
  }

  private collect(stmt: Node): void {
    const moduleLevel = enclosingFunction(stmt) === undefined;
    const add = (local: string, qualified: string): void => {
      this.bindings.push({ local, qualified, moduleLevel });
    };
    if (stmt.type === 'import_statement') {
      for (const name of stmt.childrenForFieldName('name')) {
        if (!name) continue;
        if (name.type === 'aliased_import') {
          const target = name.childForFieldName('name')?.text;
          const alias = name.childForFieldName('alias')?.text;
          if (target && alias) add(alias, target);
        } else {
          // `import torch.nn` binds `torch`.
          const top = name.text.split('.')[0];
          add(top, top);
        }
      }
      return;
    }
    const moduleNode = stmt.childForFieldName('module_name');
    if (!moduleNode || moduleNode.type === 'relative_import') return;
    const module = moduleNode.text;
    for (const name of stmt.childrenForFieldName('name')) {
      if (!name) continue;
      if (name.type === 'aliased_import') {
        const target = name.childForFieldName('name')?.text;
        const alias = name.childForFieldName('alias')?.text;
        if (target && alias) add(alias, `${module}.${target}`);
      } else {
        add(name.text, `${module}.${name.text}`);
      }
    }
  }
}

/** After the last import of the file's leading block of imports, else after its docstring and header comments. */
function importInsertionPoint(root: Node, source: string): { offset: number; needsNewline: boolean } {
  let after: Node | undefined;
  for (const child of root.namedChildren) {
    if (!child) continue;
    const isImport =
      child.type === 'import_statement' ||
      child.type === 'import_from_statement' ||
      child.type === 'future_import_statement';
    const isDocstring = !after && child.type === 'expression_statement' && child.namedChildren[0]?.type === 'string';
    if (isImport || isDocstring || (child.type === 'comment' && !after)) {
      after = child;
      continue;
    }
    if (child.type === 'comment') continue;
    // Imports guarded by try/if at the top (optional dependencies) still belong to the header.
    if ((child.type === 'try_statement' || child.type === 'if_statement') && onlyImports(child)) {
      after = child;
      continue;
    }
    break;
  }
  if (!after) return { offset: 0, needsNewline: false };
  const lineEnd = source.indexOf('\n', after.endIndex);
  return lineEnd === -1 ? { offset: source.length, needsNewline: true } : { offset: lineEnd + 1, needsNewline: false };
}

function onlyImports(node: Node): boolean {
  const simple = node.descendantsOfType([
    'expression_statement',
    'assignment',
    'call',
    'function_definition',
    'class_definition',
  ]);
  return (
    node.descendantsOfType(['import_statement', 'import_from_statement']).length > 0 &&
    simple.every((n) => n && n.type !== 'function_definition' && n.type !== 'class_definition' && n.type !== 'call')
  );
}
