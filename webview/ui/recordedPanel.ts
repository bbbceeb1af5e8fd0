/**
 * A recorded log's part of the page: what could not be read (each problem located), notes such as
 * a torn last line, and the run's summary over every step with every alert as a link that zooms the
 * charts to its step. File names, layer names and alert messages are untrusted: textContent only.
 */
import { fmt, formatDuration, quotedNames } from '../../src/shared/format';
import { LogStatusMessage, RecordedSummary } from '../../src/shared/webviewProtocol';
import { formatStep } from '../charts/common';

const ALERT_GLYPHS = { threshold: '▲', spike: '◆', nonfinite: '×', vanishing: '▼' } as const;

export class RecordedPanel {
  constructor(
    private readonly doc: Document,
    private readonly el: {
      problems: HTMLElement;
      root: HTMLElement;
      status: HTMLElement;
      facts: HTMLElement;
      alerts: HTMLElement;
    },
    private readonly onJump: (step: number) => void,
  ) {}

  render(status: LogStatusMessage | undefined): void {
    this.renderProblems(status);
    const summary = status?.summary ?? null;
    this.el.root.hidden = !summary;
    if (summary) this.renderSummary(summary);
  }

  private renderProblems(status: LogStatusMessage | undefined): void {
    const box = this.el.problems;
    box.replaceChildren();
    if (!status || status.loading || (status.problems.length === 0 && status.notes.length === 0)) {
      box.hidden = true;
      return;
    }
    box.hidden = false;
    if (status.problems.length > 0) {
      const intro = this.doc.createElement('p');
      intro.textContent = status.summary
        ? `Parts of ${status.file} could not be read; everything readable is shown:`
        : `${status.file} could not be read:`;
      const list = this.doc.createElement('ul');
      for (const p of status.problems) list.append(this.item('li', p));
      box.append(intro, list);
    }
    for (const n of status.notes) box.append(this.item('p', n, 'note'));
  }

  private renderSummary(s: RecordedSummary): void {
    this.el.status.textContent = s.status;
    const facts: [string, string | HTMLElement][] = [
      [
        'Steps',
        s.steps.toLocaleString('en') +
          (s.firstStep !== null && s.lastStep !== null
            ? ` (${formatStep(s.firstStep)} to ${formatStep(s.lastStep)})`
            : ''),
      ],
      ['Duration', s.durationSeconds !== null ? formatDuration(s.durationSeconds) : 'not recorded'],
      [
        'Max norm',
        s.max !== null && s.maxStep !== null
          ? this.jump(`${fmt(s.max)} at step ${formatStep(s.maxStep)}`, s.maxStep)
          : '—',
      ],
      ['Median norm', s.median !== null ? fmt(s.median) : '—'],
      ['p99 norm', s.p99 !== null ? fmt(s.p99) : '—'],
      [
        'First non-finite',
        s.firstNonFinite
          ? this.jump(
              `step ${formatStep(s.firstNonFinite.step)}${s.firstNonFinite.layers.length ? ` in ${quotedNames(s.firstNonFinite.layers)}` : ''}${s.firstNonFinite.origin ? `: ${s.firstNonFinite.origin}` : ''}`,
              s.firstNonFinite.step,
            )
          : 'none',
      ],
      ['Non-finite steps', s.nonFiniteSteps.toLocaleString('en')],
      ['Clip rate', s.clipRate !== null ? `${fmt(Math.round(s.clipRate * 1000) / 10)}%` : 'not reported'],
      ['Suggested max_norm', s.suggestedMaxNorm !== null ? fmt(s.suggestedMaxNorm) : 'too few finite steps'],
    ];
    this.el.facts.replaceChildren(
      ...facts.map(([label, value]) => {
        const row = this.doc.createElement('div');
        const dd = this.doc.createElement('dd');
        dd.append(value);
        row.append(this.item('dt', label), dd);
        return row;
      }),
    );
    const alerts = this.el.alerts;
    alerts.replaceChildren(
      ...s.alerts.map((a) => {
        const li = this.doc.createElement('li');
        li.append(this.jump(`${ALERT_GLYPHS[a.kind]} step ${formatStep(a.step)}: ${a.message}`, a.step));
        return li;
      }),
    );
    if (s.alerts.length === 0) alerts.append(this.item('li', 'No alerts.'));
    else if (s.alertCount > s.alerts.length)
      alerts.append(this.item('li', `…and ${(s.alertCount - s.alerts.length).toLocaleString('en')} more`));
  }

  private jump(text: string, step: number): HTMLElement {
    const b = this.doc.createElement('button');
    b.type = 'button';
    b.className = 'link';
    b.textContent = text;
    b.title = `Zoom the charts to step ${step}`;
    b.dataset.step = String(step);
    b.addEventListener('click', () => this.onJump(step));
    return b;
  }

  private item(tag: string, text: string, className?: string): HTMLElement {
    const e = this.doc.createElement(tag);
    e.textContent = text;
    if (className) e.className = className;
    return e;
  }
}
