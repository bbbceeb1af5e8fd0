/**
 * Training-loop checks that need no run: clipping that cannot work where it is (after the step,
 * before backward, on scaled AMP gradients, on every micro-batch, plain clipping of an FSDP
 * model) and per-parameter `.item()` loops that sync the device once per parameter.
 */
import type { AnalysisContext } from './context';
import { configFix } from './torchSites';
import { deepspeedConfig } from './deepspeedConfig';
import { deleteStatement, CodeLine, insertBefore, pyNumber, StatementAnchor, TextEdit } from './edits';
import { modelAt, Owner, paramsOwners } from './owners';
import type { Check, Fix, TrainingSite } from './model';
import type { Node } from './parser';
import {
  argument,
  callArguments,
  contains,
  descendantsInScope,
  enclosingFunction,
  methodName,
  numberLiteral,
  receiver,
  statementOf,
} from './syntax';
import { Clip, clipOf, deepspeedInitialize, FSDP_CLASS, isMonitorCall, TorchStep } from './torch';

export function torchChecks(
  ctx: AnalysisContext,
  steps: readonly TorchStep[],
  sites: readonly TrainingSite[],
): Check[] {
  const checks: Check[] = [];
  steps.forEach((s, i) => {
    if (!s.deepspeed) for (const c of s.clips) checks.push(...clipChecks(ctx, s, c));
    checks.push(...loggingChecks(ctx, s));
    checks.push(...syncLoops(s, sites[i]));
  });
  checks.push(...fsdpChecks(ctx), ...deepspeedChecks(ctx));
  // One finding per place: a loop shared by two steps is reported once.
  const seen = new Set<string>();
  return checks
    .filter((c) => !seen.has(`${c.code}:${c.start}`) && !!seen.add(`${c.code}:${c.start}`))
    .sort((a, b) => a.start - b.start);
}

const start = (s: TorchStep): Node => s.origin;

function check(
  code: Check['code'],
  node: Node,
  message: string,
  fixes: (Fix | undefined)[],
  severity: Check['severity'] = 'warning',
): Check {
  return {
    code,
    severity,
    message,
    start: node.startIndex,
    end: node.endIndex,
    fixes: fixes.filter((f): f is Fix => !!f),
  };
}

/**
 * Moves a statement to just before another (with extra statements ahead of it); undefined when it does not stand on its
 * own lines.
 */
function moveBefore(
  ctx: AnalysisContext,
  stmt: Node,
  target: StatementAnchor,
  title: string,
  ahead: CodeLine[] = [],
): Fix | undefined {
  const unit = movableUnit(stmt, target);
  const removal = deleteStatement(ctx.anchor(unit));
  const lines = unit.id === stmt.id ? [{ text: stmt.text }] : reindented(ctx, unit);
  const insertion = insertBefore(target, [...ahead, ...lines], ctx.style);
  return removal && insertion ? { title, edits: [removal, insertion], imports: [] } : undefined;
}

/**
 * The statement, or the `if` it is alone in (`if clip > 0: clip(...)`), which moves with it rather than staying empty.
 */
function movableUnit(stmt: Node, target: StatementAnchor): Node {
  let unit = stmt;
  for (;;) {
    const block = unit.parent;
    const owner = block?.parent;
    const alone = block?.type === 'block' && block.namedChildren.filter((c) => c && c.type !== 'comment').length === 1;
    if (!alone || owner?.type !== 'if_statement' || owner.childForFieldName('alternative')) return unit;
    if (owner.startIndex <= target.start && target.start < owner.endIndex) return unit;
    unit = owner;
  }
}

