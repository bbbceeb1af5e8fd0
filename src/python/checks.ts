/**
 * Training-loop checks that need no run: clipping that cannot work where it is (after the step,
 * before backward, on scaled AMP gradients, on every micro-batch, plain clipping of an FSDP
 * model) and per-parameter `.item()` loops that sync the device once per parameter.
 */
import type { AnalysisContext } from './context';
import { deleteStatement, CodeLine, insertBefore, StatementAnchor, TextEdit } from './edits';
import type { Check, Fix, TrainingSite } from './model';
import type { Node } from './parser';
import { argument, callArguments, contains, descendantsInScope, methodName, receiver, statementOf } from './syntax';
import { Clip, clipOf, isMonitorCall, TorchStep } from './torch';

export function torchChecks(
  ctx: AnalysisContext,
  steps: readonly TorchStep[],
  sites: readonly TrainingSite[],
): Check[] {
  const checks: Check[] = [];
  steps.forEach((s, i) => {
    for (const c of s.clips) checks.push(...clipChecks(ctx, s, c));
    checks.push(...loggingChecks(ctx, s));
    checks.push(...syncLoops(s, sites[i]));
  });
  checks.push(...fsdpChecks(ctx));
  // One finding per place: a loop shared by two steps is reported once.
  const seen = new Set<string>();
  return checks
    .filter((c) => !seen.has(`${c.code}:${c.start}`) && !!seen.add(`${c.code}:${c.start}`))
    .sort((a, b) => a.start - b.start);
}

const start = (s: TorchStep): Node => s.closure ?? s.backward.call;

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
 * Moves a statement to just before another (with extra statements ahead of it); undefined when it
 * does not stand on its own lines.
 */
function moveBefore(
  ctx: AnalysisContext,
  stmt: Node,
  target: StatementAnchor,
  title: string,
  ahead: CodeLine[] = [],
): Fix | undefined {
  const removal = deleteStatement(ctx.anchor(stmt));
  const insertion = insertBefore(target, [...ahead, { text: stmt.text }], ctx.style);
  return removal && insertion ? { title, edits: [removal, insertion], imports: [] } : undefined;
}

/**
 * Whether a node runs only on some iterations relative to the step's backward (inside an `if` that
 * does not hold the backward).
 */
function conditional(node: Node, s: TorchStep): boolean {
  for (let n = node.parent; n && n.id !== s.region.id; n = n.parent)
    if (n.type === 'if_statement' && !contains(n, start(s))) return true;
  return false;
}

function unscaleCalls(s: TorchStep, from: number, to: number): Node[] {
  return descendantsInScope(s.region, new Set(['call'])).filter(
    (c) => methodName(c) === 'unscale_' && receiver(c)?.text === s.scaler && c.startIndex > from && c.startIndex < to,
  );
}

function clipChecks(ctx: AnalysisContext, s: TorchStep, c: Clip): Check[] {
  const stmt = statementOf(c.call);
  const name = c.call.childForFieldName('function')?.text ?? 'clipping';
  const stepLine = ctx.line(s.step.startIndex) + 1;
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
        ? `${name} runs after ${s.step.text} (line ${stepLine}): the update already used the unclipped gradients, so this clipping has no effect. Clip between backward() and the step.`
        : `${name} runs before ${s.backward.call.text} (line ${ctx.line(s.backward.call.startIndex) + 1}): it clips gradients that backward() then replaces or adds to. Clip between backward() and the step.`;
    out.push(check(c.placement === 'after-step' ? 'clip-after-step' : 'clip-before-backward', c.call, message, [fix]));
    return out;
  }
  if (s.scaler && c.via !== 'lightning' && unscaleCalls(s, start(s).startIndex, c.call.startIndex).length === 0) {
    const later = unscaleCalls(s, c.call.endIndex, s.step.startIndex)[0];
    const title = `Call ${s.scaler}.unscale_(${s.optimizer}) before clipping`;
    const fix = later
      ? moveBefore(ctx, statementOf(later), ctx.anchor(stmt), title)
      : insertFix(ctx, ctx.anchor(stmt), [{ text: `${s.scaler}.unscale_(${s.optimizer})` }], title);
    out.push(
      check(
        'clip-scaled-gradients',
        c.call,
        `${name} clips the scaled gradients of ${s.scaler}.scale(...).backward(): max_norm is compared with norms multiplied by the loss scale. Call ${s.scaler}.unscale_(${s.optimizer}) first.`,
        [fix],
      ),
    );
  }
  if (s.guard && !conditional(c.call, s)) {
    const guardLine = ctx.line(s.guard.startIndex) + 1;
    out.push(
      check(
        'clip-every-micro-batch',
        c.call,
        `${name} runs on every micro-batch, but ${s.step.text} only runs under the if at line ${guardLine}: it clips partial sums, shrinking earlier micro-batches again at every later clip, and pays for a norm per micro-batch. Clip once, right before the step.`,
        [moveBefore(ctx, stmt, stepAnchor, `Move ${name} into the accumulation step (before ${s.step.text})`)],
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
        !conditional(c, s),
    )
    .map((c) =>
      check(
        'log-every-micro-batch',
        c,
        `${c.childForFieldName('function')?.text} runs on every micro-batch, but ${s.step.text} only runs under the if at line ${ctx.line(s.guard!.startIndex) + 1}: it reports the norms of partial sums. Report once, right before the step.`,
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

function fsdpChecks(ctx: AnalysisContext): Check[] {
  const out: Check[] = [];
  for (const call of ctx.calls) {
    const clip = clipOf(ctx, call);
    if (!clip || clip.via !== 'torch' || clip.kind !== 'norm') continue;
    const params = argument(call, 0, 'parameters');
    if (params?.type !== 'call' || methodName(params) !== 'parameters') continue;
    const model = receiver(params);
    const wrapped = model ? ctx.resolve(model, call)?.value : undefined;
    if (!model || !ctx.constructs(wrapped, (q) => q.endsWith('FullyShardedDataParallel') || q === 'FSDP')) continue;
    const normType =
      callArguments(call).keywords.get('norm_type') ??
      (callArguments(call).positional[2] ? { value: callArguments(call).positional[2] } : undefined);
    const limit = clip.limit?.text ?? '1.0';
    const text = `${model.text}.clip_grad_norm_(${limit}${normType ? `, norm_type=${normType.value.text}` : ''})`;
    out.push(
      check(
        'fsdp-plain-clip',
        call,
        `${model.text} is sharded by FSDP: ${call.childForFieldName('function')?.text} sees only this rank's shards, so the norm and the clipping are wrong. Use ${model.text}.clip_grad_norm_(max_norm), which reduces across ranks (call it on every rank).`,
        [{ title: `Use ${text}`, edits: [{ start: call.startIndex, end: call.endIndex, text }], imports: [] }],
      ),
    );
  }
  return out;
}
