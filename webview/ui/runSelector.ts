/**
 * The run picker: live and finished runs with framework, state, steps and alerts. Names are client
 * text: textContent only.
 */
import { RunList, RunListItem } from '../../src/shared/webviewProtocol';

export function runLabel(r: RunListItem): string {
  const parts = [
    r.framework ?? 'unknown framework',
    r.state,
    `${r.steps.toLocaleString('en')} steps`,
    `${r.alertCount.toLocaleString('en')} alerts`,
  ];
  return `${r.name} — ${parts.join(' · ')}`;
}

export class RunSelector {
  constructor(
    private readonly select: HTMLSelectElement,
    onSelect: (runId: string) => void,
  ) {
    select.addEventListener('change', () => onSelect(select.value));
  }

  render(list: RunList): void {
    const select = this.select;
    const ids = list.runs.map((r) => r.id);
    const same = ids.length === select.options.length && ids.every((id, i) => select.options[i].value === id);
    if (!same) {
      // Rebuilt only when runs come or go, so an open dropdown is not disturbed by step counts.
      select.replaceChildren(...list.runs.map((r) => new Option('', r.id)));
    }
    list.runs.forEach((r, i) => {
      const option = select.options[i];
      const text = runLabel(r);
      if (option.textContent !== text) option.textContent = text;
    });
    if (list.selected !== null) select.value = list.selected;
    select.disabled = list.runs.length === 0;
  }
}
