/**
 * PyTorch training steps: each optimizer step paired with the backward call that produced its
 * gradients, and what shapes the right clipping code there: AMP (GradScaler), accumulation guards,
 * closures (LBFGS), FSDP, Accelerate, Lightning manual optimization, existing clipping.
 */
import type { AnalysisContext } from './context';
import type { Node } from './parser';
import {
  argument,
  callArguments,
  contains,
  descendantsInScope,
  dottedName,
  enclosingFunction,
  isLoop,
  methodName,
  receiver,
  stringLiteral,
} from './syntax';

export type BackwardMode = 'plain' | 'amp' | 'accelerate' | 'lightning-manual';

export interface Backward {
  call: Node;
  mode: BackwardMode;
  /** The loss expression, as written. */
  loss: string;
  /** `scaler` of `scaler.scale(loss).backward()`. */
  scaler?: string;
  /** `accelerator` of `accelerator.backward(loss)`. */
  accelerator?: string;
}

export interface Clip {
  call: Node;
  kind: 'norm' | 'value';
  /** torch's function, a wrapped model's method (FSDP), Accelerate's, Lightning's or the monitor's. */
  via: 'torch' | 'method' | 'lightning';
  /** The node holding max_norm / clip_value. */
  limit?: Node;
  /** Where it sits relative to its step. */
  placement: 'between' | 'after-step' | 'before-backward';
}

export interface TorchStep {
  backward: Backward;
  /** The call that applies the update: `opt.step()`, `scaler.step(opt)`, `opt.step(closure)`. */
  step: Node;
  optimizer: string;
  /** The optimizer's constructor call, when found. */
  constructor?: Node;
  /** Clipping argument: the parameters the stepped optimizer owns, re-evaluable at the step. */
  params: string;
  /** The model those parameters belong to, when known (`model` of `model.parameters()`). */
  model?: string;
  /** The model is wrapped in FSDP (v1): clip with its own method. */
  fsdp: boolean;
  /** `accelerator` when the step runs under Hugging Face Accelerate. */
  accelerator?: string;
  /** The step already sits under `if accelerator.sync_gradients:`. */
  syncGuarded: boolean;
  /** Inside `with accelerator.accumulate(...)`. */
  accumulateContext: boolean;
  scaler?: string;
  /** `scaler.unscale_(opt)` already runs between backward and step. */
  unscaled: boolean;
  /** The `if` that makes the step conditional relative to backward (gradient accumulation). */
  guard?: Node;
  /** The closure function passed to step (LBFGS), holding the backward. */
  closure?: Node;
  /** The loop or function body the step repeats in. */
  region: Node;
  /** Outermost loop around the step in its function, where monitoring is set up. */
  outerLoop?: Node;
  clips: Clip[];
  /** Calls that already report norms to Gradient Monitor. */
  monitored: boolean;
}

const CLIP_NAMES = new Set([
  'clip_grad_norm_',
  'clip_grad_value_',
  'clip_grads_with_norm_',
  'clip_grad_norm',
  'clip_gradients',
]);

export function findTorchSteps(ctx: AnalysisContext): TorchStep[] {
  const byStep = new Map<number, { backward: Backward; step: Node; closure?: Node }>();
  for (const call of ctx.calls) {
    const backward = backwardOf(ctx, call);
    if (!backward) continue;
    const found = stepFor(ctx, backward);
    if (!found) continue;
    // Several backward calls (retain_graph) feeding one step: the last one before it counts.
    byStep.set(found.step.id, { backward, ...found });
  }
  const steps = [...byStep.values()]
    .sort((a, b) => a.step.startIndex - b.step.startIndex)
    .map((s) => describeStep(ctx, s.backward, s.step, s.closure));
  assignClips(ctx, steps);
  return steps;
}

