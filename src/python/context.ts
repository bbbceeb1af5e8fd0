/** Everything the framework recognisers share about one parsed file: source, imports, style and name resolution. */
import { LineIndex, Style, detectStyle, StatementAnchor, anchorOf } from './edits';
import { Imports } from './imports';
import type { Node } from './parser';
import { argument, dottedName, enclosingFunction, methodName, callArguments, statementOf } from './syntax';

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
  /** For `a, b = f(...)` when `f` is not followed: which element of f's result the name holds. */
  index?: number;
}

/**
 * Calls whose tuple result gives back their arguments, prepared: `model, opt = accelerator.prepare(model, opt)`,
 * Fabric's `setup`.
 */
const PASS_THROUGH = new Set(['prepare', 'setup']);
const PREPARES_ONE = new Set([
  'prepare',
  'prepare_model',
  'prepare_optimizer',
  'setup',
  'setup_module',
  'setup_optimizers',
]);

export class AnalysisContext {
  readonly imports: Imports;
  readonly style: Style;
  readonly lines: LineIndex;
  readonly calls: Node[];
  private readonly assignments = new Map<string, Assignment[]>();
  /** Functions defined in this file, by name (the last definition wins, as in Python). */
  private readonly functions = new Map<string, Node>();

  constructor(
    readonly root: Node,
    readonly source: string,
    /** Reads a file the script names (a DeepSpeed JSON config), relative to the script's folder. */
    readonly readFile?: (path: string) => string | undefined,
    /** How an offset is named for people: `line 12`, or `cell 4, line 5` in a notebook. */
    private readonly placeOf?: (offset: number) => string,
  ) {
    this.imports = new Imports(root, source);
    this.style = detectStyle(root, source);
    this.lines = new LineIndex(source);
    this.calls = root.descendantsOfType('call').filter((c): c is Node => !!c);
    for (const a of root.descendantsOfType('assignment')) if (a) this.indexAssignment(a);
    for (const f of root.descendantsOfType('function_definition')) {
      const name = f?.childForFieldName('name')?.text;
      if (f && name) this.functions.set(name, f);
    }
  }

  /** The function defined in this file that a call invokes by name (`build_optimizer(model)`), if any. */
  calledFunction(call: Node): Node | undefined {
    const f = call.childForFieldName('function');
    return f?.type === 'identifier' ? this.functions.get(f.text) : undefined;
  }

  /** Calls of a function defined in this file. */
  callsOf(fn: Node): Node[] {
    return this.calls.filter((c) => this.calledFunction(c)?.id === fn.id);
  }

  /**
   * Every value an expression may hold, following the file's data flow: assignments, both branches
   * of `a if c else b`, the return values of functions defined here, and the arguments a function's
   * parameter receives at each of its calls in the file. Values that cannot be followed further are
   * returned as they are (a constructor call, a literal, an unknown name).
   */
  values(expr: Node, at: Node, depth = 0, seen = new Set<number>()): Resolved[] {
    if (depth > 8 || seen.has(expr.id)) return [];
    seen.add(expr.id);
    if (expr.type === 'parenthesized_expression') {
      const inner = expr.namedChildren.find((c) => c && c.type !== 'comment');
      return inner ? this.values(inner, at, depth + 1, seen) : [];
    }
    if (expr.type === 'conditional_expression') {
      const [then, , otherwise] = expr.namedChildren;
      return [then, otherwise].flatMap((b) => (b ? this.values(b, at, depth + 1, seen) : []));
    }
    if (expr.type === 'call') {
      // `optimizer = fabric.setup_optimizers(optimizer)`, `model = accelerator.prepare(model)`: the wrapped value's
      // origin.
      const single = callArguments(expr).positional;
      if (PREPARES_ONE.has(methodName(expr) ?? '') && single.length === 1)
        return [{ value: expr, at }, ...this.values(single[0], at, depth + 1, seen)];
      const fn = this.calledFunction(expr);
      if (fn) {
        const returned = fn
          .descendantsOfType('return_statement')
          .filter((r): r is Node => !!r && enclosingFunction(r)?.id === fn.id)
          .flatMap((r) => r.namedChildren.filter((c): c is Node => !!c && c.type !== 'comment'));
        if (returned.length) return returned.flatMap((r) => this.values(r, r, depth + 1, seen));
      }
      return [{ value: expr, at }];
    }
    if (expr.type !== 'identifier' && expr.type !== 'attribute') return [{ value: expr, at }];
    const r = this.resolveOne(expr, at, depth);
    if (r) {
      if (r.index !== undefined || r.value.id === expr.id) return [r];
      if (r.value.type === 'identifier' || r.value.type === 'attribute') {
        const further = this.values(r.value, r.at, depth + 1, seen);
        return further.length ? further : [r];
      }
      const further = this.values(r.value, r.at, depth + 1, seen);
      return further.length ? further : [r];
    }
    const param = expr.type === 'identifier' ? this.parameterOf(expr.text, at) : undefined;
    if (param) {
      const args = this.callsOf(param.fn).flatMap((c) => {
        const a = argument(c, param.index, expr.text);
        return a ? [{ arg: a, call: c }] : [];
      });
      const out = args.flatMap(({ arg, call }) => this.values(arg, call, depth + 1, seen));
      if (out.length) return out;
      if (param.defaultValue) return this.values(param.defaultValue, param.fn, depth + 1, seen);
    }
    return [];
  }

