/** A synthetic training run: plausible decaying norms over several layers, with an optional spike and NaN. */
import { ClientMessage } from '../protocol/messages';

export const SYNTHETIC_LAYERS = [
  'embed',
  'encoder.0.attn',
  'encoder.0.mlp',
  'encoder.1.attn',
  'encoder.1.mlp',
  'encoder.2.attn',
  'encoder.2.mlp',
  'head',
];

export interface SyntheticOptions {
  runId: string;
  name?: string;
  steps: number;
  spikeAt?: number;
  nanAt?: number;
  threshold?: number;
  layers?: number;
  seed?: number;
}

/** Deterministic PRNG (mulberry32) so tests and demos see the same run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function syntheticLayers(count = SYNTHETIC_LAYERS.length): string[] {
  if (count <= SYNTHETIC_LAYERS.length) return SYNTHETIC_LAYERS.slice(0, count);
  return Array.from({ length: count }, (_, i) => `layers.${i}`);
}

export function runStartFor(o: SyntheticOptions, meta: Record<string, unknown> = {}): ClientMessage {
  const m: ClientMessage = {
    type: 'run_start',
    run_id: o.runId,
    name: o.name ?? o.runId,
    framework: 'other',
    layers: syntheticLayers(o.layers),
    meta,
  };
  if (o.threshold !== undefined) m.threshold = o.threshold;
  return m;
}

/** Generates the step messages one at a time, so a caller can pace them. */
export function* syntheticSteps(o: SyntheticOptions): Generator<ClientMessage> {
  const random = rng(o.seed ?? 1);
  const layerCount = o.layers ?? SYNTHETIC_LAYERS.length;
  const scales = Array.from({ length: layerCount }, (_, l) => 0.3 + ((l * 7) % 5) * 0.15);
  for (let step = 0; step < o.steps; step++) {
    const decay = 0.4 + 1.6 * Math.exp(-step / Math.max(50, o.steps / 4));
    const layer_norms = scales.map((s) => s * decay * Math.exp(0.25 * (random() - 0.5)));
    if (step === o.spikeAt) layer_norms[Math.min(3, layerCount - 1)] *= 80;
    if (step === o.nanAt) layer_norms[Math.min(5, layerCount - 1)] = NaN;
    const total_norm = Math.sqrt(layer_norms.reduce((acc, v) => acc + v * v, 0));
    const loss = 2.5 * decay + 0.05 * random();
    const lr = 1e-3 * Math.min(1, (step + 1) / 100);
    yield { type: 'step', run_id: o.runId, step, total_norm, layer_norms, loss, lr, time: Date.now() / 1000 };
  }
}
