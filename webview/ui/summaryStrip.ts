/** The summary strip: latest, max, median, p99 norm, steps/s, clip rate, non-finite steps, alerts. */
import { fmt } from '../../src/alerts/rules';
import { fromWire, NormSummary } from '../../src/shared/webviewProtocol';
import { formatStep, formatStepTick } from '../charts/common';

interface Item {
  value: HTMLElement;
  detail: HTMLElement;
  root: HTMLElement;
}

const KEYS = ['latest', 'max', 'median', 'p99', 'rate', 'clip', 'nonFinite', 'alerts'] as const;
type Key = (typeof KEYS)[number];
const LABELS: Record<Key, string> = { latest: 'Latest', max: 'Max', median: 'Median', p99: 'p99', rate: 'Steps/s', clip: 'Clip rate', nonFinite: 'Non-finite', alerts: 'Alerts' };

export class SummaryStrip {
  private readonly items = {} as Record<Key, Item>;

  constructor(root: HTMLElement) {
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
  }

  render(s: NormSummary | undefined, alertCount: number, threshold: number): void {
    const set = (key: Key, value: string, detail = '', title = ''): void => {
      const item = this.items[key];
      item.value.textContent = value;
      item.detail.textContent = detail;
      item.root.title = title;
    };
    const dash = '—';
    const latest = s?.latest != null ? fromWire(s.latest) : NaN;
    set('latest', s?.latest != null ? fmt(latest) : dash, s?.latestStep != null ? `step ${formatStep(s.latestStep)}` : '');
    this.items.latest.root.classList.toggle('bad', s?.latest != null && (!Number.isFinite(latest) || latest > threshold));
    set('max', s?.max != null ? fmt(s.max) : dash, s?.maxStep != null ? `step ${formatStep(s.maxStep)}` : '', 'Largest finite total norm of the whole run');
    this.items.max.root.classList.toggle('bad', s?.max != null && s.max > threshold);
    const window = s && s.window < s.steps ? `last ${formatStepTick(s.window)} steps` : '';
    const windowTitle = s && s.window < s.steps ? `Over the last ${s.window.toLocaleString('en')} steps, the ones held at full resolution` : 'Over the whole run';
    set('median', s?.median != null ? fmt(s.median) : dash, window, windowTitle);
    set('p99', s?.p99 != null ? fmt(s.p99) : dash, window, windowTitle);
    set('rate', s?.stepsPerSecond != null ? fmt(Math.round(s.stepsPerSecond * 10) / 10) : dash);
    set('clip', s?.clipRate != null ? `${fmt(Math.round(s.clipRate * 1000) / 10)}%` : dash, s?.clipRate != null ? `of ${formatStepTick(s.clipWindow)} steps` : 'not reported');
    set('nonFinite', s ? s.nonFinite.toLocaleString('en') : dash, '', 'Steps with a NaN or infinite norm');
    this.items.nonFinite.root.classList.toggle('bad', (s?.nonFinite ?? 0) > 0);
    set('alerts', alertCount.toLocaleString('en'));
    this.items.alerts.root.classList.toggle('warn', alertCount > 0);
  }
}
