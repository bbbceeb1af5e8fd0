/** The summary strip: latest, max, median, p99 norm, steps/s, clip rate, non-finite steps, alerts. */
import { fmt, quotedNames } from '../../src/shared/format';
import { formatStep, formatStepTick } from '../charts/common';
import { RunData } from '../runData';

interface Item {
  value: HTMLElement;
  detail: HTMLElement;
  root: HTMLElement;
}

const KEYS = ['latest', 'max', 'median', 'p99', 'rate', 'clip', 'nonFinite', 'alerts'] as const;
type Key = (typeof KEYS)[number];
const LABELS: Record<Key, string> = {
  latest: 'Latest',
  max: 'Max',
  median: 'Median',
  p99: 'p99',
  rate: 'Steps/s',
  clip: 'Clip rate',
  nonFinite: 'Non-finite',
  alerts: 'Alerts',
};
const DASH = '—';

export class SummaryStrip {
  private readonly items = {} as Record<Key, Item>;
  /** Under the non-finite count when the client saved a snapshot of the first non-finite step. */
  private readonly reproduce: HTMLButtonElement;
  private runId?: string;

  /** `onReproduce`: the user asked for the replay of the shown run's first non-finite step. */
  constructor(root: HTMLElement, onReproduce: (runId: string) => void) {
    for (const key of KEYS) {
      const item = document.createElement('div');
      item.className = `stat stat-${key}`;
      const label = document.createElement('span');
      label.className = 'stat-label';
      label.textContent = LABELS[key];
      const value = document.createElement('span');
      value.className = 'stat-value';
      const detail = document.createElement('span');
      detail.className = 'stat-detail';
      item.append(label, value, detail);
      root.append(item);
      this.items[key] = { value, detail, root: item };
    }
    this.reproduce = document.createElement('button');
    this.reproduce.className = 'link stat-action';
    this.reproduce.textContent = 'Reproduce';
    this.reproduce.hidden = true;
    this.reproduce.addEventListener('click', () => {
      if (this.runId !== undefined) onReproduce(this.runId);
    });
    this.items.nonFinite.root.append(this.reproduce);
  }

  /** Latest and max come from the rows the page holds (always current); the rest from the extension's 1 Hz summary. */
  render(data: RunData): void {
    const run = data.header;
    const s = data.summary;
    const threshold = run?.threshold ?? Infinity;
    const set = (key: Key, value: string, detail = '', title = ''): void => {
      const item = this.items[key];
      item.value.textContent = value;
      item.detail.textContent = detail;
      item.root.title = title;
    };
    const flag = (key: Key, cls: 'bad' | 'warn', on: boolean): void => {
      this.items[key].root.classList.toggle(cls, on);
    };
    const latest = data.latest();
    set('latest', latest ? fmt(latest.y) : DASH, latest ? `step ${formatStep(latest.step)}` : '');
    flag('latest', 'bad', !!latest && (!Number.isFinite(latest.y) || latest.y > threshold));
    const max = data.maxPoint();
    set(
      'max',
      max ? fmt(max.y) : DASH,
      max ? `step ${formatStep(max.step)}` : '',
      'Largest finite total norm of the whole run',
    );
    flag('max', 'bad', !!max && max.y > threshold);
    const partial = s && s.window < s.steps;
    const window = partial ? `last ${formatStepTick(s.window)} steps` : '';
    const windowTitle = partial
      ? `Over the last ${s.window.toLocaleString('en')} steps, the ones held at full resolution`
      : 'Over the whole run';
    set('median', s?.median != null ? fmt(s.median) : DASH, window, windowTitle);
    set('p99', s?.p99 != null ? fmt(s.p99) : DASH, window, windowTitle);
    set(
      'rate',
      s?.stepsPerSecond != null ? fmt(Math.round(s.stepsPerSecond * 10) / 10) : DASH,
      run?.state === 'live' ? '' : run ? run.state : '',
    );
    set(
      'clip',
      s?.clipRate != null ? `${fmt(Math.round(s.clipRate * 1000) / 10)}%` : DASH,
      s?.clipRate != null ? `of ${formatStepTick(s.clipWindow)} steps` : 'not reported',
    );
    const nonFinite = run?.nonFinite ?? 0;
    const first = run?.firstNonFinite;
    const where =
      (first?.layers.length ? ` in ${quotedNames(first.layers)}` : '') + (first?.origin ? `; ${first.origin}` : '');
    set(
      'nonFinite',
      run ? nonFinite.toLocaleString('en') : DASH,
      first ? `first at ${formatStep(first.step)}` : '',
      `Steps with a NaN or infinite norm${first ? `; the first at step ${first.step}${where}` : ''}`,
    );
    flag('nonFinite', 'bad', nonFinite > 0);
    this.runId = run?.id;
    this.reproduce.hidden = !first?.replayable;
    this.reproduce.title = first?.replayable
      ? `Open the lines that rerun step ${first.step} from its snapshot under torch.autograd.detect_anomaly`
      : '';
    const alerts = run?.alertCount ?? 0;
    set('alerts', run ? alerts.toLocaleString('en') : DASH);
    flag('alerts', 'warn', alerts > 0);
  }
}
