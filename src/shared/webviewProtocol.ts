/**
 * The messages between the extension host and the dashboard webview; both bundles import this one
 * module. It knows nothing of where runs come from (see docs/dashboard.md, "Run sources").
 *
 * Transport rule: VS Code serializes webview messages as JSON, except typed arrays, which travel as
 * binary. JSON turns NaN and ±Infinity into null, so bulk numbers go in typed arrays (non-finite
 * norms survive bit for bit) and a scalar norm that may be non-finite is a `WireNumber`.
 */
import type { AlertKind, RunState } from './kinds';

export type { AlertKind, RunState };

export const DASHBOARD_VIEW_TYPE = 'gradientMonitor.dashboard';
/** The read-only editor of recorded logs: the default for Gradient Monitor's own logs... */
export const RUN_LOG_VIEW_TYPE = 'gradientMonitor.runLog';
/** ...and an "Open With" choice for any log it reads (other tools' logs, .jsonl elsewhere). */
export const LOG_FILE_VIEW_TYPE = 'gradientMonitor.logFile';
/** A dashboard page in compare mode (runs overlaid); not restored after a restart. */
export const COMPARE_VIEW_TYPE = 'gradientMonitor.compare';

/**
 * The extension posts at most this many coalesced updates a second to a dashboard. A step waits up
 * to one interval for its update: at 10 a second the 99th percentile from a client's send to the
 * step drawn was 118 ms, at 20 it is 77 ms (BENCHMARKS.md, "Latency").
 */
export const MAX_UPDATES_PER_SECOND = 20;

/** A number that may be non-finite, JSON-safe: non-finite values are spelled as strings. */
export type WireNumber = number | 'NaN' | 'Infinity' | '-Infinity';

export function toWire(v: number): WireNumber {
  if (Number.isFinite(v)) return v;
  return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
}

export function fromWire(v: WireNumber): number {
  return typeof v === 'number' ? v : Number(v);
}

/** One run in the selector. Names come from clients: display them as text only. */
export interface RunListItem {
  id: string;
  name: string;
  framework?: string;
  state: RunState;
  /** Distinct steps recorded (on the charted rank). */
  steps: number;
  alertCount: number;
  /** Wall-clock ms of the latest message, for ordering. */
  updatedAt: number;
}

export interface RunHeader extends RunListItem {
  layers: string[];
  threshold: number;
  /** The rank charted (the lowest that sent steps) and all ranks seen. */
  rank: number;
  ranks: number[];
  /** Smallest and largest step recorded on the charted rank (null before the first step). */
  firstStep: number | null;
  lastStep: number | null;
  /** Steps with a NaN or infinite norm (total or any layer), and the first of them with its first bad layers. */
  nonFinite: number;
  firstNonFinite: FirstNonFiniteView | null;
  endMessage?: string;
}

/**
 * Total-norm rows in step order. A raw step is one row; an envelope bucket of older history gives
 * the rows of its minimum and its maximum (so every local maximum survives) and of its first
 * non-finite step. Totals may be NaN or ±Infinity: those rows are non-finite steps.
 */
export interface SeriesRows {
  steps: Float64Array;
  totals: Float64Array;
  /** Present when some row reported them; NaN where a row has none. Buckets carry their means. */
  losses?: Float64Array;
  lrs?: Float64Array;
  /** Present when some row measured no norm (a loss-only log): 1 there, and that row's total means nothing. */
  unmeasured?: Uint8Array;
}

export interface AlertMarker {
  kind: AlertKind;
  step: number;
  value: WireNumber;
  message: string;
  /** For a non-finite alert whose origin was traced: the marker's label ("NaN born in blocks.2.gate, ..."). */
  origin?: string;
}

/** A run's first non-finite step, its first bad layers and (when traced) where its NaN was born (originLabel). */
export interface FirstNonFiniteView {
  step: number;
  layers: string[];
  origin?: string;
  /** The client saved a snapshot of this step: the page offers Reproduce (ReproduceMessage). */
  replayable?: boolean;
}

/**
 * The statistics of the summary strip that need the whole recent window (the latest and the
 * maximum norm the webview reads from the rows it holds). Nulls mean "not known yet".
 */
