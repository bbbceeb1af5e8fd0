/**
 * Alert rules over one run's stream of steps: threshold, non-finite (NaN/Inf), spike (far above the
 * rolling median in MAD units) and vanishing (below a floor for many steps). Each rule reports the
 * start of an episode once, and counts every step that belongs to it.
 */

import { fmt, quotedNames } from '../shared/format';
import type { AlertKind } from '../shared/kinds';
import { NonfiniteOrigin, originLabel } from '../shared/nonfiniteOrigin';

export interface Alert {
  kind: AlertKind;
  severity: 'error' | 'warning';
  run_id: string;
  step: number;
  value: number;
  message: string;
  /** For nonfinite: the first layers with a non-finite norm, in model order. */
  layers?: string[];
  /** For nonfinite: where the client traced the NaN/Inf to. */
  origin?: NonfiniteOrigin;
}

/** The first non-finite step of a run: its first bad layers, and its origin when traced. */
export interface FirstNonFinite {
  step: number;
  layers: string[];
  origin?: NonfiniteOrigin;
}

/** How to find the op that made a NaN, for the frameworks whose own switch does it best. */
const DEBUG_HINTS: Record<string, string> = {
  jax: "jax.config.update('jax_debug_nans', True) stops at the op that made it",
  tensorflow: 'tf.debugging.enable_check_numerics() names the op that made it',
};

export interface AlertSettings {
  /** Total norm above which a step breaches; a run's own threshold overrides it. */
  threshold: number;
  /** Steps in the rolling window the spike rule measures against. */
  spikeWindow: number;
  /** How many robust standard deviations (1.4826 × MAD) above the median make a spike. */
  spikeMads: number;
  /** A spike must also be at least this many times the median. */
  spikeMinRatio: number;
  /** Total norm below which a step counts as vanishing. */
  vanishingFloor: number;
  /** Consecutive vanishing steps before the alert fires. */
  vanishingSteps: number;
}

export const DEFAULT_ALERT_SETTINGS: AlertSettings = {
  threshold: 10,
  spikeWindow: 100,
  spikeMads: 10,
  spikeMinRatio: 3,
  vanishingFloor: 1e-7,
  vanishingSteps: 50,
};

/** How many offending layers a NaN alert names. */
const NAMED_LAYERS = 5;
/** The spike rule waits for this many healthy steps before judging. */
const SPIKE_WARMUP = 20;

export interface StepInput {
  step: number;
  total: number;
  layers?: ArrayLike<number>;
  /** AMP skipped step: inf/NaN here is the loss scaler doing its job, not a broken run. */
  skipped?: boolean;
  /** 'nonfinite': the client's step guard skipped it, and it is still an alarm. */
  skipReason?: string;
  origin?: NonfiniteOrigin;
}

export class RunAlerts {
  private readonly runId: string;
  private settings: AlertSettings;
  /** The run's own threshold (run_start.threshold), which wins over the setting. */
  private ownThreshold: number | undefined;
  private layerNames: readonly string[] = [];
  private framework: string | undefined;
  private window: Float64Array;
  private windowFill = 0;
  private windowNext = 0;
  /** Reordered in place to find the window's median and MAD. */
  private scratch: Float64Array;
  private baselineEvery: number;
  private baselineAge = -1;
  private median = NaN;
  private scale = NaN;
  private inBreach = false;
  private inNonFinite = false;
  private vanishingRun = 0;
  private vanishingReported = false;
  /** Steps above the threshold, and the first of them. */
  thresholdCount = 0;
  thresholdFirstStep = -1;
  firstNonFinite: FirstNonFinite | null = null;
  nonFiniteCount = 0;
  skippedCount = 0;
  readonly spikes: number[] = [];

  constructor(runId: string, settings: AlertSettings = DEFAULT_ALERT_SETTINGS) {
    this.runId = runId;
    this.settings = settings;
    this.window = new Float64Array(windowLength(settings));
    this.scratch = new Float64Array(this.window.length);
    this.baselineEvery = baselineInterval(this.window.length);
  }

  configure(threshold: number | undefined, layers: readonly string[] | undefined, framework?: string): void {
    if (threshold !== undefined) this.ownThreshold = threshold;
    if (layers) this.layerNames = layers;
    if (framework) this.framework = framework;
  }

