/**
 * PyTorch training steps: each optimizer step paired with the backward call that produced its
 * gradients (also across functions of the file), and what shapes the right clipping code there:
 * AMP (GradScaler), accumulation (decided from evidence), closures (LBFGS), FSDP, Accelerate,
 * Lightning manual optimization and Fabric, DeepSpeed engines, existing clipping (helpers too).
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
import { calledModel, modelAt, paramsOwners, useOf } from './owners';

export type BackwardMode = 'plain' | 'amp' | 'accelerate' | 'lightning-manual' | 'fabric' | 'deepspeed';

export interface Backward {
  call: Node;
  mode: BackwardMode;
  /** The loss expression, as written. */
  loss: string;
  /** `scaler` of `scaler.scale(loss).backward()`. */
  scaler?: string;
  /** The object whose backward it is: `accelerator`, `fabric` or a DeepSpeed engine. */
  engine?: string;
}

export interface Clip {
  call: Node;
  kind: 'norm' | 'value';
  /** torch's function, a wrapped model's or Accelerate's method, Lightning's, Fabric's, or a helper that clips. */
  via: 'torch' | 'method' | 'lightning' | 'fabric' | 'helper';
  /** The clipping function as written (`torch.nn.utils.clip_grad_norm_`, `dispatch_clip_grad`). */
  name: string;
  /** The node holding max_norm / clip_value. */
  limit?: Node;
  /** Where it sits relative to its step. */
  placement: 'between' | 'after-step' | 'before-backward';
}

export interface TorchStep {
  backward: Backward;
  /** The call that applies the update: `opt.step()`, `scaler.step(opt)`, `opt.step(closure)`, `engine.step()`. */
  step: Node;
  optimizer: string;
  /** The optimizer's constructor call, when found. */
  constructor?: Node;
  /** Clipping argument: the parameters the stepped optimizer owns, re-evaluable at the step. */
  params: string;
  /** The model those parameters belong to, as a name valid at the step, when known. */
  model?: string;
  /** The model is wrapped in FSDP (v1): clip with its own method. */
  fsdp: boolean;
  /** `accelerator` when the step runs under Hugging Face Accelerate. */
  accelerator?: string;
  /** `fabric` when the step runs under Lightning Fabric. */
  fabric?: string;
  /** `deepspeed.initialize(...)` of the engine that steps, when the step is a DeepSpeed engine's. */
  deepspeed?: Node;
  /** The step already sits under `if accelerator.sync_gradients:`. */
  syncGuarded: boolean;
  /** Inside `with accelerator.accumulate(...)`. */
  accumulateContext: boolean;
  scaler?: string;
  /** `scaler.unscale_(opt)` already runs between backward and step. */
  unscaled: boolean;
  /**
   * The `if` that makes the step run only on some micro-batches (gradient accumulation), when the code shows it is one.
   */
  guard?: Node;
  /** The closure function passed to step (LBFGS), holding the backward. */
  closure?: Node;
  /**
   * In the step's own function, the node after which the gradients are complete (the backward, or where they arrive).
   */
  origin: Node;
  /** Backward and step in different functions: the calls in their common caller, in order. */
  handoff?: { from: Node; to: Node };
  /** The loop or function body the step repeats in. */
  region: Node;
  /** Outermost loop around the step in its function, where monitoring is set up. */
  outerLoop?: Node;
  clips: Clip[];
  /** Calls that already report norms to Gradient Monitor. */
  monitored: boolean;
}

/**
 * Function names that clip gradients: torch's, Accelerate's, FSDP's, Lightning's, Fabric's, timm's dispatch_clip_grad,
 * TF's.
 */
const CLIPPING_NAME = /clip_grad|clip_gradients|clip_by_global_norm/;
export const FSDP_CLASS = (q: string): boolean => q.endsWith('FullyShardedDataParallel') || /(^|\.)FSDP$/.test(q);

interface StepFound {
  step: Node;
  closure?: Node;
  origin: Node;
  handoff?: { from: Node; to: Node };
}