export interface NormSummary {
  /** Median and 99th percentile over the last `window` steps (the whole run when window = steps). */
  median: number | null;
  p99: number | null;
  window: number;
  steps: number;
  stepsPerSecond: number | null;
  /** Fraction of the steps in `clipWindow` that reported `clipped`, which were clipped. */
  clipRate: number | null;
  clipWindow: number;
}

/** Which steps a view shows: the whole run, the latest `width` steps, or a fixed range. */
export type StepWindow =
  { kind: 'all' } | { kind: 'latest'; width: number } | { kind: 'range'; from: number; to: number };

/** Per-layer maxima over `columns` equal slices of steps from..to (see Series.layerColumns). */
export interface LayerView {
  runId: string;
  /** The request this answers (pushed refreshes of a following view repeat its id). */
  requestId: number;
  from: number;
  to: number;
  columns: number;
  /** columns × layers, row-major; -Infinity = no data, NaN/+Infinity = non-finite layer norm. */
  values: Float32Array;
}

export interface SnapshotMessage {
  type: 'snapshot';
  /** The run list, when it changed too (one message per update). */
  runs?: RunList;
  run: RunHeader;
  rows: SeriesRows;
  alerts: AlertMarker[];
  summary: NormSummary;
  /** Steps folded per envelope bucket (1 while the whole run is held raw). */
  bucketWidth: number;
}

export interface AppendMessage {
  run: RunHeader;
  rows: SeriesRows;
  alerts: AlertMarker[];
}

/** One coalesced update: whatever changed since the previous one. */
export interface UpdateMessage {
  type: 'update';
  runs?: RunList;
  append?: AppendMessage;
  summary?: NormSummary;
  layers?: LayerView;
}

export interface RunList {
  runs: RunListItem[];
  /** The run shown, or null. */
  selected: string | null;
  /** A run the dashboard waits for (restored after a restart, not reconnected yet). */
  waitingFor: string | null;
}

export interface LayersMessage {
  type: 'layers';
  view: LayerView;
}

/** A recorded run's summary over every step of its log (src/runs/runReport.ts), not the chart's rows. */
export interface RecordedSummary {
  runId: string;
  /** 'completed' | 'failed' | 'interrupted' | 'unfinished' (the log has no run_end). */
  status: string;
  steps: number;
  firstStep: number | null;
  lastStep: number | null;
  durationSeconds: number | null;
  /** Over the finite total norms; null when there were none. */
  max: number | null;
  maxStep: number | null;
  median: number | null;
  p99: number | null;
  nonFiniteSteps: number;
  firstNonFinite: FirstNonFiniteView | null;
  /** In step order, at most MAX_SUMMARY_ALERTS of them; `alertCount` counts all. */
  alerts: AlertMarker[];
  alertCount: number;
  clipRate: number | null;
  suggestedMaxNorm: number | null;
}

export const MAX_SUMMARY_ALERTS = 200;

/** The state of a recorded log shown in a dashboard: loading, then its summary and what could not be read. */
export interface LogStatusMessage {
  type: 'logStatus';
  /** The log's path, to name it in messages. */
  file: string;
  loading: boolean;
  /** Each problem located: "line 12: not JSON", "record at byte 4096: ...". Read problems or why the load failed. */
  problems: string[];
  /** Facts that are not faults, e.g. a last line cut short by a crash was skipped. */
  notes: string[];
  /** Null while loading, and when the file held no run. */
  summary: RecordedSummary | null;
}

/** One run of a comparison: its header and its total-norm rows (the same envelope rows as a snapshot's). */
export interface ComparedRun {
  /** Unique within the comparison (a live run and its own recorded log share a run id). */
  key: string;
  run: RunHeader;
  rows: SeriesRows;
  bucketWidth: number;
}

/** At most this many runs are overlaid: beyond it the colors stop telling runs apart. */
export const MAX_COMPARED_RUNS = 8;

/**
 * Puts the page in compare mode: the total norms of several runs overlaid on one chart, aligned
 * by step. Sent whole (live members change it) at most once a second.
 */
export interface CompareMessage {
  type: 'compare';
  runs: ComparedRun[];
}

export type HostMessage = SnapshotMessage | UpdateMessage | LayersMessage | LogStatusMessage | CompareMessage;