function backwardOf(ctx: AnalysisContext, call: Node): Backward | undefined {
  const name = methodName(call);
  const recv = receiver(call);
  const args = callArguments(call).positional;
  if (name === 'manual_backward' && recv?.text === 'self' && args[0])
    return { call, mode: 'lightning-manual', loss: args[0].text };
  if (name !== 'backward') {
    if (ctx.qualifiedCallee(call) === 'torch.autograd.backward' && args[0])
      return { call, mode: 'plain', loss: args[0].text };
    return undefined;
  }
  if (recv?.type === 'call' && methodName(recv) === 'scale') {
    const loss = callArguments(recv).positional[0];
    const scaler = receiver(recv);
    if (loss && scaler) return { call, mode: 'amp', loss: loss.text, scaler: scaler.text };
  }
  if (args.length > 0) {
    // `accelerator.backward(loss)`; other engines (DeepSpeed, Fabric) clip by their own configuration.
    if (recv && isAccelerator(ctx, recv, call))
      return { call, mode: 'accelerate', loss: args[0].text, accelerator: recv.text };
    return undefined;
  }
  return recv ? { call, mode: 'plain', loss: recv.text } : undefined;
}

function isAccelerator(ctx: AnalysisContext, expr: Node, at: Node): boolean {
  const value = ctx.resolve(expr, at)?.value;
  if (value) return ctx.constructs(value, (q) => q.endsWith('Accelerator'));
  return /accelerator/i.test(expr.text);
}

/** Whether a call is an optimizer update; returns the optimizer expression and the scaler when it is. */
function optimizerStep(ctx: AnalysisContext, call: Node): { optimizer: Node; scaler?: string } | undefined {
  if (methodName(call) !== 'step') return undefined;
  const recv = receiver(call);
  if (!recv) return undefined;
  const args = callArguments(call).positional;
  if (args.length === 1 && isScaler(ctx, recv, call)) return { optimizer: args[0], scaler: recv.text };
  return isOptimizer(ctx, recv, call) ? { optimizer: recv } : undefined;
}

function isScaler(ctx: AnalysisContext, expr: Node, at: Node): boolean {
  const value = ctx.resolve(expr, at)?.value;
  if (value && value.type === 'call')
    return ctx.constructs(value, (q) => q.endsWith('GradScaler') || q.endsWith('ShardedGradScaler'));
  return /scaler/i.test(expr.text);
}

const SCHEDULER = /sched/i;

function isOptimizer(ctx: AnalysisContext, expr: Node, at: Node): boolean {
  const value = ctx.resolve(expr, at)?.value;
  if (value && value.type === 'call') {
    if (methodName(value) === 'optimizers' && receiver(value)?.text === 'self') return true; // Lightning manual optimization
    const q = ctx.qualifiedCallee(value) ?? dottedName(value.childForFieldName('function')) ?? '';
    if (SCHEDULER.test(q)) return false;
    if (
      /(^|\.)(optim|optimizers?|optimization)(\.|$)|Optimizer$|^(Adam|AdamW|SGD|LBFGS|RMSprop|Adagrad|Adafactor)/.test(
        q,
      )
    )
      return true;
  }
  const last = dottedName(expr)?.split('.').pop() ?? '';
  return /^opt|optim/i.test(last) && !SCHEDULER.test(last);
}

/**
 * The step a backward feeds: through a closure (`opt.step(closure)`), else the first step after it
 * in the innermost enclosing loop that has one.
 */
function stepFor(ctx: AnalysisContext, backward: Backward): { step: Node; closure?: Node } | undefined {
  const fn = enclosingFunction(backward.call);
  if (fn?.type === 'function_definition') {
    const name = fn.childForFieldName('name')?.text;
    const scope = enclosingFunction(fn)?.childForFieldName('body') ?? ctx.root;
    for (const call of descendantsInScope(scope, new Set(['call']))) {
      if (call.startIndex < fn.endIndex) continue;
      const closureArg = argument(call, 0, 'closure');
      if (closureArg?.text === name && optimizerStep(ctx, call)) return { step: call, closure: fn };
    }
  }
  const scope = fn?.childForFieldName('body') ?? ctx.root;
  const steps = descendantsInScope(scope, new Set(['call'])).filter(
    (c) => c.startIndex > backward.call.endIndex && optimizerStep(ctx, c),
  );
  for (let n: Node | null = backward.call.parent; n; n = n.parent) {
    if (!isLoop(n) && n.id !== scope.id) continue;
    const inside = steps.find((s) => contains(n!, s));
    if (inside) return { step: inside };
    if (n.id === scope.id) break;
  }
  return undefined;
}

