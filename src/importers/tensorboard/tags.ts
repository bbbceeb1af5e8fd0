/**
 * Which scalar tags hold gradient norms: those whose name contains both "grad" and "norm". A tag
 * with more path after the segment naming the norm is a per-layer norm (`grad_norm/<layer>`,
 * Lightning's `grad_2.0_norm/<param>`); otherwise it is the total (`train/grad_norm`,
 * `grad_2.0_norm_total`, `gradients/global_norm`, `grad_norm/total`).
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
