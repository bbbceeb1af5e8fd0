/**
 * One notification for the alerts one step raised: a spike above the threshold is one event to the
 * user, not two pop-ups. The worst severity leads; messages keep rule order (errors first).
 */
import { Alert } from './rules';

export interface AdmittedAlert {
  alert: Alert;
  /** Similar alerts held back by the rate limit since the last notice of this kind. */
  held: number;
}

export interface Notice {
  severity: Alert['severity'];
  text: string;
}

export function composeNotice(runName: string, items: readonly AdmittedAlert[]): Notice {
  const ordered = [...items].sort((a, b) =>
    a.alert.severity === b.alert.severity ? 0 : a.alert.severity === 'error' ? -1 : 1,
  );
  const held = items.reduce((n, i) => n + i.held, 0);
  const more = held > 0 ? ` (${held} similar alerts since the last notice)` : '';
  return {
    severity: ordered[0].alert.severity,
    text: `Gradient Monitor: ${runName}: ${ordered.map((i) => i.alert.message).join('; ')}${more}`,
  };
}
