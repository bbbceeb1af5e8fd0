/**
 * The dashboard's toolbar (run state, resolution note, log scale, follow, reset zoom, top-k layers,
 * exports) and the charts' keyboard: arrows pan, + and - zoom, 0 or Home show the whole run, F
 * toggles following and L the log scale. It shows what the page tells it and hands every action
 * back to the page, which owns the step window and the saved state.
 */
import type { StepRange } from '../../src/shared/stepWindow';
import type { RunHeader } from '../../src/shared/webviewProtocol';
import type { YScale } from '../charts/yScale';

export const DEFAULT_TOP_K = 5;
/** The top-k input accepts 1..MAX_TOP_K layers. */
const MAX_TOP_K = 20;
/** An arrow key pans by this share of the steps in view. */
const PAN_SHARE = 0.1;

export interface ToolbarActions {
  toggleScale(): void;
  toggleFollow(): void;
  showWholeRun(): void;
  setTopK(k: number): void;
  exportCsv(): void;
  exportPng(): void;
  /** The steps in view, and all the steps there are: the keyboard pans and zooms within them. */
  range(): StepRange;
  extent(): StepRange;
  zoomTo(range: StepRange): void;
}

/** What the toolbar shows. */
export interface ToolbarView {
  run?: RunHeader;
  live: boolean;
  following: boolean;
  /** Steps per drawn point in the older part of the charts (1: every step drawn). */
  bucketWidth: number;
  yScale: YScale;
  topK: number;
}

export interface ToolbarElements {
  runState: HTMLElement;
  resolution: HTMLElement;
  scale: HTMLElement;
  follow: HTMLButtonElement;
  reset: HTMLElement;
  topK: HTMLInputElement;
  exportCsv: HTMLButtonElement;
  exportPng: HTMLButtonElement;
}

const STATE_ICONS = {
  live: 'codicon-pulse',
  completed: 'codicon-pass',
  failed: 'codicon-error',
  interrupted: 'codicon-debug-stop',
} as const;

export class Toolbar {
  constructor(
    private readonly doc: Document,
    private readonly el: ToolbarElements,
    private readonly actions: ToolbarActions,
  ) {
    el.scale.addEventListener('click', () => actions.toggleScale());
    el.follow.addEventListener('click', () => actions.toggleFollow());
    el.reset.addEventListener('click', () => actions.showWholeRun());
    el.exportCsv.addEventListener('click', () => actions.exportCsv());
    el.exportPng.addEventListener('click', () => actions.exportPng());
    el.topK.addEventListener('change', () => {
      const k = Math.round(Number(el.topK.value));
      actions.setTopK(Number.isFinite(k) ? Math.min(MAX_TOP_K, Math.max(1, k)) : DEFAULT_TOP_K);
    });
  }

  /** Gives a chart's canvas the keyboard controls. */
  listenForKeys(canvas: HTMLCanvasElement): void {
    canvas.addEventListener('keydown', (e) => this.onChartKey(e));
  }

  render(view: ToolbarView): void {
    const { run } = view;
    const state = this.el.runState;
    state.replaceChildren();
    if (run) {
      const icon = this.doc.createElement('span');
      icon.className = `codicon ${STATE_ICONS[run.state]}`;
      icon.setAttribute('aria-hidden', 'true');
      const parts: string[] = [run.state];
      if (run.ranks.length > 1) parts.push(`rank ${run.rank} of ${run.ranks.length}`);
      state.append(icon, parts.join(' · '));
      state.className = `badge state-${run.state}`;
      state.title = run.endMessage ?? '';
    }
    this.el.resolution.textContent =
      view.bucketWidth > 1 ? `older steps drawn as min/max of ${view.bucketWidth.toLocaleString('en')}` : '';
    this.el.scale.setAttribute('aria-pressed', String(view.yScale === 'log'));
    this.el.follow.setAttribute('aria-pressed', String(view.following));
    this.el.follow.disabled = !view.live;
    this.el.topK.value = String(view.topK);
    this.el.exportCsv.disabled = !run;
    this.el.exportPng.disabled = !run;
  }

  private onChartKey(e: KeyboardEvent): void {
    const { from, to } = this.actions.range();
    const width = to - from;
    const zoomBy = (factor: number): StepRange => {
      const center = (from + to) / 2;
      return { from: center - (width * factor) / 2, to: center + (width * factor) / 2 };
    };
    let next: StepRange | undefined;
    switch (e.key) {
      case 'ArrowLeft':
        next = { from: from - width * PAN_SHARE, to: to - width * PAN_SHARE };
        break;
      case 'ArrowRight':
        next = { from: from + width * PAN_SHARE, to: to + width * PAN_SHARE };
        break;
      case '+':
      case '=':
        next = zoomBy(0.5);
        break;
      case '-':
        next = zoomBy(2);
        break;
      case '0':
      case 'Home':
        this.actions.showWholeRun();
        break;
      case 'f':
      case 'F':
        this.actions.toggleFollow();
        break;
      case 'l':
      case 'L':
        this.actions.toggleScale();
        break;
      default:
        return;
    }
    e.preventDefault();
    if (next) this.actions.zoomTo(this.clamp(next));
  }

  /** Keeps a range within the run's steps, at most as wide as the run. */
  private clamp(r: StepRange): StepRange {
    const ext = this.actions.extent();
    const w = Math.min(r.to - r.from, ext.to - ext.from);
    const start = Math.min(Math.max(r.from, ext.from), ext.to - w);
    return { from: start, to: start + w };
  }
}
