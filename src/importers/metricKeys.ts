/**
 * What a logged metric's name says it is, for every format that names its metrics (TensorBoard
 * tags, Lightning and W&B columns): a gradient norm (the total, or one layer's), the training loss,
 * the learning rate, or the step.
 *
 * A gradient norm's name contains both "grad" and "norm". With more path after the segment naming
 * the norm it is a per-layer norm (`grad_norm/<layer>`, Lightning's `grad_2.0_norm/<param>`);
 * otherwise it is the total (`train/grad_norm`, `grad_2.0_norm_total`, `gradients/global_norm`,
 * `grad_norm/total`).
 */

export type TagRole = { role: 'total' } | { role: 'layer'; layer: string };

const TOTAL_SUFFIXES = new Set(['total', 'global', 'all', 'overall']);

export function classifyGradNormTag(tag: string): TagRole | undefined {
  const lower = tag.toLowerCase();
  if (!lower.includes('grad') || !lower.includes('norm')) return undefined;
  const segments = tag.split('/');
  let named = -1;
  segments.forEach((s, i) => {
    const l = s.toLowerCase();
    if (l.includes('grad') && l.includes('norm')) named = i;
  });
  const rest = segments.slice(named + 1).join('/');
  if (named < 0 || rest === '' || TOTAL_SUFFIXES.has(rest.toLowerCase())) return { role: 'total' };
  return { role: 'layer', layer: rest };
}

/** Validation, evaluation and test metrics are not the training curve. */
const HELD_OUT = /(^|[/_.\-\s])(val|valid|validation|eval|evaluation|test)([/_.\-\s]|$)/i;

/**
 * How well a key fits the training loss: 0 a per-step loss (`train_loss_step`, `batch_loss`),
 * 1 a plain loss (`train/loss`, `loss`), 2 a per-epoch mean; undefined when it is no training loss.
 */
export function trainingLossRank(key: string): number | undefined {
  if (!/loss/i.test(key) || HELD_OUT.test(key) || classifyGradNormTag(key)) return undefined;
  if (/epoch/i.test(key)) return 2;
  return /step|batch/i.test(key) ? 0 : 1;
}

/** `lr`, `lr-SGD` (Lightning's LearningRateMonitor), `train/learning_rate`, `batch_learning_rate`... */
export function isLearningRateKey(key: string): boolean {
  if (HELD_OUT.test(key)) return false;
  return /(^|[/_.-])lr([/_.-]|$)/i.test(key) || /learning[_\s-]?rate/i.test(key);
}

/** Columns that hold the optimizer step, best first: W&B logs its own `_step` beside the trainer's. */
export const STEP_KEYS = ['trainer/global_step', 'train/global_step', 'global_step', 'step', 'Step', '_step'];

/** The best of the candidate keys for a role, fewest rank first, then most values (ties: first seen). */
export function bestKey<K>(candidates: readonly K[], rank: (k: K) => number, count: (k: K) => number): K | undefined {
  let best: K | undefined;
  for (const k of candidates)
    if (best === undefined || rank(k) < rank(best) || (rank(k) === rank(best) && count(k) > count(best))) best = k;
  return best;
}
