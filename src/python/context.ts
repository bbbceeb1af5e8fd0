/** Everything the framework recognisers share about one parsed file: source, imports, style and name resolution. */
import { LineIndex, Style, detectStyle, StatementAnchor, anchorOf } from './edits';
import { Imports } from './imports';
import type { Node } from './parser';
import { dottedName, enclosingFunction, methodName, callArguments, statementOf } from './syntax';

export interface Assignment {
  /** The assignment statement's node. */
  node: Node;
  /** The assigned value; for tuple targets, the element matching the name (or the whole value, with `index`). */
  value: Node;
  index?: number;
}

/** A resolved value: the expression a name was last assigned from, and where. */
export interface Resolved {
  value: Node;
  at: Node;
}

export class AnalysisContext {
  readonly imports: Imports;
  readonly style: Style;
  readonly lines: LineIndex;
  readonly calls: Node[];
  private readonly assignments = new Map<string, Assignment[]>();

  constructor(
    readonly root: Node,
    readonly source: string,
  ) {
    this.imports = new Imports(root, source);
    this.style = detectStyle(root, source);
    this.lines = new LineIndex(source);
    this.calls = root.descendantsOfType('call').filter((c): c is Node => !!c);
    for (const a of root.descendantsOfType('assignment')) if (a) this.indexAssignment(a);
  }

  line(offset: number): number {
    return this.lines.position(offset).line;
  }

  anchor(node: Node): StatementAnchor {
    return anchorOf(statementOf(node), this.source);
  }

  /** Qualified name a call's function refers to through the imports (`torch.optim.AdamW`). */
  qualifiedCallee(call: Node): string | undefined {
    const f = call.childForFieldName('function');
    if (f?.type === 'call') return undefined;
    return this.imports.qualifyNode(f);
  }

  /**
   * The value an expression (a name or `self.x`) was last assigned before a node: in the same
   * function first, then at module level, then anywhere (attributes set in `__init__`). Follows
   * `a, b = accelerator.prepare(a, b)` back to the prepared arguments.
   */
  resolve(expr: Node | string, at: Node, depth = 0): Resolved | undefined {
    const name = typeof expr === 'string' ? expr : dottedName(expr);
    if (!name || depth > 6) return undefined;
    const list = this.assignments.get(name);
    if (!list) return undefined;
    const fn = enclosingFunction(at);
    const before = list.filter((a) => a.node.endIndex <= at.startIndex);
    const pick =
      last(before.filter((a) => enclosingFunction(a.node)?.id === fn?.id)) ??
      last(before.filter((a) => enclosingFunction(a.node) === undefined)) ??
      (name.includes('.') ? last(list) : undefined);
    if (!pick) return undefined;
    if (pick.index !== undefined) {
      // `model, optimizer = accelerator.prepare(model, optimizer)`: the i-th argument, as it was then.
      if (pick.value.type === 'call' && methodName(pick.value) === 'prepare') {
        const arg = callArguments(pick.value).positional[pick.index];
        if (!arg) return undefined;
        const inner = this.resolve(arg, pick.node, depth + 1);
        return inner ?? { value: arg, at: pick.node };
      }
      return undefined;
    }
    if (pick.value.type === 'identifier' || pick.value.type === 'attribute') {
      return this.resolve(pick.value, pick.node, depth + 1) ?? { value: pick.value, at: pick.node };
    }
    return { value: pick.value, at: pick.node };
  }

  /** The `accelerator.prepare` call that (re)binds a name before a node, if any. */
  preparedBy(expr: Node | string, at: Node): string | undefined {
    const name = typeof expr === 'string' ? expr : dottedName(expr);
    const list = name ? this.assignments.get(name) : undefined;
    const pick = last((list ?? []).filter((a) => a.node.endIndex <= at.startIndex));
    if (!pick || pick.index === undefined || pick.value.type !== 'call' || methodName(pick.value) !== 'prepare')
      return undefined;
    return pick.value.childForFieldName('function')?.childForFieldName('object')?.text;
  }

  /** Whether a call's function resolves (through the imports or an assignment) to a qualified name ending like this. */
  constructs(value: Node | undefined, test: (qualified: string) => boolean): boolean {
    if (!value || value.type !== 'call') return false;
    const q = this.qualifiedCallee(value) ?? dottedName(value.childForFieldName('function'));
    return q !== undefined && test(q);
  }

  private indexAssignment(a: Node): void {
    const left = a.childForFieldName('left');
    const right = a.childForFieldName('right');
    if (!left || !right) return;
    const add = (name: string | undefined, entry: Assignment): void => {
      if (!name) return;
      let list = this.assignments.get(name);
      if (!list) this.assignments.set(name, (list = []));
      list.push(entry);
    };
    if (left.type === 'pattern_list' || left.type === 'tuple_pattern') {
      const targets = left.namedChildren.filter((c): c is Node => !!c);
      const values =
        right.type === 'expression_list' || right.type === 'tuple'
          ? right.namedChildren.filter((c): c is Node => !!c)
          : undefined;
      targets.forEach((t, i) => {
        if (values && values.length === targets.length) add(dottedName(t), { node: a, value: values[i] });
        else add(dottedName(t), { node: a, value: right, index: i });
      });
      return;
    }
    add(dottedName(left), { node: a, value: right });
  }
}

function last<T>(list: T[]): T | undefined {
  return list[list.length - 1];
}