function describeStep(ctx: AnalysisContext, backward: Backward, step: Node, closure: Node | undefined): TorchStep {
  const found = optimizerStep(ctx, step)!;
  const optimizer = found.optimizer.text;
  const scaler = found.scaler ?? backward.scaler;
  const fn = enclosingFunction(step);
  const scope = fn?.childForFieldName('body') ?? ctx.root;
  const resolved = ctx.resolve(found.optimizer, step);
  const constructor =
    resolved?.value.type === 'call' && methodName(resolved.value) !== 'optimizers' ? resolved.value : undefined;
  const accelerator = backward.accelerator ?? ctx.preparedBy(found.optimizer, step);

  let params = `[p for group in ${optimizer}.param_groups for p in group["params"]]`;
  let model: string | undefined;
  let fsdp = false;
  const paramsArg = constructor ? argument(constructor, 0, 'params') : undefined;
  if (paramsArg && constructor && visibleAt(constructor, step, paramsArg)) {
    const reusable = reusableParams(ctx, paramsArg, constructor);
    if (reusable) params = reusable;
    const source =
      paramsArg.type === 'call' && methodName(paramsArg) === 'parameters'
        ? paramsArg
        : ctx.resolve(paramsArg, constructor)?.value;
    if (
      source?.type === 'call' &&
      methodName(source) === 'parameters' &&
      callArguments(source).positional.length === 0
    ) {
      const owner = receiver(source);
      if (owner && (owner.type === 'identifier' || owner.type === 'attribute')) {
        model = owner.text;
        const wrapped = ctx.resolve(owner, constructor)?.value;
        fsdp = ctx.constructs(wrapped, (q) => q.endsWith('FullyShardedDataParallel') || q === 'FSDP');
      }
    }
  }

  const ancestorsOfStep: Node[] = [];
  for (let n = step.parent; n && n.id !== scope.id; n = n.parent) ancestorsOfStep.push(n);
  const bound = closure ?? backward.call;
  const guard = ancestorsOfStep.find((n) => n.type === 'if_statement' && !contains(n, bound));
  const syncGuarded = ancestorsOfStep.some(
    (n) => n.type === 'if_statement' && /\bsync_gradients\b/.test(n.childForFieldName('condition')?.text ?? ''),
  );
  const accumulateContext = ancestorsOfStep.some(
    (n) => n.type === 'with_statement' && n.descendantsOfType('call').some((c) => c && methodName(c) === 'accumulate'),
  );
  const loops = ancestorsOfStep.filter(isLoop);
  const region = loops.find((l) => contains(l, bound)) ?? scope;
  const calls = descendantsInScope(region, new Set(['call']), (f) => f.id === closure?.id);
  const unscaled =
    scaler !== undefined &&
    calls.some(
      (c) =>
        methodName(c) === 'unscale_' &&
        receiver(c)?.text === scaler &&
        c.startIndex > bound.startIndex &&
        c.startIndex < step.startIndex,
    );
  const monitored = calls.some((c) => isMonitorCall(ctx, c));
  return {
    backward,
    step,
    optimizer,
    constructor,
    params: fsdp && model ? `${model}.parameters()` : params,
    model,
    fsdp,
    accelerator,
    syncGuarded,
    accumulateContext,
    scaler: backward.mode === 'accelerate' ? undefined : scaler,
    unscaled,
    guard,
    closure,
    region,
    outerLoop: loops[loops.length - 1],
    clips: [],
    monitored,
  };
}

/** Whether an expression from the optimizer's construction still means the same thing at the step. */
function visibleAt(constructor: Node, step: Node, expr: Node): boolean {
  const made = enclosingFunction(constructor);
  const used = enclosingFunction(step);
  if (made?.id === used?.id || made === undefined) return true;
  // In another method of the same class: only `self.…` carries over.
  const root = dottedName(expr.type === 'call' ? receiver(expr) : expr)?.split('.')[0];
  return root === 'self';
}

/**
 * The optimizer's parameters as an expression that can be iterated again at the step, or undefined
 * for the param_groups fallback.
 */
