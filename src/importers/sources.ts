/**
 * Files that look like logs but hold none, told apart so each gets a message that says what to do:
 * an empty file, a Git LFS pointer (a clone without `git lfs pull`), a W&B offline run file, a
 * folder without event files.
 */

export class UnreadableLogError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`${file}: ${reason}`);
  }
}

const LFS_POINTER = /^version https:\/\/git-lfs\.github\.com\/spec\/v1\r?\n/;
const LFS_SIZE = /^size (\d+)\s*$/m;

/** W&B's `.wandb` files: a LevelDB-style log whose header is ":W&B", magic 0xBEE1 (wandb/sdk/internal/datastore.py). */
const WANDB_IDENT = ':W&B';
const WANDB_MAGIC = 0xbee1;

/** Why a file whose first bytes are `head` cannot be read as a log, or undefined when they do not say. */
export function notALogReason(head: Buffer, fileSize: number): string | undefined {
  if (fileSize === 0) return 'the file is empty';
  const text = head.subarray(0, 200).toString('latin1');
  if (LFS_POINTER.test(text)) {
    const size = LFS_SIZE.exec(head.toString('latin1'));
    return (
      `this is a Git LFS pointer, not the log itself${size ? ` (the real file has ${size[1]} bytes)` : ''}; ` +
      'run `git lfs pull` in its repository to download it'
    );
  }
  if (head.length >= 7 && text.startsWith(WANDB_IDENT) && head.readUInt16LE(4) === WANDB_MAGIC) {
    return (
      'this is a W&B offline run file (.wandb), whose records are not read here; export the run instead: ' +
      '`wandb sync` it, then save `pandas.DataFrame(wandb.Api().run(PATH).scan_history())` with `.to_csv(...)` ' +
      'or `.to_json(..., orient="records", lines=True)`, or download a chart\'s CSV, and import that'
    );
  }
  return undefined;
}