  /**
   * New settings for the steps still to come (the user changed them while the run streams). Past
   * alerts stay as they were; the spike window keeps its most recent values, and an episode in
   * progress is judged by the new limits from the next step on.
   */
  reconfigure(settings: AlertSettings): void {
    const length = windowLength(settings);
    if (length !== this.window.length) {
      const kept = Math.min(this.windowFill, length);
      const next = new Float64Array(length);
      for (let k = 0; k < kept; k++) {
        const from = (this.windowNext - kept + k + 2 * this.window.length) % this.window.length;
        next[k] = this.window[from];
      }
      this.window = next;
      this.scratch = new Float64Array(length);
      this.windowFill = kept;
      this.windowNext = kept % length;
      this.baselineEvery = baselineInterval(length);
    }
    this.baselineAge = -1; // the next judgement measures against a fresh median and MAD
    this.settings = settings;
  }

  get activeThreshold(): number {
    return this.ownThreshold ?? this.settings.threshold;
  }

  /** Feeds one step; returns the alerts that start at it (usually none). */
  observe(s: StepInput): Alert[] {
    const alerts: Alert[] = [];
    const { total } = s;
    const byScaler = s.skipped === true && s.skipReason !== 'nonfinite';
    const badLayers = byScaler ? [] : this.nonFiniteLayers(s.layers);
    const nonFinite = !byScaler && (!Number.isFinite(total) || badLayers.length > 0);
    if (s.skipped) this.skippedCount++;
    if (nonFinite) {
      this.nonFiniteCount++;
      if (!this.firstNonFinite) {
        this.firstNonFinite = { step: s.step, layers: badLayers };
        if (s.origin) this.firstNonFinite.origin = s.origin;
      }
      if (!this.inNonFinite) {
        const a = this.alert('nonfinite', 'error', s.step, total, this.nonFiniteMessage(s, badLayers), badLayers);
        if (s.origin) a.origin = s.origin;
        alerts.push(a);
      }
    }
    this.inNonFinite = nonFinite;
    if (!Number.isFinite(total)) return alerts;

    const threshold = this.activeThreshold;
    const breach = total > threshold;
    if (breach) {
      this.thresholdCount++;
      if (this.thresholdFirstStep < 0) this.thresholdFirstStep = s.step;
      if (!this.inBreach)
        alerts.push(
          this.alert(
            'threshold',
            'warning',
            s.step,
            total,
            `gradient norm ${fmt(total)} exceeds the threshold ${fmt(threshold)} at step ${s.step}`,
          ),
        );
    }
    this.inBreach = breach;

    const spike = this.isSpike(total);
    if (spike !== undefined) {
      this.spikes.push(s.step);
      alerts.push(
        this.alert(
          'spike',
          'warning',
          s.step,
          total,
          `gradient norm spiked to ${fmt(total)} at step ${s.step} (recent median ${fmt(spike)})`,
        ),
      );
    } else {
      this.remember(total); // spikes stay out of the baseline so a burst cannot raise it
    }

    if (total < this.settings.vanishingFloor) {
      this.vanishingRun++;
      // `>=`, not `===`: the setting may have been lowered below a run of vanishing steps in progress.
      if (!this.vanishingReported && this.vanishingRun >= this.settings.vanishingSteps) {
        this.vanishingReported = true;
        const first = s.step - this.vanishingRun + 1;
        alerts.push(
          this.alert(
            'vanishing',
            'warning',
            s.step,
            total,
            `gradient norm below ${fmt(this.settings.vanishingFloor)} for ${this.vanishingRun} steps (since about step ${first})`,
          ),
        );
      }
    } else {
      this.vanishingRun = 0;
      this.vanishingReported = false;
    }
    return alerts;
  }

  private nonFiniteMessage(s: StepInput, badLayers: string[]): string {
    const where = badLayers.length > 0 ? ` in ${quotedNames(badLayers)}` : '';
    const parts = [`non-finite gradient norm (${fmt(s.total)}) at step ${s.step}${where}`];
    if (s.origin) parts.push(originLabel(s.origin));
    if (s.skipped) parts.push('the optimizer step was skipped, the weights kept');
    const hint = this.framework !== undefined ? DEBUG_HINTS[this.framework] : undefined;
    if (hint) parts.push(hint);
    return parts.join('; ');
  }