function reusableParams(ctx: AnalysisContext, arg: Node, constructor: Node): string | undefined {
  if (arg.type === 'call' && methodName(arg) === 'parameters') return arg.text; // a fresh generator each time
  if (arg.type === 'identifier' || arg.type === 'attribute') {
    const value = ctx.resolve(arg, constructor)?.value;
    if (!value) return undefined;
    if (value.type === 'call' && methodName(value) === 'parameters') return value.text; // the name holds a spent generator
    if (isTensorList(value)) return arg.text;
    return undefined;
  }
  if (isTensorList(arg)) return arg.text;
  return undefined;
}

/** A list of parameters (not param-group dicts, not a one-shot iterator). */
function isTensorList(value: Node): boolean {
  if (value.type === 'list' || value.type === 'list_comprehension')
    return (
      value.descendantsOfType('dictionary').length === 0 && value.namedChildren.every((c) => c?.type !== 'dictionary')
    );
  if (value.type === 'call') {
    const f = value.childForFieldName('function')?.text;
    return f === 'list' && !/param_groups|\{/.test(value.text);
  }
  if (value.type === 'binary_operator') {
    const l = value.childForFieldName('left');
    const r = value.childForFieldName('right');
    return !!l && !!r && isTensorList(l) && isTensorList(r);
  }
  return false;
}

export function isMonitorCall(ctx: AnalysisContext, call: Node): boolean {
  const name = methodName(call);
  if (name !== 'step' && name !== 'clip_grad_norm_') return false;
  const recv = receiver(call);
  if (!recv) return false;
  const value = ctx.resolve(recv, call)?.value;
  if (value)
    return ctx.constructs(value, (q) => q === 'gradient_monitor.Monitor' || q.endsWith('.Monitor') || q === 'Monitor');
  return false;
}

export function clipOf(ctx: AnalysisContext, call: Node): Omit<Clip, 'placement'> | undefined {
  const f = call.childForFieldName('function');
  const name =
    f?.type === 'attribute' ? f.childForFieldName('attribute')?.text : f?.type === 'identifier' ? f.text : undefined;
  if (!name || !CLIP_NAMES.has(name)) return undefined;
  const args = callArguments(call);
  if (name === 'clip_gradients') {
    const algorithm = stringLiteral(args.keywords.get('gradient_clip_algorithm')?.value);
    return {
      call,
      kind: algorithm === 'value' ? 'value' : 'norm',
      via: 'lightning',
      limit: argument(call, 1, 'gradient_clip_val'),
    };
  }
  const qualified = ctx.qualifiedCallee(call);
  const via = qualified?.startsWith('torch.') ? 'torch' : f?.type === 'identifier' ? 'torch' : 'method';
  if (name === 'clip_grad_value_') return { call, kind: 'value', via, limit: argument(call, 1, 'clip_value') };
  // (params, max_norm) for torch, Accelerate and the monitor; (max_norm) for an FSDP module's own method.
  const limit = argument(call, args.positional.length >= 2 || via === 'torch' ? 1 : 0, 'max_norm');
  return { call, kind: 'norm', via, limit };
}

/** Gives each clipping call in a step's region to that step, with where it sits. */
function assignClips(ctx: AnalysisContext, steps: TorchStep[]): void {
  const seen = new Set<number>();
  for (const s of steps) {
    const mates = steps.filter((o) => o.region.id === s.region.id);
    const calls = descendantsInScope(s.region, new Set(['call']), (f) => mates.some((m) => m.closure?.id === f.id));
    for (const call of calls) {
      if (seen.has(call.id)) continue;
      const clip = clipOf(ctx, call);
      if (!clip) continue;
      const owner = ownerOf(call, mates);
      if (!owner) continue;
      seen.add(call.id);
      owner.step.clips.push({ ...clip, placement: owner.placement });
    }
  }
}

function ownerOf(call: Node, mates: TorchStep[]): { step: TorchStep; placement: Clip['placement'] } | undefined {
  const at = call.startIndex;
  const start = (s: TorchStep): number => (s.closure ?? s.backward.call).startIndex;
  const between = mates.find(
    (s) => (s.closure && contains(s.closure, call)) || (start(s) <= at && at <= s.step.endIndex),
  );
  if (between) return { step: between, placement: 'between' };
  const after = [...mates].reverse().find((s) => s.step.endIndex < at);
  if (after) return { step: after, placement: 'after-step' };
  const before = mates.find((s) => at < start(s));
  return before ? { step: before, placement: 'before-backward' } : undefined;
}
