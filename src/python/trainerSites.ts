/**
 * Frameworks that clip from a constructor argument: PyTorch Lightning's `Trainer(gradient_clip_val=)`
 * and Hugging Face `TrainingArguments(max_grad_norm=)` (which clips at 1.0 unless told otherwise).
 */
import { setKeywordEdits } from './arguments';
import type { AnalysisContext } from './context';
import { pyNumber } from './edits';
import type { Fix, TrainingSite } from './model';
import type { Node } from './parser';
import { callArguments, disablesClipping, numberLiteral, stringLiteral } from './syntax';

const HF_ARGUMENTS = /^(transformers(\.[\w.]+)?\.(Seq2Seq)?TrainingArguments|trl(\.[\w.]+)?\.\w+Config)$/;
const LIGHTNING_TRAINER = /^(lightning|pytorch_lightning)(\.[\w.]+)?\.Trainer$/;

export function trainerSites(ctx: AnalysisContext): TrainingSite[] {
  const sites: TrainingSite[] = [];
  // Lightning refuses Trainer-level clipping under manual optimization; those modules clip in training_step.
  const manual = ctx.root
    .descendantsOfType('assignment')
    .some(
      (a) =>
        a?.childForFieldName('left')?.text === 'self.automatic_optimization' &&
        a.childForFieldName('right')?.type === 'false',
    );
  for (const call of ctx.calls) {
    const q = ctx.qualifiedCallee(call);
    if (!q) continue;
    if (LIGHTNING_TRAINER.test(q) && !manual) sites.push(lightningSite(ctx, call));
    else if (HF_ARGUMENTS.test(q)) sites.push(huggingFaceSite(ctx, call));
  }
  return sites;
}

function setKeywords(ctx: AnalysisContext, call: Node, values: ReadonlyArray<readonly [string, string]>): Fix['edits'] {
  return setKeywordEdits(call, values, ctx.source, ctx.style);
}

function base(ctx: AnalysisContext, call: Node, framework: TrainingSite['framework'], what: string): TrainingSite {
  const line = ctx.line(call.startIndex);
  const lastLine = ctx.line(call.endIndex);
  return {
    framework,
    line,
    lines: Array.from({ length: lastLine - line + 1 }, (_, i) => line + i),
    summary: `${what} at ${ctx.place(call.startIndex)}`,
    details: { call: what },
  };
}

function lightningSite(ctx: AnalysisContext, call: Node): TrainingSite {
  const site = base(ctx, call, 'lightning', 'Trainer(...)');
  const kw = callArguments(call).keywords;
  const val = kw.get('gradient_clip_val');
  const algorithm = stringLiteral(kw.get('gradient_clip_algorithm')?.value);
  if (val && !disablesClipping(val.value)) {
    site.clipping = {
      line: ctx.line(val.node.startIndex),
      kind: algorithm === 'value' ? 'value' : 'norm',
      by: 'gradient_clip_val',
      code: val.node.text,
      maxNorm: val.value.text,
    };
    if (algorithm !== 'value') {
      site.setMaxNorm = (n) =>
        numberLiteral(val.value) === n
          ? undefined
          : {
              title: `Set gradient_clip_val to ${pyNumber(n)}`,
              edits: setKeywords(ctx, call, [['gradient_clip_val', pyNumber(n)]]),
              imports: [],
            };
    }
    return site;
  }
  site.addNormClipping = (n) => {
    const edits = setKeywords(
      ctx,
      call,
      algorithm === 'value'
        ? [
            ['gradient_clip_val', pyNumber(n)],
            ['gradient_clip_algorithm', '"norm"'],
          ]
        : [['gradient_clip_val', pyNumber(n)]],
    );
    return { title: `Add gradient_clip_val=${pyNumber(n)} to Trainer`, edits, imports: [] };
  };
  site.addValueClipping = (v) => {
    const edits = setKeywords(ctx, call, [
      ['gradient_clip_val', pyNumber(v)],
      ['gradient_clip_algorithm', '"value"'],
    ]);
    return {
      title: `Add gradient_clip_val=${pyNumber(v)}, gradient_clip_algorithm="value" to Trainer`,
      edits,
      imports: [],
    };
  };
  return site;
}

function huggingFaceSite(ctx: AnalysisContext, call: Node): TrainingSite {
  const name = call.childForFieldName('function')?.text ?? 'TrainingArguments';
  const site = base(ctx, call, 'transformers', `${name}(...)`);
  const given = callArguments(call).keywords.get('max_grad_norm');
  const setTo = (n: number): Fix['edits'] => setKeywords(ctx, call, [['max_grad_norm', pyNumber(n)]]);
  if (given && !disablesClipping(given.value)) {
    site.clipping = {
      line: ctx.line(given.node.startIndex),
      kind: 'norm',
      by: 'max_grad_norm',
      code: given.node.text,
      maxNorm: given.value.text,
    };
    site.setMaxNorm = (n) =>
      numberLiteral(given.value) === n
        ? undefined
        : { title: `Set max_grad_norm to ${pyNumber(n)}`, edits: setTo(n), imports: [] };
    return site;
  }
  if (given) {
    site.note = `max_grad_norm=${given.value.text} turns the Trainer's clipping off`;
    site.addNormClipping = (n) => ({
      title: `Set max_grad_norm to ${pyNumber(n)} (${given.value.text} turns clipping off)`,
      edits: setTo(n),
      imports: [],
    });
    return site;
  }
  site.note = 'the Hugging Face Trainer already clips at max_grad_norm=1.0 by default; this makes the value explicit';
  site.addNormClipping = (n) => ({
    title: `Set max_grad_norm=${pyNumber(n)} (the Trainer already clips at 1.0 by default)`,
    edits: setTo(n),
    imports: [],
  });
  return site;
}
