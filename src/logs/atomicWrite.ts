/**
 * Writes a file through a temporary file in the same folder, then moves it into place: nobody sees
 * a half-written file, a failure leaves whatever was there untouched, and without `overwrite` an
 * existing file is never replaced (a hard link cannot clobber, so even a race cannot).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { FileHandle, link, open, rename, unlink } from 'node:fs/promises';
import * as path from 'node:path';
import { ChunkedText } from './chunkedText';

/** Bytes copied at a time when a file is appended. */
const CHUNK_BYTES = 1 << 20;

export class OutputExistsError extends Error {
  constructor(readonly file: string) {
    super(`${file} already exists; nothing was written`);
  }
}

/** `produce` writes text through `write`, synchronously and in order, and may await between writes. */
export async function writeFileAtomically(
  target: string,
  produce: (write: (text: string) => void) => Promise<void>,
  opts: { overwrite?: boolean } = {},
): Promise<void> {
  await fillFileAtomically(target, (handle) => writeText(handle, produce), opts);
}

/**
 * Text from `produce` into the handle, encoded into chunks written one after the other; `append`
 * puts a file's bytes after the text so far (resolving once they are written).
 */
export async function writeText(
  handle: FileHandle,
  produce: (write: (text: string) => void, append: (file: string) => Promise<void>) => Promise<void>,
): Promise<void> {
  let writing = Promise.resolve();
  const text = new ChunkedText((bytes) => {
    writing = writing.then(() => handle.write(bytes).then(() => undefined));
  });
  const append = (file: string): Promise<void> => {
    text.flush();
    writing = writing.then(() => appendFile(handle, file));
    return writing;
  };
  try {
    await produce((t) => text.write(t), append);
    text.flush();
  } catch (e) {
    await writing.catch(() => undefined);
    throw e;
  }
  await writing;
}

async function appendFile(handle: FileHandle, file: string): Promise<void> {
  const source = await open(file, 'r');
  try {
    const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    for (;;) {
      const { bytesRead } = await source.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) return;
      await handle.write(chunk, 0, bytesRead);
    }
  } finally {
    await source.close();
  }
}

/**
 * `fill` writes the temporary file through its handle (or its descriptor, from any thread) and is
 * done when it resolves.
 */
export async function fillFileAtomically(
  target: string,
  fill: (handle: FileHandle) => Promise<void>,
  opts: { overwrite?: boolean } = {},
): Promise<void> {
  if (!opts.overwrite && existsSync(target)) throw new OutputExistsError(target); // fail before any work
  const temp = path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', 0o644);
  try {
    await fill(handle);
    await handle.sync();
    await handle.close();
    await moveIntoPlace(temp, target, opts.overwrite ?? false);
  } catch (e) {
    await handle.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw e;
  }
}

async function moveIntoPlace(temp: string, target: string, overwrite: boolean): Promise<void> {
  if (overwrite) return rename(temp, target);
  try {
    await link(temp, target);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new OutputExistsError(target);
    // File systems without hard links: check, then rename (a race is possible only there).
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw e;
    if (existsSync(target)) throw new OutputExistsError(target);
    return rename(temp, target);
  }
  await unlink(temp);
}