export function findTorchSteps(ctx: AnalysisContext): TorchStep[] {
  const byStep = new Map<number, { backward: Backward } & StepFound>();
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
    .map((s) => describeStep(ctx, s.backward, s));
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
    if (!recv) return undefined;
    const engine = engineKind(ctx, recv, call);
    return engine ? { call, mode: engine, loss: args[0].text, engine: recv.text } : undefined;
  }
  return recv ? { call, mode: 'plain', loss: recv.text } : undefined;
}

/** What kind of engine an object whose `backward(loss)` is called is: Accelerate, Fabric or DeepSpeed. */
function engineKind(ctx: AnalysisContext, expr: Node, at: Node): 'accelerate' | 'fabric' | 'deepspeed' | undefined {
  const values = ctx.values(expr, at);
  for (const v of values) {
    if (ctx.constructs(v.value, (q) => q.endsWith('Accelerator'))) return 'accelerate';
    if (ctx.constructs(v.value, (q) => /(^|\.)Fabric$/.test(q))) return 'fabric';
    if (deepspeedInitialize(ctx, v.value)) return 'deepspeed';
  }
  if (values.some((v) => v.value.type === 'call' || v.index !== undefined)) return undefined;
  if (/accelerator/i.test(expr.text)) return 'accelerate';
  if (/fabric/i.test(expr.text)) return 'fabric';
  if (/engine/i.test(expr.text) && ctx.imports.uses('deepspeed')) return 'deepspeed';
  return undefined;
}

export function deepspeedInitialize(ctx: AnalysisContext, value: Node | undefined): boolean {
  return ctx.constructs(value, (q) => q === 'deepspeed.initialize');
}

/** The `deepspeed.initialize(...)` call an engine comes from. */
export function initializeOf(ctx: AnalysisContext, engine: Node, at: Node): Node | undefined {
  const found = ctx.values(engine, at).find((v) => deepspeedInitialize(ctx, v.value))?.value;
  if (found) return found;
  const all = ctx.calls.filter((c) => deepspeedInitialize(ctx, c));
  return all.length === 1 ? all[0] : undefined;
}

/** Whether a call is an optimizer update; returns the optimizer expression and the scaler when it is. */
function optimizerStep(
  ctx: AnalysisContext,
  call: Node,
): { optimizer: Node; scaler?: string; engine?: boolean } | undefined {
  if (methodName(call) !== 'step') return undefined;
  const recv = receiver(call);
  if (!recv) return undefined;
  const args = callArguments(call).positional;
  if (args.length === 1 && isScaler(ctx, recv, call)) return { optimizer: args[0], scaler: recv.text };
  if (args.length === 0 && engineKind(ctx, recv, call) === 'deepspeed') return { optimizer: recv, engine: true };
  return isOptimizer(ctx, recv, call) ? { optimizer: recv } : undefined;
}

function isScaler(ctx: AnalysisContext, expr: Node, at: Node): boolean {
  const calls = ctx.values(expr, at).filter((v) => v.value.type === 'call');
  if (calls.length) return calls.some((v) => ctx.constructs(v.value, (q) => /(Sharded)?GradScaler$/.test(q)));
  return /scaler/i.test(expr.text);
}

const SCHEDULER = /sched/i;
const OPTIMIZER_CLASS =
  /(^|\.)(optim|optimizers?|optimization)(\.|$)|Optimizer$|^(Adam|AdamW|SGD|LBFGS|RMSprop|Adagrad|Adafactor)/;

function isOptimizer(ctx: AnalysisContext, expr: Node, at: Node): boolean {
  for (const v of ctx.values(expr, at)) {
    if (v.value.type !== 'call' || v.index !== undefined) continue;
    if (methodName(v.value) === 'optimizers' && receiver(v.value)?.text === 'self') return true; // Lightning manual optimization
    const q = ctx.qualifiedCallee(v.value) ?? dottedName(v.value.childForFieldName('function')) ?? '';
    if (SCHEDULER.test(q)) return false;
    if (OPTIMIZER_CLASS.test(q)) return true;
  }
  const last = dottedName(expr)?.split('.').pop() ?? '';
  return /^opt|optim/i.test(last) && !SCHEDULER.test(last);
}

