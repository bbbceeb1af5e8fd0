/**
 * PyTorch training steps as training sites: what clipping to add where, how to retarget existing
 * clipping, how to add monitoring.
 */
import type { AnalysisContext } from './context';
import { CodeLine, insertAfter, insertBefore, pyNumber, TextEdit } from './edits';
import type { ImportSpec } from './imports';
import type { ExistingClipping, Fix, SiteFramework, TrainingSite } from './model';
import { configClipping, DeepSpeedConfig, deepspeedConfig, setGradientClipping } from './deepspeedConfig';
import { numberLiteral } from './syntax';
import { Clip, TorchStep } from './torch';

export const TORCH_IMPORT: ImportSpec = { line: 'import torch', local: 'torch', qualified: 'torch' };
export const MONITOR_IMPORT: ImportSpec = {
  line: 'from gradient_monitor import Monitor',
  local: 'Monitor',
  qualified: 'gradient_monitor.Monitor',
};

export function torchSite(ctx: AnalysisContext, s: TorchStep): TrainingSite {
  const framework: SiteFramework = s.deepspeed
    ? 'deepspeed'
    : s.fsdp
      ? 'fsdp'
      : s.accelerator
        ? 'accelerate'
        : s.fabric
          ? 'fabric'
          : s.backward.mode === 'lightning-manual'
            ? 'lightning'
            : 'pytorch';
  const line = ctx.line(s.step.startIndex);
  const backwardLine = ctx.line(s.backward.call.startIndex);
  const clip = s.clips.find((c) => c.placement === 'between') ?? s.clips[0];
  const traits = [
    s.scaler && 'AMP',
    s.guard && `accumulation (step under the if at ${ctx.place(s.guard.startIndex)})`,
    s.closure && 'closure',
    s.fsdp && 'FSDP',
    s.accelerator && 'Accelerate',
    s.fabric && 'Fabric',
    s.deepspeed && 'DeepSpeed',
    s.backward.mode === 'lightning-manual' && 'Lightning manual optimization',
  ].filter(Boolean);
  const site: TrainingSite = {
    framework,
    line,
    lines: [...new Set([backwardLine, line, ...s.clips.map((c) => ctx.line(c.call.startIndex))])],
    summary: `${s.step.text} at ${ctx.place(s.step.startIndex)} after ${s.backward.call.text} at ${ctx.place(s.backward.call.startIndex)}${traits.length ? ` (${traits.join(', ')})` : ''}`,
    details: {
      optimizer: s.optimizer,
      parameters: s.params,
      backward_line: backwardLine + 1,
      step_line: line + 1,
      amp: s.scaler !== undefined,
      accumulation_line: s.guard ? ctx.line(s.guard.startIndex) + 1 : null,
      closure: s.closure !== undefined,
      fsdp: s.fsdp,
      accelerate: s.accelerator !== undefined,
    },
    clipping: clip && existing(ctx, clip),
  };
  if (s.fabric) site.details.fabric = true;
  if (s.deepspeed) return deepspeedSite(ctx, s, site);
  if (s.clips.length > 0) {
    if (clip.kind === 'norm' && numberLiteral(clip.limit) !== undefined) site.setMaxNorm = (n) => retarget(clip, n);
  } else {
    const edit = (lines: CodeLine[]): TextEdit | undefined =>
      s.closure
        ? insertAfter(ctx.anchor(s.backward.call), lines, ctx.style)
        : insertBefore(ctx.anchor(s.step), lines, ctx.style);
    const fix = (kind: 'norm' | 'value', limit: number, title: string): Fix | undefined => {
      const code = clippingCode(ctx, s, kind, pyNumber(limit));
      const e = code && edit(code.lines);
      return e && code && { title, edits: [e], imports: code.imports };
    };
    site.addNormClipping = (n) => fix('norm', n, `Add gradient clipping (max_norm=${pyNumber(n)})`);
    site.addValueClipping = (v) => fix('value', v, `Add gradient value clipping (clip_value=${pyNumber(v)})`);
    if (!site.addNormClipping(1))
      site.cannotFix =
        s.fabric && !s.model
          ? `${s.fabric}.clip_gradients needs the model, and the model of ${s.optimizer} is not known here`
          : 'the step shares a one-line block with other code; clipping needs its own line here';
  }
  site.addMonitoring = () => monitoring(ctx, s, clip);
  return site;
}

/** A DeepSpeed engine's step: the engine clips from its config, so the fix writes `"gradient_clipping": N` there. */
function deepspeedSite(ctx: AnalysisContext, s: TorchStep, site: TrainingSite): TrainingSite {
  const config = deepspeedConfig(ctx, s.deepspeed!);
  const configured = configClipping(ctx, config, s.deepspeed!);
  site.details.deepspeed = true;
  site.clipping = configured;
  if (configured) {
    if (configured.literal)
      site.setMaxNorm = (n) =>
        configured.maxNorm !== undefined && Number(configured.maxNorm) === n
          ? undefined
          : configFix(ctx, config, n, `Set "gradient_clipping" to ${pyNumber(n)}`);
    return site;
  }
  site.addNormClipping = (n) =>
    configFix(
      ctx,
      config,
      n,
      `Add "gradient_clipping": ${pyNumber(n)} to the DeepSpeed config${config.kind === 'json' ? ` (${config.path})` : ''}`,
    );
  if (config.kind === 'unknown') site.cannotFix = config.why;
  else site.note = 'DeepSpeed clips inside engine.step() from its config; the value is written explicitly';
  return site;
}