  private nonFiniteLayers(layers: ArrayLike<number> | undefined): string[] {
    if (!layers || allFinite(layers)) return [];
    const out: string[] = [];
    for (let i = 0; i < layers.length && out.length < NAMED_LAYERS; i++) {
      if (!Number.isFinite(layers[i])) out.push(this.layerNames[i] ?? `layer ${i}`);
    }
    return out;
  }

  /** The median the value spiked above, or undefined when it is no spike. */
  private isSpike(total: number): number | undefined {
    if (this.windowFill < SPIKE_WARMUP) return undefined;
    if (this.baselineAge >= this.baselineEvery || this.baselineAge < 0) this.refreshBaseline();
    this.baselineAge++;
    const { median, scale } = this;
    const isSpike = (total - median) / scale > this.settings.spikeMads && total > this.settings.spikeMinRatio * median;
    return isSpike ? median : undefined;
  }

  /**
   * Median and MAD of the window. They move slowly, so they are refreshed every window/8 steps
   * rather than sorted on every step (which dominated ingest time at high step rates).
   */
  private refreshBaseline(): void {
    const values = this.scratch.subarray(0, this.windowFill);
    values.set(this.window.subarray(0, this.windowFill));
    const median = medianInPlace(values);
    for (let i = 0; i < values.length; i++) values[i] = Math.abs(values[i] - median);
    const mad = medianInPlace(values);
    this.median = median;
    // A perfectly flat history has MAD 0; a small relative floor keeps one tiny wobble from counting.
    this.scale = Math.max(1.4826 * mad, 1e-3 * Math.abs(median), Number.MIN_VALUE);
    this.baselineAge = 0;
  }

  private remember(total: number): void {
    this.window[this.windowNext] = total;
    this.windowNext = (this.windowNext + 1) % this.window.length;
    if (this.windowFill < this.window.length) this.windowFill++;
  }

  private alert(
    kind: AlertKind,
    severity: Alert['severity'],
    step: number,
    value: number,
    message: string,
    layers?: string[],
  ): Alert {
    const a: Alert = { kind, severity, run_id: this.runId, step, value, message };
    if (layers && layers.length > 0) a.layers = layers;
    return a;
  }
}

function windowLength(settings: AlertSettings): number {
  return Math.max(3, Math.floor(settings.spikeWindow));
}

/** The median and MAD move slowly: refreshed every window/8 steps (see refreshBaseline). */
function baselineInterval(windowLength: number): number {
  return Math.max(1, Math.floor(windowLength / 8));
}

/** True when no value is NaN or infinite (x * 0 is NaN exactly for those), without a branch per value. */
function allFinite(values: ArrayLike<number>): boolean {
  let probe = 0;
  for (let i = 0; i < values.length; i++) probe += values[i] * 0;
  return probe === 0;
}

/** Median of the values, reordering them (quickselect: linear time, where sorting was the hot spot). */
export function medianInPlace(v: Float64Array): number {
  const n = v.length;
  if (n === 0) return NaN;
  const upper = selectInPlace(v, n >> 1);
  if (n % 2) return upper;
  // The lower middle is the largest value left of the upper one.
  let lower = -Infinity;
  for (let i = 0; i < n >> 1; i++) if (v[i] > lower) lower = v[i];
  return (lower + upper) / 2;
}

/** Reorders v so that v[k] is the k-th smallest value, smaller ones before it, and returns it. */
function selectInPlace(v: Float64Array, k: number): number {
  let lo = 0;
  let hi = v.length - 1;
  while (hi > lo) {
    const pivot = medianOfThree(v[lo], v[(lo + hi) >> 1], v[hi]);
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (v[i] < pivot) i++;
      while (v[j] > pivot) j--;
      if (i <= j) {
        const t = v[i];
        v[i] = v[j];
        v[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return v[k];
}

function medianOfThree(a: number, b: number, c: number): number {
  return a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
}