/** An optimizer step in a scope: a direct one, or one inside a function of this file called there. */
interface StepCandidate {
  /** The call in the scope: the step itself, or the call of the function holding it. */
  anchor: Node;
  step: Node;
}

function stepCandidates(ctx: AnalysisContext, scope: Node, after: number): StepCandidate[] {
  const out: StepCandidate[] = [];
  for (const c of descendantsInScope(scope, new Set(['call']))) {
    if (c.startIndex <= after) continue;
    if (optimizerStep(ctx, c)) {
      out.push({ anchor: c, step: c });
      continue;
    }
    const fn = ctx.calledFunction(c);
    if (!fn) continue;
    const body = fn.childForFieldName('body');
    const inner = body && descendantsInScope(body, new Set(['call'])).find((x) => optimizerStep(ctx, x));
    if (inner && !body.descendantsOfType('call').some((x) => x && backwardOf(ctx, x)))
      out.push({ anchor: c, step: inner });
  }
  return out;
}

/** The first step after `from` in the innermost enclosing loop (of `scope`) that has one. */
function firstStepAfter(ctx: AnalysisContext, from: Node, scope: Node): StepCandidate | undefined {
  const steps = stepCandidates(ctx, scope, from.endIndex);
  for (let n: Node | null = from.parent; n; n = n.parent) {
    if (!isLoop(n) && n.id !== scope.id) continue;
    const inside = steps.find((s) => contains(n!, s.anchor));
    if (inside) return inside;
    if (n.id === scope.id) break;
  }
  return undefined;
}

function bodyStart(step: Node): Node {
  const fn = enclosingFunction(step);
  const body = fn?.childForFieldName('body');
  return body?.namedChildren.find((c) => c && c.type !== 'comment') ?? step;
}

/**
 * The step a backward feeds: through a closure (`opt.step(closure)`), else the first step after it
 * in the innermost enclosing loop that has one, else (backward in a helper function) the first step
 * after a call of that helper.
 */
function stepFor(ctx: AnalysisContext, backward: Backward): StepFound | undefined {
  const fn = enclosingFunction(backward.call);
  if (fn?.type === 'function_definition') {
    const name = fn.childForFieldName('name')?.text;
    const scope = enclosingFunction(fn)?.childForFieldName('body') ?? ctx.root;
    for (const call of descendantsInScope(scope, new Set(['call']))) {
      if (call.startIndex < fn.endIndex) continue;
      const closureArg = argument(call, 0, 'closure');
      if (closureArg?.text === name && optimizerStep(ctx, call)) return { step: call, closure: fn, origin: fn };
    }
  }
  const scope = fn?.childForFieldName('body') ?? ctx.root;
  const direct = firstStepAfter(ctx, backward.call, scope);
  if (direct)
    return direct.anchor.id === direct.step.id
      ? { step: direct.step, origin: backward.call }
      : { step: direct.step, origin: bodyStart(direct.step), handoff: { from: backward.call, to: direct.anchor } };
  if (fn?.type !== 'function_definition') return undefined;
  // The backward lives in a helper (`train_step(...)`); the step follows a call of it.
  for (const site of ctx.callsOf(fn)) {
    const callerScope = enclosingFunction(site)?.childForFieldName('body') ?? ctx.root;
    const next = firstStepAfter(ctx, site, callerScope);
    if (!next) continue;
    return next.anchor.id === next.step.id
      ? { step: next.step, origin: site }
      : { step: next.step, origin: bodyStart(next.step), handoff: { from: site, to: next.anchor } };
  }
  return undefined;
}

