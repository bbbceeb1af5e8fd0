/**
 * Which layers the per-layer chart draws: the k largest over the visible window. A layer that went
 * non-finite outranks every finite one (the earliest first: it is the one that blew up first).
 */
export interface LayerRank {
  layer: number;
  /** Largest finite value over the window (-Infinity when none). */
  max: number;
  /** First column where the layer was non-finite, or -1. */
  firstNonFinite: number;
}

/** values: columns × layers, row-major (webviewProtocol LayerView). */
export function rankLayers(values: Float32Array, columns: number, layers: number): LayerRank[] {
  const ranks: LayerRank[] = Array.from({ length: layers }, (_, layer) => ({
    layer,
    max: -Infinity,
    firstNonFinite: -1,
  }));
  for (let c = 0; c < columns; c++) {
    for (let l = 0; l < layers; l++) {
      const v = values[c * layers + l];
      const r = ranks[l];
      if (Number.isNaN(v) || v === Infinity) {
        if (r.firstNonFinite < 0) r.firstNonFinite = c;
      } else if (v > r.max) {
        r.max = v;
      }
    }
  }
  return ranks.sort((a, b) => {
    const an = a.firstNonFinite >= 0;
    const bn = b.firstNonFinite >= 0;
    if (an !== bn) return an ? -1 : 1;
    if (an) return a.firstNonFinite - b.firstNonFinite || a.layer - b.layer;
    return b.max - a.max || a.layer - b.layer;
  });
}

export function topLayers(values: Float32Array, columns: number, layers: number, k: number): LayerRank[] {
  return rankLayers(values, columns, layers)
    .filter((r) => r.max > -Infinity || r.firstNonFinite >= 0)
    .slice(0, Math.max(0, k));
}