export function configFix(ctx: AnalysisContext, config: DeepSpeedConfig, n: number, title: string): Fix | undefined {
  const set = setGradientClipping(ctx, config, n);
  return set && { title, edits: set.edits, imports: [], files: set.files };
}

function existing(ctx: AnalysisContext, c: Clip): ExistingClipping {
  return {
    line: ctx.line(c.call.startIndex),
    kind: c.kind,
    by: c.name,
    code: c.call.text,
    maxNorm: c.limit?.text,
  };
}

function retarget(c: Clip, n: number): Fix | undefined {
  if (!c.limit || numberLiteral(c.limit) === undefined || numberLiteral(c.limit) === n) return undefined;
  const name = c.via === 'lightning' ? 'gradient_clip_val' : 'max_norm';
  return {
    title: `Set ${name} to ${pyNumber(n)}`,
    edits: [{ start: c.limit.startIndex, end: c.limit.endIndex, text: pyNumber(n) }],
    imports: [],
  };
}

/** The statements that clip this step's gradients, in its framework's idiom. */
function clippingCode(
  ctx: AnalysisContext,
  s: TorchStep,
  kind: 'norm' | 'value',
  limit: string,
): { lines: CodeLine[]; imports: ImportSpec[] } | undefined {
  const imports: ImportSpec[] = [];
  const torchFn = (name: string): string => {
    const ref = ctx.imports.reference([`torch.nn.utils.${name}`], TORCH_IMPORT);
    if (ref.needs) imports.push(ref.needs);
    return ref.text;
  };
  const unscale: CodeLine[] = s.scaler && !s.unscaled ? [{ text: `${s.scaler}.unscale_(${s.optimizer})` }] : [];
  if (s.backward.mode === 'lightning-manual') {
    return {
      lines: [
        { text: `self.clip_gradients(${s.optimizer}, gradient_clip_val=${limit}, gradient_clip_algorithm="${kind}")` },
      ],
      imports,
    };
  }
  if (s.fabric) {
    // Fabric unscales AMP gradients itself and needs the module to clip (FSDP-aware).
    if (!s.model) return undefined;
    const limitArg = kind === 'norm' ? `max_norm=${limit}` : `clip_val=${limit}`;
    return { lines: [{ text: `${s.fabric}.clip_gradients(${s.model}, ${s.optimizer}, ${limitArg})` }], imports };
  }
  if (s.accelerator) {
    // Accelerate unscales fp16 gradients itself; clip only on the steps that really update.
    const call =
      kind === 'norm'
        ? `${s.accelerator}.clip_grad_norm_(${s.params}, max_norm=${limit})`
        : `${s.accelerator}.clip_grad_value_(${s.params}, clip_value=${limit})`;
    return {
      lines: s.syncGuarded
        ? [{ text: call }]
        : [{ text: `if ${s.accelerator}.sync_gradients:` }, { text: call, depth: 1 }],
      imports,
    };
  }
  if (s.fsdp && kind === 'norm')
    return { lines: [...unscale, { text: `${s.model}.clip_grad_norm_(${limit})` }], imports };
  const call =
    kind === 'norm'
      ? `${torchFn('clip_grad_norm_')}(${s.params}, max_norm=${limit})`
      : `${torchFn('clip_grad_value_')}(${s.params}, clip_value=${limit})`;
  return { lines: [...unscale, { text: call }], imports };
}

function monitoring(ctx: AnalysisContext, s: TorchStep, clip: Clip | undefined): Fix | undefined {
  if (
    s.deepspeed ||
    s.monitored ||
    !s.outerLoop ||
    !s.model ||
    ctx.calls.some((c) => ctx.constructs(c, (q) => q === MONITOR_IMPORT.qualified))
  )
    return undefined;
  const ref = ctx.imports.reference([MONITOR_IMPORT.qualified], MONITOR_IMPORT);
  // The client divides still-scaled AMP gradients by the scaler's scale itself: no unscale_ needed.
  const watch = s.scaler ? `monitor.watch(${s.model}, scaler=${s.scaler})` : `monitor.watch(${s.model})`;
  const setup = insertBefore(
    ctx.anchor(s.outerLoop),
    [{ text: `monitor = ${ref.text}()` }, { text: watch }],
    ctx.style,
  );
  let report: TextEdit | undefined;
  if (clip && clip.placement === 'between' && clip.via === 'torch' && clip.kind === 'norm') {
    // The monitor's clip_grad_norm_ clips the same way and reports the norm before clipping.
    const fn = clip.call.childForFieldName('function')!;
    report = { start: fn.startIndex, end: fn.endIndex, text: 'monitor.clip_grad_norm_' };
  } else {
    // The loss travels with the norms (a tensor is fine: no extra device sync).
    const call = /^[A-Za-z_][\w.]*$/.test(s.backward.loss) ? `monitor.step(loss=${s.backward.loss})` : 'monitor.step()';
    const lines: CodeLine[] =
      s.accelerator && !s.syncGuarded
        ? [{ text: `if ${s.accelerator}.sync_gradients:` }, { text: call, depth: 1 }]
        : [{ text: call }];
    report = s.closure
      ? insertAfter(ctx.anchor(s.backward.call), lines, ctx.style)
      : insertBefore(ctx.anchor(s.step), lines, ctx.style);
  }
  if (!setup || !report) return undefined;
  return { title: 'Add gradient monitoring here', edits: [setup, report], imports: ref.needs ? [ref.needs] : [] };
}