/** Whether the code shows that an `if` around the step makes it run once per several backward passes. */
function isAccumulationGuard(guard: Node, region: Node, fnBody: Node): boolean {
  const condition = guard.childForFieldName('condition')?.text ?? '';
  // A modulo or a step counter: `(i + 1) % accum == 0`, `micro_step == accum_steps - 1`, `not is_accumulating`.
  if (/%|accum|micro|sync_gradients|update_freq|grad_acc/i.test(condition)) return true;
  const zeroGrads = descendantsInScope(region, new Set(['call'])).filter((c) => methodName(c) === 'zero_grad');
  // Gradients reset on every batch cannot accumulate (`if args.use_optimizer: optimizer.step()`).
  if (zeroGrads.length) return zeroGrads.every((z) => contains(guard, z));
  return fnBody
    .descendantsOfType('call')
    .some((c) => !!c && /^(no_sync|accumulate|no_backward_sync)$/.test(methodName(c) ?? ''));
}

function describeStep(ctx: AnalysisContext, backward: Backward, found: StepFound): TorchStep {
  const { step, closure, origin, handoff } = found;
  const stepped = optimizerStep(ctx, step)!;
  const optimizer = stepped.optimizer.text;
  const scaler = stepped.scaler ?? backward.scaler;
  const fn = enclosingFunction(step);
  const scope = fn?.childForFieldName('body') ?? ctx.root;
  const constructor = stepped.engine
    ? undefined
    : ctx
        .values(stepped.optimizer, step)
        .find(
          (v) =>
            v.value.type === 'call' &&
            v.index === undefined &&
            methodName(v.value) !== 'optimizers' &&
            !/^(prepare|setup|setup_optimizers)$/.test(methodName(v.value) ?? ''),
        )?.value;
  const prepared = ctx.preparedBy(stepped.optimizer, step);
  // The engine a step runs under: its backward's (`accelerator.backward`), or the one that prepared the optimizer.
  const preparedKind = prepared ? engineKind(ctx, prepared.object, step) : undefined;
  const engineOf = (kind: 'accelerate' | 'fabric'): string | undefined =>
    backward.mode === kind ? backward.engine : preparedKind === kind ? prepared!.object.text : undefined;
  const accelerator = engineOf('accelerate');
  const fabric = engineOf('fabric');
  const deepspeed =
    backward.mode === 'deepspeed' || stepped.engine ? initializeOf(ctx, stepped.optimizer, step) : undefined;

  let params = `[p for group in ${optimizer}.param_groups for p in group["params"]]`;
  const paramsArg = constructor ? argument(constructor, 0, 'params') : undefined;
  if (paramsArg && constructor && visibleAt(constructor, step, paramsArg)) {
    const reusable = reusableParams(ctx, paramsArg, constructor);
    if (reusable) params = reusable;
  }
  const owners = paramsArg && constructor ? paramsOwners(ctx, paramsArg, constructor) : [];
  const region0 = loopsAround(step, scope).find((l) => contains(l, origin)) ?? scope;
  let model = modelAt(ctx, owners, step, region0);
  if (!model && (accelerator || fabric)) model = preparedModel(ctx, stepped.optimizer, step, region0);
  const fsdpOwner = owners.some((o) => ctx.mayConstruct(o.node, o.at, FSDP_CLASS));
  if (!model && !deepspeed && !accelerator && !fabric) model = calledModel(ctx, step, region0, FSDP_CLASS);
  const fsdp =
    !deepspeed &&
    !accelerator &&
    !fabric &&
    !!model &&
    (fsdpOwner || ctx.mayConstruct(useOf(ctx, model, step), step, FSDP_CLASS));
  // Accelerate clips FSDP shards only when given the prepared model's own parameters(); an optimizer
  // built in another function names the model as that function does.
  const elsewhere = constructor && enclosingFunction(constructor)?.id !== enclosingFunction(step)?.id;
  if (model && (fsdp || accelerator || (elsewhere && /^[\w.]+\.parameters\(\)$/.test(params))))
    params = `${model}.parameters()`;

  const ancestorsOfStep: Node[] = [];
  for (let n = step.parent; n && n.id !== scope.id; n = n.parent) ancestorsOfStep.push(n);
  const loops = ancestorsOfStep.filter(isLoop);
  const region = loops.find((l) => contains(l, origin)) ?? scope;
  const conditions = ancestorsOfStep.filter((n) => n.type === 'if_statement' && !contains(n, origin));
  const guard = conditions.find((n) => isAccumulationGuard(n, region, scope));
  const syncGuarded = ancestorsOfStep.some(
    (n) => n.type === 'if_statement' && /\bsync_gradients\b/.test(n.childForFieldName('condition')?.text ?? ''),
  );
  const accumulateContext = ancestorsOfStep.some(
    (n) => n.type === 'with_statement' && n.descendantsOfType('call').some((c) => c && methodName(c) === 'accumulate'),
  );
  const calls = descendantsInScope(region, new Set(['call']), (f) => f.id === closure?.id);
  const unscaled =
    scaler !== undefined &&
    calls.some(
      (c) =>
        methodName(c) === 'unscale_' &&
        receiver(c)?.text === scaler &&
        c.startIndex > origin.startIndex &&
        c.startIndex < step.startIndex,
    );
  const monitored = calls.some((c) => isMonitorCall(ctx, c));
  return {
    backward,
    step,
    optimizer,
    constructor,
    params,
    model,
    fsdp,
    accelerator,
    fabric,
    deepspeed,
    syncGuarded,
    accumulateContext,
    scaler: accelerator || fabric || deepspeed ? undefined : scaler,
    unscaled,
    guard,
    closure,
    origin,
    handoff,
    region,
    outerLoop: loops[loops.length - 1],
    clips: [],
    monitored,
  };
}

