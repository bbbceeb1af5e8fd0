/**
 * Discovery files let training processes started outside VS Code's terminals find an endpoint:
 * `~/.gradient-monitor/endpoints/<pid>.json`, one per endpoint process, readable by the user only.
 * A client picks the endpoint whose workspace folder contains its working directory, else the
 * newest one whose process is alive (docs/protocol.md, "Discovery").
 */
import { promises as fsp, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface DiscoveryRecord {
  url: string;
  token: string;
  pid: number;
  /** Workspace folders of the VS Code window (empty for `gradient-monitor serve`). */
  workspaceFolders: string[];
  startedAt: number;
  logDir: string;
}

export function discoveryDir(
  home = process.env.GRADIENT_MONITOR_HOME ?? path.join(os.homedir(), '.gradient-monitor'),
): string {
  return path.join(home, 'endpoints');
}

export async function writeDiscovery(record: DiscoveryRecord, dir = discoveryDir()): Promise<string> {
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, `${record.pid}.json`);
  const tmp = `${file}.${process.pid}.tmp`;
  await fsp.writeFile(tmp, JSON.stringify(record, null, 2), { mode: 0o600 });
  await fsp.rename(tmp, file); // readers never see a half-written file
  return file;
}

export async function removeDiscovery(pid = process.pid, dir = discoveryDir()): Promise<void> {
  await fsp.rm(path.join(dir, `${pid}.json`), { force: true });
}

export function removeDiscoverySync(pid = process.pid, dir = discoveryDir()): void {
  try {
    rmSync(path.join(dir, `${pid}.json`), { force: true });
  } catch {
    // best effort at exit
  }
}

/** Every readable discovery record, newest first. */
export function listDiscovery(dir = discoveryDir()): DiscoveryRecord[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
  const records: DiscoveryRecord[] = [];
  for (const n of names) {
    try {
      const r = JSON.parse(readFileSync(path.join(dir, n), 'utf8')) as DiscoveryRecord;
      if (typeof r.url === 'string' && typeof r.token === 'string') records.push(r);
    } catch {
      // a torn or foreign file is skipped, not fatal
    }
  }
  return records.sort((a, b) => b.startedAt - a.startedAt);
}

/**
 * The endpoint a client working in `cwd` should stream to: among endpoints whose process is alive,
 * the one with the longest workspace folder containing cwd, else the newest. Records left behind
 * by a crashed endpoint are ignored.
 */
export function pickEndpoint(
  records: readonly DiscoveryRecord[],
  cwd: string,
  alive: (pid: number) => boolean = processAlive,
): DiscoveryRecord | undefined {
  const live = records.filter((r) => alive(r.pid)).sort((a, b) => b.startedAt - a.startedAt);
  let best: DiscoveryRecord | undefined;
  let bestLength = -1;
  for (const r of live) {
    for (const folder of r.workspaceFolders ?? []) {
      if (folder.length > bestLength && isInside(cwd, folder)) {
        best = r;
        bestLength = folder.length;
      }
    }
  }
  return best ?? live[0];
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // alive, owned by someone else
  }
}

function isInside(child: string, folder: string): boolean {
  const rel = path.relative(folder, child);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}
