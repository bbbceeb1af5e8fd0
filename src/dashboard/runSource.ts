/**
 * Where a dashboard gets its runs. The live Hub is one source; a recorded log loaded into a
 * RunStore (post-run inspection) or several of them (comparison) are others. The dashboard only
 * reads `Run`s (metadata, bounded series, alerts) and listens for changes, so any of them plugs in.
 */
import { Hub } from '../ingest/hub';
import { Run, RunStore } from '../runs/runStore';
import type { Disposable } from '../shared/dispose';

/** 'steps': new steps or alerts; 'run': metadata or state changed (name, layers, end of run). */
export type RunChange = 'steps' | 'run';

export interface RunSource {
  runs(): Iterable<Run>;
  get(runId: string): Run | undefined;
  /** Calls listener on every change until the returned function is called. */
  subscribe(listener: (run: Run, change: RunChange) => void): () => void;
}

/**
 * The live runs of an ingest Hub. Disposing the source releases the hub listeners of every page
 * still subscribed, so that deactivating the extension leaves none behind with a dashboard open.
 */
export function hubRunSource(hub: Hub): RunSource & Disposable {
  const subscribed = new Set<() => void>();
  return {
    runs: () => hub.store.all(),
    get: (runId) => hub.store.get(runId),
    subscribe(listener) {
      const subscriptions = [
        hub.subscribe('steps', (run) => listener(run, 'steps')),
        hub.subscribe('run', (run) => listener(run, 'run')),
        // New settings move every run's threshold line: each run's header is sent again.
        hub.subscribe('reconfigured', () => hub.store.all().forEach((run) => listener(run, 'run'))),
      ];
      const unsubscribe = (): void => {
        subscriptions.forEach((s) => s.dispose());
        subscribed.delete(unsubscribe);
      };
      subscribed.add(unsubscribe);
      return unsubscribe;
    },
    dispose: () => subscribed.forEach((unsubscribe) => unsubscribe()),
  };
}

/**
 * Runs that their owner fills (a RunStore, a log loaded with loadRun, a test): call `changed`
 * after feeding them so open dashboards refresh.
 */
export class StoreRunSource implements RunSource {
  private readonly listeners = new Set<(run: Run, change: RunChange) => void>();

  constructor(readonly store: Pick<RunStore, 'all' | 'get'>) {}

  runs(): Iterable<Run> {
    return this.store.all();
  }

  get(runId: string): Run | undefined {
    return this.store.get(runId);
  }

  subscribe(listener: (run: Run, change: RunChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  changed(run: Run, change: RunChange = 'steps'): void {
    for (const listener of this.listeners) listener(run, change);
  }
}