function loopsAround(node: Node, scope: Node): Node[] {
  const out: Node[] = [];
  for (let n = node.parent; n && n.id !== scope.id; n = n.parent) if (isLoop(n)) out.push(n);
  return out;
}

/**
 * The model prepared together with an optimizer (`model, optimizer = accelerator.prepare(model, optimizer)`), as named
 * at the step.
 */
function preparedModel(ctx: AnalysisContext, optimizer: Node, step: Node, region: Node): string | undefined {
  const assignment = ctx.assignmentOf(optimizer, step);
  const left = assignment?.childForFieldName('left');
  if (!left || (left.type !== 'pattern_list' && left.type !== 'tuple_pattern')) return undefined;
  const names = left.namedChildren.filter((c): c is Node => !!c && c.text !== optimizer.text).map((c) => c.text);
  const called = new Set(
    region
      .descendantsOfType('call')
      .map((c) => c?.childForFieldName('function')?.text)
      .filter((t): t is string => !!t),
  );
  return names.find((n) => called.has(n)) ?? names.find((n) => /model|net/i.test(n));
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
 * The optimizer's parameters as an expression that can be iterated again at the step, or undefined for the param_groups
 * fallback.
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

const LIMIT_KEYWORDS = ['max_norm', 'clip_value', 'value', 'clip_val', 'max_grad_norm', 'grad_clip', 'clip'];

/** A call that clips gradients: by its name, or a function of this file whose body clips. */
export function clipOf(ctx: AnalysisContext, call: Node, depth = 0): Omit<Clip, 'placement'> | undefined {
  const f = call.childForFieldName('function');
  const short =
    f?.type === 'attribute' ? f.childForFieldName('attribute')?.text : f?.type === 'identifier' ? f.text : undefined;
  if (!short) return undefined;
  const name = f!.text;
  const args = callArguments(call);
  if (f?.type === 'identifier' && ctx.calledFunction(call)) {
    const helper = helperClip(ctx, call, name, depth);
    if (helper || !CLIPPING_NAME.test(short)) return helper;
  }
  if (!CLIPPING_NAME.test(short)) return undefined;
  if (short === 'clip_gradients') {
    if (receiver(call)?.text === 'self' || args.keywords.has('gradient_clip_val')) {
      const algorithm = stringLiteral(args.keywords.get('gradient_clip_algorithm')?.value);
      const kind = algorithm === 'value' ? 'value' : 'norm';
      return { call, name, kind, via: 'lightning', limit: argument(call, 1, 'gradient_clip_val') };
    }
    // Fabric: clip_gradients(module, optimizer, clip_val=None, max_norm=None)
    const value = argument(call, 2, 'clip_val');
    const norm = argument(call, 3, 'max_norm');
    return norm || !value
      ? { call, name, kind: 'norm', via: 'fabric', limit: norm }
      : { call, name, kind: 'value', via: 'fabric', limit: value };
  }
  const qualified = ctx.qualifiedCallee(call);
  const torch = qualified?.startsWith('torch.') || (f?.type === 'identifier' && /^clip_grad/.test(short));
  if (!torch && f?.type === 'identifier') {
    // A helper named for what it does: timm's dispatch_clip_grad(parameters, value, mode='norm').
    const mode = stringLiteral(args.keywords.get('mode')?.value ?? args.positional[2]);
    const kind = mode === 'value' || /value/.test(short) ? 'value' : 'norm';
    return { call, name, kind, via: 'helper', limit: limitArgument(call) };
  }
  const via = torch ? 'torch' : 'method';
  if (/value/.test(short)) return { call, name, kind: 'value', via, limit: argument(call, 1, 'clip_value') };
  // (params, max_norm) for torch, Accelerate and the monitor; (max_norm) for an FSDP module's own method.
  const limit = argument(call, args.positional.length >= 2 || via === 'torch' ? 1 : 0, 'max_norm');
  return { call, name, kind: 'norm', via, limit };
}

function limitArgument(call: Node): Node | undefined {
  const args = callArguments(call);
  for (const k of LIMIT_KEYWORDS) {
    const v = args.keywords.get(k)?.value;
    if (v) return v;
  }
  return args.positional[1];
}

/** A call of a function defined in this file that clips (directly or one helper deeper). */
function helperClip(
  ctx: AnalysisContext,
  call: Node,
  name: string,
  depth: number,
): Omit<Clip, 'placement'> | undefined {
  const fn = depth < 2 ? ctx.calledFunction(call) : undefined;
  const body = fn?.childForFieldName('body');
  if (!fn || !body || contains(fn, call)) return undefined;
  for (const inner of descendantsInScope(body, new Set(['call']))) {
    const clip = clipOf(ctx, inner, depth + 1);
    if (!clip) continue;
    // The limit as the caller passes it, when the helper takes it as a parameter.
    const params = fn.childForFieldName('parameters')?.namedChildren.filter((c): c is Node => !!c) ?? [];
    const index = params.findIndex((p) => (p.childForFieldName('name') ?? p).text === clip.limit?.text);
    const limit = index >= 0 ? argument(call, index, clip.limit!.text) : undefined;
    return { call, name, kind: clip.kind, via: 'helper', limit };
  }
  return undefined;
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
  // Backward and step in two helpers: clipping between their calls in the caller.
  for (const s of steps) {
    if (!s.handoff) continue;
    const { from, to } = s.handoff;
    const scope = enclosingFunction(from)?.childForFieldName('body') ?? ctx.root;
    for (const call of descendantsInScope(scope, new Set(['call']))) {
      if (seen.has(call.id) || call.startIndex <= from.endIndex || call.startIndex >= to.startIndex) continue;
      const clip = clipOf(ctx, call);
      if (!clip) continue;
      seen.add(call.id);
      s.clips.push({ ...clip, placement: 'between' });
    }
  }
}

function ownerOf(call: Node, mates: TorchStep[]): { step: TorchStep; placement: Clip['placement'] } | undefined {
  const at = call.startIndex;
  const start = (s: TorchStep): number => s.origin.startIndex;
  const between = mates.find(
    (s) => (s.closure && contains(s.closure, call)) || (start(s) <= at && at <= s.step.endIndex),
  );
  if (between) return { step: between, placement: 'between' };
  const after = [...mates].reverse().find((s) => s.step.endIndex < at);
  if (after) return { step: after, placement: 'after-step' };
  const before = mates.find((s) => at < start(s));
  return before ? { step: before, placement: 'before-backward' } : undefined;
}