/** A compound statement's lines relative to its own first line's indentation. */
function reindented(ctx: AnalysisContext, unit: Node): CodeLine[] {
  const indent = ctx.anchor(unit).indent;
  const unitLines = unit.text.split(/\r?\n/);
  return unitLines.map((line, i) => {
    if (i === 0) return { text: line };
    const rest = line.startsWith(indent) ? line.slice(indent.length) : line.trimStart();
    let depth = 0;
    let text = rest;
    while (ctx.style.indentUnit && text.startsWith(ctx.style.indentUnit)) {
      text = text.slice(ctx.style.indentUnit.length);
      depth++;
    }
    return { text, depth };
  });
}

/** Whether a node in the step's loop runs on every micro-batch of an accumulation (outside its guard). */
function everyMicroBatch(node: Node, s: TorchStep): boolean {
  return !!s.guard && contains(s.region, node) && !contains(s.guard, node);
}

function unscaleCalls(s: TorchStep, from: number, to: number): Node[] {
  return descendantsInScope(s.region, new Set(['call'])).filter(
    (c) => methodName(c) === 'unscale_' && receiver(c)?.text === s.scaler && c.startIndex > from && c.startIndex < to,
  );
}

function clipChecks(ctx: AnalysisContext, s: TorchStep, c: Clip): Check[] {
  const stmt = statementOf(c.call);
  const name = c.name;
  const stepAnchor = ctx.anchor(s.step);
  const out: Check[] = [];
  if (c.placement !== 'between') {
    const ahead: CodeLine[] =
      s.scaler && unscaleCalls(s, start(s).startIndex, s.step.startIndex).length === 0
        ? [{ text: `${s.scaler}.unscale_(${s.optimizer})` }]
        : [];
    const fix = moveBefore(ctx, stmt, stepAnchor, `Move ${name} before ${s.step.text}`, ahead);
    const message =
      c.placement === 'after-step'
        ? `${name} runs after ${s.step.text} (${ctx.place(s.step.startIndex)}): the update already used the unclipped gradients, so this clipping has no effect. Clip between backward() and the step.`
        : `${name} runs before ${s.backward.call.text} (${ctx.place(s.backward.call.startIndex)}): it clips gradients that backward() then replaces or adds to. Clip between backward() and the step.`;
    out.push(check(c.placement === 'after-step' ? 'clip-after-step' : 'clip-before-backward', c.call, message, [fix]));
    return out;
  }
  const micro = everyMicroBatch(c.call, s);
  const needsUnscale = !!s.scaler && unscaleCalls(s, (s.guard ?? start(s)).startIndex, s.step.startIndex).length === 0;
  if (s.scaler && c.via !== 'lightning' && unscaleCalls(s, start(s).startIndex, c.call.startIndex).length === 0) {
    const later = unscaleCalls(s, c.call.endIndex, s.step.startIndex)[0];
    const title = `Call ${s.scaler}.unscale_(${s.optimizer}) before clipping`;
    // Under accumulation the clip moves into the guard behind unscale_ (the clip-every-micro-batch fix):
    // an unscale_ on every micro-batch raises on the second one.
    const fix = micro
      ? undefined
      : later
        ? moveBefore(ctx, statementOf(later), ctx.anchor(stmt), title)
        : insertFix(ctx, ctx.anchor(stmt), [{ text: `${s.scaler}.unscale_(${s.optimizer})` }], title);
    out.push(
      check(
        'clip-scaled-gradients',
        c.call,
        `${name} clips the scaled gradients of ${s.scaler}.scale(...).backward(): max_norm is compared with norms multiplied by the loss scale. Call ${s.scaler}.unscale_(${s.optimizer}) first${micro ? ', inside the accumulation step' : ''}.`,
        [fix],
      ),
    );
  }
  if (micro) {
    const ahead: CodeLine[] = needsUnscale ? [{ text: `${s.scaler}.unscale_(${s.optimizer})` }] : [];
    out.push(
      check(
        'clip-every-micro-batch',
        c.call,
        `${name} runs on every micro-batch, but ${s.step.text} only runs under the if at ${ctx.place(s.guard!.startIndex)}: it clips partial sums, shrinking earlier micro-batches again at every later clip, and pays for a norm per micro-batch. Clip once, right before the step.`,
        [moveBefore(ctx, stmt, stepAnchor, `Move ${name} into the accumulation step (before ${s.step.text})`, ahead)],
      ),
    );
  } else if (s.accelerator && s.accumulateContext && c.via === 'method' && !underSyncGuard(c.call, s)) {
    out.push(
      check(
        'clip-every-micro-batch',
        c.call,
        `${name} runs on every micro-batch inside ${s.accelerator}.accumulate(): guard it with if ${s.accelerator}.sync_gradients: so it clips once per real update (with fp16 a second unscale raises).`,
        [wrapInIf(ctx, stmt, `${s.accelerator}.sync_gradients`, `Clip only when ${s.accelerator}.sync_gradients`)],
      ),
    );
  }
  return out;
}