  /** Whether any value of an expression is a call whose callee's qualified name passes the test. */
  mayConstruct(expr: Node | undefined, at: Node, test: (qualified: string) => boolean): boolean {
    if (!expr) return false;
    return this.values(expr, at).some((v) => v.index === undefined && this.constructs(v.value, test));
  }

  /** The parameter of the enclosing function a name refers to, when it is one and is not reassigned before `at`. */
  private parameterOf(name: string, at: Node): { fn: Node; index: number; defaultValue?: Node } | undefined {
    const fn = enclosingFunction(at);
    if (fn?.type !== 'function_definition') return undefined;
    const params = fn.childForFieldName('parameters')?.namedChildren.filter((c): c is Node => !!c) ?? [];
    const isMethod = enclosingFunction(fn) === undefined && fn.parent?.parent?.type === 'class_definition';
    let index = 0;
    for (const p of params) {
      const id = p.type === 'identifier' ? p : (p.childForFieldName('name') ?? p.namedChildren[0]);
      const own = id?.type === 'identifier' ? id.text : undefined;
      if (own === name) {
        return {
          fn,
          index: isMethod ? index - 1 : index,
          defaultValue: p.childForFieldName('value') ?? undefined,
        };
      }
      if (p.type !== 'list_splat_pattern' && p.type !== 'dictionary_splat_pattern' && p.type !== 'keyword_separator')
        index++;
    }
    return undefined;
  }

  /** `line 12` (or `cell 4, line 5` in a notebook) for messages. */
  place(offset: number): string {
    return this.placeOf?.(offset) ?? `line ${this.line(offset) + 1}`;
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
    return this.resolveWith(expr, at, depth, false);
  }

  /** Like resolve, but a name unpacked from an unfollowed call's tuple resolves to that call, with its index. */
  private resolveOne(expr: Node | string, at: Node, depth: number): Resolved | undefined {
    return this.resolveWith(expr, at, depth, true);
  }

  private resolveWith(expr: Node | string, at: Node, depth: number, withIndex: boolean): Resolved | undefined {
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
      if (pick.value.type === 'call' && PASS_THROUGH.has(methodName(pick.value) ?? '')) {
        const arg = callArguments(pick.value).positional[pick.index];
        if (!arg) return undefined;
        const inner = this.resolve(arg, pick.node, depth + 1);
        return inner ?? { value: arg, at: pick.node };
      }
      return withIndex ? { value: pick.value, at: pick.node, index: pick.index } : undefined;
    }
    if (pick.value.type === 'identifier' || pick.value.type === 'attribute') {
      return this.resolveWith(pick.value, pick.node, depth + 1, withIndex) ?? { value: pick.value, at: pick.node };
    }
    return { value: pick.value, at: pick.node };
  }

  /** The assignment statement that last binds a name before a node (in its function, else at module level). */
  assignmentOf(expr: Node | string, at: Node): Node | undefined {
    const name = typeof expr === 'string' ? expr : dottedName(expr);
    const before = (name ? (this.assignments.get(name) ?? []) : []).filter((a) => a.node.endIndex <= at.startIndex);
    const fn = enclosingFunction(at);
    return (
      last(before.filter((a) => enclosingFunction(a.node)?.id === fn?.id)) ??
      last(before.filter((a) => enclosingFunction(a.node) === undefined))
    )?.node;
  }

  /** The object whose `prepare`/`setup` call (re)binds a name before a node (`accelerator`, `fabric`), if any. */
  preparedBy(expr: Node | string, at: Node): { object: Node } | undefined {
    const name = typeof expr === 'string' ? expr : dottedName(expr);
    const list = name ? this.assignments.get(name) : undefined;
    const pick = last((list ?? []).filter((a) => a.node.endIndex <= at.startIndex));
    if (!pick || pick.value.type !== 'call' || !PREPARES_ONE.has(methodName(pick.value) ?? '')) return undefined;
    const object = pick.value.childForFieldName('function')?.childForFieldName('object');
    return object ? { object } : undefined;
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
