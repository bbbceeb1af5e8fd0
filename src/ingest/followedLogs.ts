/**
 * Runs that reach the editor only through their logs. A training process with no endpoint (a cluster
 * node that cannot reach the editor, a job started elsewhere) writes its run log into a folder the
 * workspace shares (the client's `./.gradient-monitor/runs`). Each poll looks for logs there that
 * grew, follows them line by line and hands their messages to the hub like streamed ones, so the
 * same alerts, notifications and diagnostics follow. Logs of runs streamed to this endpoint (which
 * its recorder writes) are left alone.
 */
import { readdir, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { FOLLOW_IDLE_MS, LogFollower } from '../logs/follow';
import { readRunLog } from '../logs/reader';
import { ClientMessage } from '../protocol/messages';
import { Hub } from './hub';

/** How deep below each folder logs are looked for (runs/, or runs/<job>/). */
const MAX_DEPTH = 2;

interface Tracked {
  /** Bytes that were there before following began: history, not news. */
  baseline: number;
  follower?: LogFollower;
  runIds: Set<string>;
  lastGrowth: number;
  /** A log this endpoint records itself, or one that is not a run log. */
  ignored: boolean;
}

export class FollowedLogs {
  private readonly files = new Map<string, Tracked>();
  private firstPollDone = false;
  private polling?: Promise<void>;

  constructor(
    private readonly hub: Hub,
    private readonly folders: () => readonly string[],
    private readonly idleMs = FOLLOW_IDLE_MS,
  ) {}

  /** One look at the folders; overlapping calls share the poll in progress. */
  poll(now = Date.now()): Promise<void> {
    this.polling ??= this.pollOnce(now).finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async pollOnce(now: number): Promise<void> {
    const sizes = new Map<string, number>();
    for (const folder of this.folders()) await collectLogs(folder, MAX_DEPTH, sizes);
    for (const file of this.files.keys()) if (!sizes.has(file)) this.files.delete(file);
    for (const [file, size] of sizes) {
      let t = this.files.get(file);
      if (!t) {
        // Logs already there when following began are history until they grow;
        // later ones are news from their first line.
        t = { baseline: this.firstPollDone ? 0 : size, runIds: new Set(), lastGrowth: now, ignored: false };
        this.files.set(file, t);
      }
      if (t.ignored || (!t.follower && size <= t.baseline)) continue;
      try {
        await this.follow(file, t, now);
      } catch {
        this.files.delete(file); // it vanished or cannot be read: looked at afresh next time
      }
    }
    this.firstPollDone = true;
  }

  private async follow(file: string, t: Tracked, now: number): Promise<void> {
    if (!t.follower) {
      if (t.baseline === 0) t.follower = new LogFollower(file, 0, 0);
      else {
        // A log that was there before and grows again: its run so far, silently, then what comes next.
        const history: ClientMessage[] = [];
        const read = await readRunLog(file, (m) => history.push(m));
        if (!this.accept(t, history)) return;
        this.hub.applyFollowed(history, true);
        t.follower = await LogFollower.afterCompleteLines(file, read.bytes, read.lines);
      }
    }
    const news: ClientMessage[] = [];
    const { replaced } = await t.follower.poll((m) => news.push(m));
    if (replaced) {
      this.files.delete(file);
      return;
    }
    if (news.length > 0) {
      if (!this.accept(t, news)) return;
      t.lastGrowth = now;
      this.hub.applyFollowed(news);
    } else if (now - t.lastGrowth > this.idleMs) {
      this.endIdleRuns(t);
    }
  }

  /**
   * Takes note of the file's runs; false (and the file ignored from now on) when this endpoint records
   * one of them itself.
   */
  private accept(t: Tracked, messages: readonly ClientMessage[]): boolean {
    for (const m of messages) {
      if (t.runIds.has(m.run_id)) continue;
      if (this.hub.isStreamed(m.run_id)) {
        t.ignored = true;
        t.follower = undefined;
        return false;
      }
      t.runIds.add(m.run_id);
    }
    return true;
  }

  /**
   * A log that stopped growing without run_end: its run was killed, or pauses; it counts as interrupted
   * until it grows again.
   */
  private endIdleRuns(t: Tracked): void {
    const idle = [...t.runIds].filter((id) => this.hub.store.get(id)?.state === 'live');
    if (idle.length === 0) return;
    this.hub.applyFollowed(
      idle.map((id) => ({
        type: 'run_end',
        run_id: id,
        status: 'interrupted',
        message: `Its log has not grown for ${Math.round(this.idleMs / 1000)} s.`,
      })),
    );
  }
}

async function collectLogs(dir: string, depth: number, out: Map<string, number>): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return; // a folder that does not exist (yet)
  }
  for (const e of entries) {
    const full = path.join(dir, e.name);
    if (e.isFile() && e.name.endsWith('.jsonl')) {
      const size = await stat(full).then(
        (s) => s.size,
        () => undefined,
      );
      if (size !== undefined) out.set(full, size);
    } else if (e.isDirectory() && depth > 0) await collectLogs(full, depth - 1, out);
  }
}