function underSyncGuard(node: Node, s: TorchStep): boolean {
  for (let n = node.parent; n && n.id !== s.region.id; n = n.parent)
    if (n.type === 'if_statement' && /\bsync_gradients\b/.test(n.childForFieldName('condition')?.text ?? ''))
      return true;
  return false;
}

function insertFix(ctx: AnalysisContext, anchor: StatementAnchor, lines: CodeLine[], title: string): Fix | undefined {
  const edit = insertBefore(anchor, lines, ctx.style);
  return edit && { title, edits: [edit], imports: [] };
}

function wrapInIf(ctx: AnalysisContext, stmt: Node, condition: string, title: string): Fix | undefined {
  const a = ctx.anchor(stmt);
  if (!a.firstOnLine || !a.lastOnLine) return undefined;
  const { eol, indentUnit } = ctx.style;
  const edit: TextEdit = {
    start: a.lineStart,
    end: a.end,
    text: `${a.indent}if ${condition}:${eol}${a.indent}${indentUnit}${stmt.text}`,
  };
  return { title, edits: [edit], imports: [] };
}

function loggingChecks(ctx: AnalysisContext, s: TorchStep): Check[] {
  if (!s.guard) return [];
  const calls = descendantsInScope(s.region, new Set(['call'])).filter(
    (c) => c.startIndex > start(s).startIndex && c.startIndex < s.step.startIndex,
  );
  return calls
    .filter(
      (c) =>
        ((isMonitorCall(ctx, c) && methodName(c) === 'step') ||
          /^(get_total_norm|grad_norm)$/.test(c.childForFieldName('function')?.text.split('.').pop() ?? '')) &&
        !clipOf(ctx, c) &&
        everyMicroBatch(c, s),
    )
    .map((c) =>
      check(
        'log-every-micro-batch',
        c,
        `${c.childForFieldName('function')?.text} runs on every micro-batch, but ${s.step.text} only runs under the if at ${ctx.place(s.guard!.startIndex)}: it reports the norms of partial sums. Report once, right before the step.`,
        [
          moveBefore(
            ctx,
            statementOf(c),
            ctx.anchor(s.step),
            `Move it into the accumulation step (before ${s.step.text})`,
          ),
        ],
      ),
    );
}

function syncLoops(s: TorchStep, site: TrainingSite | undefined): Check[] {
  const loops = descendantsInScope(s.region, new Set(['for_statement', 'for_in_clause']));
  const out: Check[] = [];
  for (const loop of loops) {
    const over = loop.childForFieldName('right');
    if (over?.type !== 'call' || !/^(named_)?parameters$/.test(methodName(over) ?? '')) continue;
    const body = loop.type === 'for_statement' ? loop.childForFieldName('body') : loop.parent;
    const sync = body?.descendantsOfType('call').find((c) => c && /^(item|tolist)$/.test(methodName(c) ?? ''));
    if (!sync) continue;
    const target = loop.type === 'for_statement' ? loop : loop.parent!;
    out.push(
      check(
        'per-parameter-sync',
        target,
        `.${methodName(sync)}() per parameter in the training step waits for the device once per parameter. Compute all norms on the device and read them once (torch.stack of the norms, one .tolist()), or let Gradient Monitor report them.`,
        [site?.addMonitoring?.()],
      ),
    );
  }
  return out;
}

