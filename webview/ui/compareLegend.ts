/**
 * The legend of a comparison: per run a swatch in its color (dashed when colors repeat), its name,
 * state, steps, largest norm and non-finite steps. Run names come from clients: textContent only.
 */
import { fmt } from '../../src/shared/format';
import { formatStep } from '../charts/common';
import { OverlayRun } from '../overlay';

export function legendText(r: OverlayRun): string {
  const run = r.data.header;
  const parts = [run?.state ?? 'loading', `${(run?.steps ?? 0).toLocaleString('en')} steps`];
  const max = r.data.maxPoint();
  if (max) parts.push(`max ${fmt(max.y)} at step ${formatStep(max.step)}`);
  if (r.data.nonFinite.length > 0) parts.push(`first non-finite at step ${formatStep(r.data.nonFinite[0].step)}`);
  return parts.join(' · ');
}

export class CompareLegend {
  constructor(
    private readonly doc: Document,
    private readonly list: HTMLElement,
  ) {}

  render(runs: readonly OverlayRun[]): void {
    this.list.hidden = false;
    this.list.replaceChildren(
      ...runs.map((r) => {
        const item = this.doc.createElement('li');
        item.dataset.key = r.key;
        const swatch = this.doc.createElement('span');
        swatch.className = r.dash.length > 0 ? 'swatch dashed' : 'swatch';
        // A CSS custom property through CSSOM: the page's CSP forbids inline style attributes.
        swatch.style.setProperty('--swatch', r.color);
        swatch.setAttribute('aria-hidden', 'true');
        const name = this.doc.createElement('span');
        name.className = 'name';
        name.textContent = r.data.header?.name ?? r.key;
        const facts = this.doc.createElement('span');
        facts.className = 'aside';
        facts.textContent = legendText(r);
        item.append(swatch, name, facts);
        return item;
      }),
    );
  }
}