/** The webview started (or was restored) and wants the run it showed last, if any. */
export interface ReadyMessage {
  type: 'ready';
  runId?: string;
}

export interface SelectRunMessage {
  type: 'selectRun';
  runId: string;
}

/** Asks for per-layer maxima; a following window ('all' or 'latest') keeps being refreshed. */
export interface ViewLayersMessage {
  type: 'viewLayers';
  runId: string;
  window: StepWindow;
  columns: number;
  requestId: number;
}

/** Save the visible steps (from..to) of a run as CSV, at full resolution from its log. */
export interface ExportCsvMessage {
  type: 'exportCsv';
  runId: string;
  from: number;
  to: number;
}

/** Save the chart as drawn: a `data:image/png;base64,` URL made by the page's canvas. */
export interface ExportPngMessage {
  type: 'exportPng';
  runId: string;
  dataUrl: string;
}

export type ExportMessage = ExportCsvMessage | ExportPngMessage;

/** Show the lines that rerun the run's first non-finite step from its snapshot under detect_anomaly. */
export interface ReproduceMessage {
  type: 'reproduce';
  runId: string;
}

export type WebviewMessage = ReadyMessage | SelectRunMessage | ViewLayersMessage | ExportMessage | ReproduceMessage;

/** What the webview persists (vscode.setState) and a restored panel hands back to the extension. */
export interface DashboardState {
  runId?: string;
  yScale?: 'log' | 'linear';
  topK?: number;
  window?: StepWindow;
}

/** Upper bound of layer-view columns a webview may ask for. */
export const MAX_LAYER_COLUMNS = 4096;

/** Checks a message from the webview; anything malformed is undefined (and ignored). */
export function parseWebviewMessage(m: unknown): WebviewMessage | undefined {
  if (typeof m !== 'object' || m === null) return undefined;
  const v = m as Record<string, unknown>;
  switch (v.type) {
    case 'ready':
      return v.runId === undefined || typeof v.runId === 'string'
        ? { type: 'ready', runId: v.runId as string | undefined }
        : undefined;
    case 'selectRun':
    case 'reproduce':
      return typeof v.runId === 'string' ? { type: v.type, runId: v.runId } : undefined;
    case 'viewLayers': {
      const window = parseStepWindow(v.window);
      const columns = v.columns;
      if (
        typeof v.runId !== 'string' ||
        !window ||
        !isWholeNumber(columns) ||
        columns < 1 ||
        columns > MAX_LAYER_COLUMNS ||
        !isWholeNumber(v.requestId)
      )
        return undefined;
      return { type: 'viewLayers', runId: v.runId, window, columns, requestId: v.requestId };
    }
    case 'exportCsv':
      if (typeof v.runId !== 'string' || !isFiniteNumber(v.from) || !isFiniteNumber(v.to) || v.to < v.from)
        return undefined;
      return { type: 'exportCsv', runId: v.runId, from: v.from, to: v.to };
    case 'exportPng':
      if (
        typeof v.runId !== 'string' ||
        typeof v.dataUrl !== 'string' ||
        !v.dataUrl.startsWith(PNG_DATA_URL_PREFIX) ||
        v.dataUrl.length > MAX_PNG_DATA_URL
      )
        return undefined;
      return { type: 'exportPng', runId: v.runId, dataUrl: v.dataUrl };
    default:
      return undefined;
  }
}

export const PNG_DATA_URL_PREFIX = 'data:image/png;base64,';
/** A chart image is well under this; anything larger is not what the page makes. */
export const MAX_PNG_DATA_URL = 64 * 1024 * 1024;

export function parseStepWindow(w: unknown): StepWindow | undefined {
  if (typeof w !== 'object' || w === null) return undefined;
  const v = w as Record<string, unknown>;
  if (v.kind === 'all') return { kind: 'all' };
  if (v.kind === 'latest' && isFiniteNumber(v.width) && v.width > 0) return { kind: 'latest', width: v.width };
  if (v.kind === 'range' && isFiniteNumber(v.from) && isFiniteNumber(v.to) && v.to >= v.from)
    return { kind: 'range', from: v.from, to: v.to };
  return undefined;
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function isWholeNumber(v: unknown): v is number {
  return Number.isSafeInteger(v);
}