/** Torch clipping calls and the models whose parameters they clip. */
function torchClips(ctx: AnalysisContext): { call: Node; clip: ReturnType<typeof clipOf>; owners: Owner[] }[] {
  return ctx.calls.flatMap((call) => {
    const clip = clipOf(ctx, call);
    if (!clip || clip.via !== 'torch') return [];
    const params = argument(call, 0, 'parameters');
    return params ? [{ call, clip, owners: paramsOwners(ctx, params, call) }] : [];
  });
}

function fsdpChecks(ctx: AnalysisContext): Check[] {
  const out: Check[] = [];
  for (const { call, clip, owners } of torchClips(ctx)) {
    if (clip?.kind !== 'norm') continue;
    const sharded = owners.filter((o) => ctx.mayConstruct(o.node, o.at, FSDP_CLASS));
    if (!sharded.length) continue;
    const fn = enclosingFunction(call);
    const model = modelAt(ctx, sharded, call, fn?.childForFieldName('body') ?? ctx.root) ?? sharded[0].node.text;
    const normType =
      callArguments(call).keywords.get('norm_type') ??
      (callArguments(call).positional[2] ? { value: callArguments(call).positional[2] } : undefined);
    const limit = clip.limit?.text ?? '1.0';
    const text = `${model}.clip_grad_norm_(${limit}${normType ? `, norm_type=${normType.value.text}` : ''})`;
    out.push(
      check(
        'fsdp-plain-clip',
        call,
        `${model} is sharded by FSDP: ${clip.name} sees only this rank's shards, so the norm and the clipping are wrong. Use ${model}.clip_grad_norm_(max_norm), which reduces across ranks (call it on every rank).`,
        [{ title: `Use ${text}`, edits: [{ start: call.startIndex, end: call.endIndex, text }], imports: [] }],
      ),
    );
  }
  return out;
}

/**
 * A torch clip of a DeepSpeed engine's (or its model's) parameters: under ZeRO each rank holds a partition, and the
 * engine clips by itself.
 */
function deepspeedChecks(ctx: AnalysisContext): Check[] {
  const out: Check[] = [];
  const initializes = ctx.calls.filter((c) => deepspeedInitialize(ctx, c));
  if (!initializes.length) return out;
  const handed = new Map<number, Node>();
  for (const init of initializes) {
    const model = callArguments(init).keywords.get('model')?.value;
    for (const v of model ? ctx.values(model, init) : []) handed.set(v.value.id, init);
  }
  for (const { call, clip, owners } of torchClips(ctx)) {
    let init: Node | undefined;
    for (const o of owners)
      for (const v of ctx.values(o.node, o.at))
        init ??= deepspeedInitialize(ctx, v.value) ? v.value : handed.get(v.value.id);
    if (!init || !clip) continue;
    const config = deepspeedConfig(ctx, init);
    const n = numberLiteral(clip.limit) ?? 1.0;
    const set = configFix(ctx, config, n, '');
    const removal = deleteStatement(ctx.anchor(statementOf(call)));
    const fix: Fix | undefined =
      set && removal && clip.kind === 'norm'
        ? {
            title: `Remove ${clip.name} and set "gradient_clipping": ${pyNumber(n)} in the DeepSpeed config`,
            edits: [removal, ...set.edits],
            imports: [],
            files: set.files,
          }
        : undefined;
    out.push(
      check(
        'deepspeed-manual-clip',
        call,
        `${clip.name} clips the parameters of a DeepSpeed engine: under ZeRO each rank holds only a partition of the gradients, and the engine clips inside step() from its config. Set "gradient_clipping" in the DeepSpeed config instead.`,
        [fix],
      ),
    );
  }
  return out;
}
