/** What the analysis of a training script produces: training sites, their clipping, fixes and checks. Plain data. */
import type { TextEdit } from './edits';
import type { ImportSpec } from './imports';

export type SiteFramework =
  | 'pytorch'
  | 'accelerate'
  | 'fsdp'
  | 'lightning'
  | 'fabric'
  | 'deepspeed'
  | 'transformers'
  | 'keras'
  | 'tensorflow'
  | 'optax';

/**
 * Edits to another file the fix needs (a DeepSpeed JSON config), named as the script names it (relative to its folder).
 */
export interface FileEdits {
  path: string;
  edits: TextEdit[];
}

export interface Fix {
  title: string;
  edits: TextEdit[];
  /** Import lines the edits rely on; added once, only where missing. */
  imports: ImportSpec[];
  /** Edits to other files, applied with the script's. */
  files?: FileEdits[];
}

export interface ExistingClipping {
  /** 0-based line of the clipping call or argument. */
  line: number;
  kind: 'norm' | 'value';
  /**
   * What clips, as written: `torch.nn.utils.clip_grad_norm_`, `dispatch_clip_grad`, `"gradient_clipping" in
   * ds_config.json`.
   */
  by: string;
  /** The code that clips, e.g. `torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)` or `gradient_clip_val=0.5`. */
  code: string;
  /** The max_norm it uses, as written. */
  maxNorm?: string;
}

export interface ClipOptions {
  maxNorm: number;
}

/** One place where a file trains: a PyTorch step, a Trainer, a Keras optimizer, a tape loop, an optax optimizer. */
export interface TrainingSite {
  framework: SiteFramework;
  /** 0-based line the site is reported at (the optimizer step, the Trainer call...). */
  line: number;
  /** 0-based lines where the editor offers this site's actions. */
  lines: number[];
  summary: string;
  /** Facts for `clip --json` (names as written in the file). */
  details: Record<string, string | number | boolean | null>;
  clipping?: ExistingClipping;
  /** Why no edit can be proposed here, when none can. */
  cannotFix?: string;
  /** A note for whoever applies the fix (e.g. a framework default). */
  note?: string;
  addNormClipping?(maxNorm: number): Fix | undefined;
  addValueClipping?(clipValue: number): Fix | undefined;
  /** Retargets the existing clipping's max_norm. */
  setMaxNorm?(maxNorm: number): Fix | undefined;
  /** Other ways to clip, offered after the main one (e.g. Keras per-tensor `clipnorm`). */
  alternatives?(maxNorm: number): Fix[];
  addMonitoring?(): Fix | undefined;
}

export type CheckCode =
  | 'clip-after-step'
  | 'clip-before-backward'
  | 'clip-scaled-gradients'
  | 'clip-every-micro-batch'
  | 'log-every-micro-batch'
  | 'fsdp-plain-clip'
  | 'deepspeed-manual-clip'
  | 'per-parameter-sync';

export interface Check {
  code: CheckCode;
  severity: 'warning' | 'info';
  message: string;
  start: number;
  end: number;
  fixes: Fix[];
}
