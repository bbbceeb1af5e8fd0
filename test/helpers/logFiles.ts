/** Temporary folders and a collector of what a log reader yields, for the importer and loader tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after } from 'node:test';
import { readLog } from '../../src/importers/readLog';
import { LogReadResult } from '../../src/importers/types';
import { ClientMessage, StepMessage } from '../../src/protocol/messages';

/** A fresh folder removed when the test file ends. */
export function tempDir(prefix = 'gm-test-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface Collected {
  messages: ClientMessage[];
  steps: StepMessage[];
  result: LogReadResult;
}

export async function collect(file: string): Promise<Collected> {
  const messages: ClientMessage[] = [];
  const result = await readLog(file, (m) => messages.push(m));
  return { messages, steps: messages.filter((m): m is StepMessage => m.type === 'step'), result };
}
