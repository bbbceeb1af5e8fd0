/**
 * Where a step's NaN/Inf was born (`step.nonfinite_origin`, docs/protocol.md), and the one wording
 * of it that alerts, diagnostics, the dashboard marker and summaries share.
 */

export type NonfinitePhase = 'input' | 'forward' | 'backward' | 'loss' | 'gradient' | 'unknown';
export const NONFINITE_PHASES: readonly NonfinitePhase[] = [
  'input',
  'forward',
  'backward',
  'loss',
  'gradient',
  'unknown',
];

export interface NonfiniteOrigin {
  /**
   * input: already in the batch; forward/backward: born in `module`; loss: in the gradient reaching
   * the model's output; gradient: the first non-finite gradient is `leaf` (JAX, TensorFlow).
   */
  phase: NonfinitePhase;
  /** Qualified module name (`blocks.2.gate`); '' is the model itself. */
  module?: string;
  /** The module's class (`LogGate`). */
  class?: string;
  /** Pytree path or variable of the first non-finite gradient (`params/Dense_0/kernel`). */
  leaf?: string;
  /** Source file of the class's forward: relative to the run's `meta.cwd`, or absolute. */
  file?: string;
  /** 1-based line of that forward. */
  line?: number;
  /** What the module produced: NaN, Infinity or -Infinity. */
  value?: number;
  /** The range of the module's inputs in that forward (may be non-finite). */
  input_min?: number;
  input_max?: number;
  /** A saved snapshot of the step, to replay (`python -m gradient_monitor replay FILE`). */
  snapshot?: string;
}

/** The file's last path segment: labels stay short, diagnostics keep the whole path. */
function shortFile(file: string): string {
  return file.split(/[\\/]/).pop() || file;
}

function valueName(v: number | undefined): string {
  if (v === Infinity) return 'Inf';
  if (v === -Infinity) return '-Inf';
  return 'NaN';
}

/** "LogGate.forward, model.py:10", or the parts of it that are known. */
export function originPlace(o: NonfiniteOrigin): string {
  const where = o.class ? `${o.class}.forward` : '';
  const file = o.file ? shortFile(o.file) + (o.line !== undefined ? `:${o.line}` : '') : '';
  return [where, file].filter(Boolean).join(', ');
}

/** "NaN born in blocks.2.gate, LogGate.forward, model.py:10" (the dashboard marker's label). */
export function originLabel(o: NonfiniteOrigin): string {
  const place = originPlace(o);
  const tail = place ? `, ${place}` : '';
  switch (o.phase) {
    case 'input':
      return `NaN/Inf already in the input batch${place ? ` of ${place}` : ''}`;
    case 'loss':
      return "NaN/Inf gradient reached the model's output: born in the loss";
    case 'gradient':
      return o.leaf ? `first non-finite gradient: ${o.leaf}` : 'non-finite gradients';
    case 'forward':
    case 'backward':
      return `${valueName(o.value)} born${o.phase === 'backward' ? ' in backward' : ''} in ${o.module || '(the model)'}${tail}`;
    default:
      return 'origin unknown';
  }
}
