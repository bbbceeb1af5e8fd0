/**
 * The extension's side of the dashboard, in the browser: a real DashboardSession over a real
 * RunStore, talking to the real webview bundle through a stand-in `acquireVsCodeApi` that passes
 * messages the way VS Code does (throughVsCodeTransport). Tests drive it via `window.__standIn`.
 */
import { DEFAULT_ALERT_SETTINGS } from '../../src/alerts/rules';
import { StoreRunSource } from '../../src/dashboard/runSource';
import { DashboardSession } from '../../src/dashboard/session';
import { RunStore } from '../../src/runs/runStore';
import { HostMessage } from '../../src/shared/webviewProtocol';
import { throughVsCodeTransport } from '../support/vscodeTransport';
import { ThemeName, THEMES } from './themes';

export interface RunSpec {
  id: string;
  name?: string;
  layers: string[];
  threshold?: number;
  framework?: 'pytorch' | 'other';
}

export interface StepSpec {
  from: number;
  count: number;
  /** Step and total norm of one injected spike (its layer 3 carries it). */
  spikeAt?: number;
  spikeValue?: number;
  /** Step where layer 5 (and so the total) goes NaN. */
  nanAt?: number;
  withLoss?: boolean;
  seed?: number;
}

// The spike rule sorts a rolling window per step; a tiny window keeps generating a million steps
// fast here (threshold and NaN alerts still come from the real rules).
const store = new RunStore({ alerts: { ...DEFAULT_ALERT_SETTINGS, spikeWindow: 3 } });
const source = new StoreRunSource(store);
// Like VS Code's webview state, the saved state outlives a reload of the page (sessionStorage).
let savedState: unknown = JSON.parse(sessionStorage.getItem('gm-state') ?? 'null') ?? undefined;
const posted: { type: string; at: number; append?: number }[] = [];
const session = new DashboardSession(source, (m: HostMessage) => {
  posted.push({ type: m.type, at: performance.now(), append: m.type === 'update' ? m.append?.rows.steps.length : undefined });
  window.postMessage(throughVsCodeTransport(m), '*');
});

(window as unknown as { acquireVsCodeApi: () => unknown }).acquireVsCodeApi = () => ({
  postMessage: (m: unknown) => setTimeout(() => session.handle(throughVsCodeTransport(m)), 0),
  getState: () => savedState,
  setState: (s: unknown) => {
    savedState = s;
    sessionStorage.setItem('gm-state', JSON.stringify(s));
  },
});

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const standIn = {
  startRun(spec: RunSpec): void {
    const run = store.getOrCreate(spec.id);
    run.start({ type: 'run_start', run_id: spec.id, name: spec.name ?? spec.id, layers: spec.layers, threshold: spec.threshold, framework: spec.framework ?? 'pytorch' });
    source.changed(run, 'run');
  },
  /** Records steps as one ingested frame would (one change notification). Returns the largest finite total. */
  addSteps(runId: string, s: StepSpec): number {
    const run = store.get(runId);
    if (!run) throw new Error(`no run ${runId}`);
    const random = rng(s.seed ?? s.from + 1);
    const L = run.layers.length;
    const layers = new Array<number>(L);
    let max = -Infinity;
    for (let step = s.from; step < s.from + s.count; step++) {
      const decay = 0.5 + 1.5 * Math.exp(-step / 200_000);
      for (let l = 0; l < L; l++) layers[l] = (0.3 + 0.1 * l) * decay * (0.8 + 0.4 * random());
      let total = Math.sqrt(layers.reduce((a, v) => a + v * v, 0));
      if (step === s.spikeAt && s.spikeValue !== undefined) {
        layers[Math.min(3, L - 1)] = s.spikeValue;
        total = s.spikeValue;
      }
      if (step === s.nanAt) {
        layers[Math.min(5, L - 1)] = NaN;
        total = NaN;
      }
      if (total > max) max = total;
      run.step({ type: 'step', run_id: runId, step, total_norm: total, layer_norms: layers.slice(), ...(s.withLoss ? { loss: 2 * decay, lr: 1e-3 } : {}) });
    }
    source.changed(run, 'steps');
    return max;
  },
  endRun(runId: string): void {
    const run = store.get(runId);
    if (!run) return;
    run.end({ type: 'run_end', run_id: runId, status: 'completed' });
    source.changed(run, 'run');
  },
  select(runId: string): void {
    session.select(runId);
  },
  posted,
  state: () => savedState,
};

(window as unknown as { __standIn: typeof standIn }).__standIn = standIn;

// The theme VS Code would inject: body class and CSS variables (set through CSSOM, as the page's
// CSP forbids inline styles), chosen by the page's #hash.
const theme = THEMES[(location.hash.slice(1) as ThemeName) || 'dark'] ?? THEMES.dark;
document.body.classList.add(theme.bodyClass);
for (const [name, value] of Object.entries(theme.vars)) document.documentElement.style.setProperty(name, value);
