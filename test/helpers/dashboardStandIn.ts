/**
 * The extension's side of the dashboard, in the browser: a real DashboardSession over a real
 * RunStore, talking to the real webview bundle through a stand-in `acquireVsCodeApi` that passes
 * messages the way VS Code does (throughVsCodeTransport). Tests drive it via `window.__standIn`.
 */
import { DEFAULT_ALERT_SETTINGS } from '../../src/alerts/rules';
import { rng } from '../../src/cli/synthetic';
import { CompareSession } from '../../src/dashboard/compareSession';
import { StoreRunSource } from '../../src/dashboard/runSource';
import { snapshotRows } from '../../src/dashboard/rows';
import { DashboardSession } from '../../src/dashboard/session';
import type { Replay } from '../../src/runs/replay';
import { RunStore } from '../../src/runs/runStore';
import type { NonfiniteOrigin } from '../../src/shared/nonfiniteOrigin';
import { ExportMessage, HostMessage, LogStatusMessage } from '../../src/shared/webviewProtocol';
import { throughVsCodeTransport } from './vscodeTransport';
import { ThemeName, THEMES } from './vscodeThemes';

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
  /** Where that NaN was born, as a traced client reports it (`step.nonfinite_origin`). */
  nanOrigin?: NonfiniteOrigin;
  withLoss?: boolean;
  /** Steps that measured no norm, only loss and lr (an old trainer_state.json's). */
  lossOnly?: boolean;
  seed?: number;
}

// The spike rule sorts a rolling window per step; a tiny window keeps generating a million steps
// fast here (threshold and NaN alerts still come from the real rules).
const store = new RunStore({ alerts: { ...DEFAULT_ALERT_SETTINGS, spikeWindow: 3 } });
const source = new StoreRunSource(store);
// Like VS Code's webview state, the saved state outlives a reload of the page (sessionStorage).
let savedState: unknown = JSON.parse(sessionStorage.getItem('gm-state') ?? 'null') ?? undefined;
const posted: { type: string; at: number; append?: number }[] = [];
/** What the page asked the extension to save (CSV range, PNG data URL). */
const exports: ExportMessage[] = [];
/** The messages the page posted, as the extension received them. */
const received: unknown[] = [];
/** The replays the session asked the extension to show (the Reproduce action). */
const reproduced: Replay[] = [];
const session = new DashboardSession(
  source,
  (m: HostMessage) => {
    posted.push({
      type: m.type,
      at: performance.now(),
      append: m.type === 'update' ? m.append?.rows.steps.length : undefined,
    });
    window.postMessage(throughVsCodeTransport(m), '*');
  },
  { onExport: (r) => exports.push(r), onReproduce: (r) => reproduced.push(r) },
);
/** What the page talks to: the single-run session, or a compare session once `compare` is called. */
let active: { handle(m: unknown): void } = session;

(window as unknown as { acquireVsCodeApi: () => unknown }).acquireVsCodeApi = () => ({
  postMessage: (m: unknown) =>
    setTimeout(() => {
      const message = throughVsCodeTransport(m);
      received.push(message);
      active.handle(message);
    }, 0),
  getState: () => savedState,
  setState: (s: unknown) => {
    savedState = s;
    sessionStorage.setItem('gm-state', JSON.stringify(s));
  },
});

const standIn = {
  startRun(spec: RunSpec): void {
    const run = store.getOrCreate(spec.id);
    run.start({
      type: 'run_start',
      run_id: spec.id,
      name: spec.name ?? spec.id,
      layers: spec.layers,
      threshold: spec.threshold,
      framework: spec.framework ?? 'pytorch',
    });
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
      if (s.lossOnly) {
        run.step({ type: 'step', run_id: runId, step, loss: 2 * decay, lr: 1e-3 });
        continue;
      }
      run.step({
        type: 'step',
        run_id: runId,
        step,
        total_norm: total,
        layer_norms: layers.slice(),
        ...(s.withLoss ? { loss: 2 * decay, lr: 1e-3 } : {}),
        ...(step === s.nanAt && s.nanOrigin ? { nonfinite_origin: s.nanOrigin } : {}),
      });
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
  /** Turns the page into a compare panel over these runs (as the extension's compare panel serves it). */
  compare(runIds: string[]): void {
    session.dispose();
    const post = (m: HostMessage): void => window.postMessage(throughVsCodeTransport(m), '*');
    const compare = new CompareSession(
      runIds.map((id) => ({ key: `live:${id}`, run: () => store.get(id) })),
      [source],
      post,
      { updateIntervalMs: 100 },
    );
    active = compare;
    compare.handle({ type: 'ready' }); // the page said ready long ago, to the session it replaces
  },
  showLogStatus(status: LogStatusMessage): void {
    session.showLogStatus(status);
  },
  posted,
  exports,
  received,
  reproduced,
  state: () => savedState,
  /** Lets the extension side go (as if it lived in another process), so the page's heap is the webview's alone. */
  detachHost(): void {
    session.dispose();
    for (const run of store.all()) store.delete(run.id);
  },
  /** Extension-side cost of a snapshot of a run: building its rows and passing them through the transport (ms). */
  timeSnapshot(runId: string): { buildMs: number; transportMs: number; bytes: number } {
    const series = store.get(runId)?.series();
    if (!series) throw new Error(`no steps in ${runId}`);
    const t0 = performance.now();
    const rows = snapshotRows(series);
    const t1 = performance.now();
    throughVsCodeTransport({ rows });
    const t2 = performance.now();
    return {
      buildMs: t1 - t0,
      transportMs: t2 - t1,
      bytes: rows.steps.byteLength * (2 + (rows.losses ? 1 : 0) + (rows.lrs ? 1 : 0)),
    };
  },
  /**
   * The baseline for benchmarks: every step of a run sent raw (no envelope), as a store that keeps
   * full resolution would; the webview still decimates what it draws.
   */
  postRawSnapshot(runId: string, count: number, layers: string[]): number {
    const steps = new Float64Array(count);
    const totals = new Float64Array(count);
    const random = rng(7);
    for (let i = 0; i < count; i++) {
      steps[i] = i;
      totals[i] = 1 + random();
    }
    const run = {
      id: runId,
      name: runId,
      state: 'live' as const,
      steps: count,
      alertCount: 0,
      updatedAt: Date.now(),
      layers,
      threshold: 10,
      rank: 0,
      ranks: [0],
      firstStep: 0,
      lastStep: count - 1,
      nonFinite: 0,
      firstNonFinite: null,
    };
    const message: HostMessage = {
      type: 'snapshot',
      run,
      rows: { steps, totals },
      alerts: [],
      summary: {
        median: null,
        p99: null,
        window: 0,
        steps: count,
        stepsPerSecond: null,
        clipRate: null,
        clipWindow: 0,
      },
      bucketWidth: 1,
    };
    const t0 = performance.now();
    window.postMessage(throughVsCodeTransport(message), '*');
    return performance.now() - t0;
  },
};

(window as unknown as { __standIn: typeof standIn }).__standIn = standIn;

// The theme VS Code would inject: body class and CSS variables (set through CSSOM, as the page's
// CSP forbids inline styles), chosen by the page's #hash.
const theme = THEMES[(location.hash.slice(1) as ThemeName) || 'dark'] ?? THEMES.dark;
document.body.classList.add(theme.bodyClass);
for (const [name, value] of Object.entries(theme.vars)) document.documentElement.style.setProperty(name, value);
