/**
 * The extension's entry point in deactivation.e2e.ts: the real activate() and deactivate(), which
 * also notes how many listeners the hub has just before VS Code deactivates the extension and just
 * after. VS Code calls deactivate() and at once, before awaiting it, disposes the extension's
 * context.subscriptions (extHostExtensionService), so once the real deactivate() has settled the
 * count is what deactivation left behind. The note goes to GRADIENT_MONITOR_HOME/hub-listeners.json.
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Hub } from '../../src/ingest/hub';
import * as extension from '../../src/vscode/extension';

/** Per hub the extension subscribed to: its listeners by event (events with none left out). */
export interface HubListenersNote {
  before: Record<string, number>[];
  after: Record<string, number>[];
}

// Every listener is added through subscribe (hub.test.ts checks that), so its callers name the hubs to count.
const hubs = new Set<Hub>();
const subscribe = Hub.prototype.subscribe;
Hub.prototype.subscribe = function (this: Hub, ...args: Parameters<Hub['subscribe']>) {
  hubs.add(this);
  return subscribe.apply(this, args);
} as Hub['subscribe'];

function listenerCounts(): Record<string, number>[] {
  return [...hubs].map((hub) =>
    Object.fromEntries(
      hub
        .eventNames()
        .map((event) => [String(event), hub.listenerCount(event)])
        .filter(([, n]) => n !== 0),
    ),
  );
}

export const activate = extension.activate;

export async function deactivate(): Promise<void> {
  const before = listenerCounts();
  await extension.deactivate();
  const note: HubListenersNote = { before, after: listenerCounts() };
  writeFileSync(path.join(process.env.GRADIENT_MONITOR_HOME ?? '', 'hub-listeners.json'), JSON.stringify(note));
}
