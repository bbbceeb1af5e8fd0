import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { hubRunSource } from '../../src/dashboard/runSource';
import { Hub, HubEvents } from '../../src/ingest/hub';
import { Run, RunStore } from '../../src/runs/runStore';

const EVENTS: (keyof HubEvents)[] = ['run', 'steps', 'alert', 'reconfigured', 'recording'];

function newHub(): Hub {
  return new Hub(new RunStore(), mkdtempSync(path.join(os.tmpdir(), 'gm-hub-')));
}

function listeners(hub: Hub): number {
  return EVENTS.reduce((n, e) => n + hub.listenerCount(e), 0);
}

describe('Hub.subscribe', () => {
  test('a listener hears its event until its Disposable is disposed, then nothing is left on the hub', async () => {
    const hub = newHub();
    const heard: string[] = [];
    const subscription = hub.subscribe('steps', (run: Run, count: number) => heard.push(`${run.id}:${count}`));
    await hub.ingest([{ type: 'step', run_id: 'r', step: 0, total_norm: 1 }]);
    assert.deepEqual(heard, ['r:1']);
    subscription.dispose();
    subscription.dispose(); // a second dispose (the panel's and the extension's) is harmless
    await hub.ingest([{ type: 'step', run_id: 'r', step: 1, total_norm: 1 }]);
    assert.deepEqual(heard, ['r:1']);
    assert.equal(listeners(hub), 0);
    await hub.close();
  });

  test('a live run source releases the listeners of every page still subscribed when it is disposed', async () => {
    const hub = newHub();
    const source = hubRunSource(hub);
    const heard: string[] = [];
    const closedPage = source.subscribe((_run, change) => heard.push(`closed ${change}`));
    source.subscribe((_run, change) => heard.push(`open ${change}`));
    source.subscribe((_run, change) => heard.push(`open too ${change}`));
    closedPage(); // its panel closed earlier
    await hub.ingest([{ type: 'step', run_id: 'r', step: 0, total_norm: 1 }]);
    assert.ok(
      heard.includes('open steps') && heard.includes('open too steps') && !heard.some((h) => h.startsWith('closed')),
    );
    source.dispose(); // the extension deactivates with two pages open
    assert.equal(listeners(hub), 0);
    heard.length = 0;
    await hub.ingest([{ type: 'step', run_id: 'r', step: 1, total_norm: 1 }]);
    assert.deepEqual(heard, []);
    await hub.close();
  });

  test('the extension and the dashboard listen to the hub only through subscribe, so every listener can be released', () => {
    const root = path.resolve(__dirname, '../../src');
    const offenders: string[] = [];
    for (const folder of ['vscode', 'dashboard']) {
      for (const file of readdirSync(path.join(root, folder))) {
        const text = readFileSync(path.join(root, folder, file), 'utf8');
        if (/\bhub\.(on|once|addListener|prependListener)\(/.test(text)) offenders.push(`${folder}/${file}`);
      }
    }
    assert.deepEqual(offenders, []);
  });
});
