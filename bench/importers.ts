/**
 * Importer benchmark: a Lightning CSVLogger metrics.csv and a TensorBoard event file of N steps
 * (1,000,000 by default), imported as `gradient-monitor import` does (read, convert, write the run
 * log, with a worker thread when large enough: the events' run log written beside the reading by
 * dist/runLogWriteWorker.js, a table's second half converted by dist/tableImportWorker.js, when
 * built; and all on one thread) and read alone, against a naive Node reader as the ratio
 * baseline (the whole file read at once, split and parsed: lines and cells for the CSV, records
 * and protobufjs' Event decoder for the events). Each measurement runs in a fresh process so its
 * peak memory is its own. Reports medians: wall time, MB/s of input by wall clock and by CPU time
 * (the whole process's, both threads; it holds still on a busy machine), and peak RSS, with the
 * memory the measurement added over the idle process.
 *
 *   node --import tsx bench/importers.ts [--steps 1000000] [--runs 3] [--out FILE.json]
 *                                        [--only lightning-csv|tensorboard|tensorboard-tf2]
 *   node --import tsx bench/importers.ts --quick      (CI smoke: tiny sizes, one run, nothing judged)
 *
 * The files are generated once into the OS temp folder and reused. The CSV has what Lightning writes
 * with grad_norm() logged from on_before_optimizer_step and a LearningRateMonitor: a row for the
 * learning rate and a row for the norms and loss per step, validation and epoch rows every 1,000
 * steps, the metrics in full float32 precision as Lightning prints them. The event files have what a
 * Hugging Face run writes per logged step: grad_norm, loss, learning_rate and epoch, one event each,
 * stored as PyTorch's writers do (`tensorboard`) and as TF2's tf.summary does (`tensorboard-tf2`).
 */
import { execFileSync } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { convertToRunLog, ConvertOptions } from '../src/importers/convert';
import { readLog } from '../src/importers/readLog';
import { decodeEvent, stepNumber } from '../src/importers/tensorboard/eventSchema';
import { DT_FLOAT, encodeEvent, frameRecord, ValueSpec } from '../test/helpers/tfeventsWriter';
import { median } from './stats';

const METHODS = ['import', 'import-one-thread', 'read', 'naive'] as const;
type Method = (typeof METHODS)[number];
type Format = 'lightning-csv' | 'tensorboard' | 'tensorboard-tf2';

interface Measurement {
  ms: number;
  cpuMs: number;
  peakRssMB: number;
  startRssMB: number;
  steps: number;
  /** What a worker thread did: wrote the run log (`writer`), or converted half a table (`two parts`). */
  offThread: string;
}

// ---- the files ----
const LAYERS = ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias'];

async function writeInChunks(
  file: string,
  produce: (push: (chunk: string | Buffer) => Promise<void>) => Promise<void>,
): Promise<void> {
  const partial = `${file}.partial`;
  const out = createWriteStream(partial);
  await produce(async (chunk) => {
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  });
  await new Promise<void>((resolve) => {
    out.end(() => resolve());
  });
  renameSync(partial, file);
}

/**
 * A float32 tensor's value as Lightning's CSVLogger writes it: `.item()` gives a Python float, whose
 * repr (like JavaScript's String) is the shortest text of that double: 16-17 digits, as in real
 * metrics.csv files (`7.628580570220947`). The learning rate is logged as a Python float ("0.05").
 */
function loggedTensor(value: number): string {
  return String(Math.fround(value));
}

async function lightningCsv(file: string, steps: number): Promise<void> {
  await writeInChunks(file, async (push) => {
    const norms = LAYERS.map((l) => `grad_2.0_norm/${l}`).join(',');
    let text = `epoch,${norms},grad_2.0_norm_total,lr-SGD,step,train_loss_epoch,train_loss_step,val_loss\n`;
    for (let s = 0; s < steps; s++) {
      const epoch = Math.floor(s / 1000);
      const layers = LAYERS.map((_, i) => loggedTensor(0.1 + ((s * (i + 3)) % 97) / 100)).join(',');
      text += `,,,,,,0.05,${s},,,\n${epoch},${layers},${loggedTensor(1 + (s % 89) / 50)},,${s},,${loggedTensor(2 - s / steps)},\n`;
      if (s % 1000 === 999)
        text += `${epoch},,,,,,,${s},,,${loggedTensor(1.5 + s / steps)}\n${epoch},,,,,,,${s},${loggedTensor(1.7 - s / steps)},,\n`;
      if (text.length > 1 << 20) {
        await push(text);
        text = '';
      }
    }
    await push(text);
  });
}

/**
 * An event file with the tags a Hugging Face run logs per step, one event each: as PyTorch's writers
 * store them (`simple_value`), or as TF2's tf.summary.scalar does (a one-element float tensor in
 * `tensor_content`, with the scalars plugin's metadata on every event, as TF 2.21 writes it).
 */
async function eventFile(file: string, steps: number, tf2: boolean): Promise<void> {
  await writeInChunks(file, async (push) => {
    let chunks: Buffer[] = [frameRecord(encodeEvent({ step: 0, wallTime: 1.7e9, fileVersion: 'brain.Event:2' }))];
    let bytes = 0;
    for (let s = 0; s < steps; s++) {
      const values: [string, number][] = [
        ['train/grad_norm', 1 + (s % 89) / 50],
        ['train/loss', 2 - s / steps],
        ['train/learning_rate', 5e-5],
        ['train/epoch', s / 1000],
      ];
      for (const [tag, v] of values) {
        const value: ValueSpec = tf2
          ? { tag, tensor: { dtype: DT_FLOAT, content: float32Bytes(v) }, plugin: 'scalars' }
          : { tag, simple: v };
        const record = frameRecord(encodeEvent({ step: s, wallTime: 1.7e9 + s / 10, values: [value] }));
        chunks.push(record);
        bytes += record.length;
      }
      if (bytes > 1 << 20) {
        await push(Buffer.concat(chunks));
        chunks = [];
        bytes = 0;
      }
    }
    await push(Buffer.concat(chunks));
  });
}

function float32Bytes(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeFloatLE(v);
  return b;
}

// ---- the naive readers: everything in memory, split and parsed ----
function naiveCsv(file: string): number {
  const lines = readFileSync(file, 'utf8').split('\n');
  const header = lines[0].split(',');
  const stepAt = header.indexOf('step');
  const totalAt = header.indexOf('grad_2.0_norm_total');
  const steps: { step: number; total: number }[] = [];
  for (let i = 1; i < lines.length; i++) {
    const cells = lines[i].split(',');
    if (cells[totalAt] === undefined || cells[totalAt] === '') continue;
    steps.push({ step: Number(cells[stepAt]), total: Number(cells[totalAt]) });
  }
  return steps.length;
}

function naiveEvents(file: string): number {
  const data = readFileSync(file);
  const steps: { step: number; total: number }[] = [];
  for (let at = 0; at + 12 <= data.length;) {
    const length = Number(data.readBigUInt64LE(at));
    const event = decodeEvent(data.subarray(at + 12, at + 12 + length));
    for (const v of event.summary?.value ?? []) {
      if (v.tag !== 'train/grad_norm') continue;
      const content = v.tensor?.tensor_content;
      const total = content ? Buffer.from(content).readFloatLE(0) : v.simple_value;
      steps.push({ step: stepNumber(event.step), total });
    }
    at += 12 + length + 4;
  }
  return steps.length;
}

// ---- one measurement, in a child process ----
async function measure(method: Method, format: Format, file: string): Promise<Measurement> {
  const startRssMB = process.memoryUsage().rss / 2 ** 20;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let steps = 0;
  let offThread = '';
  if (method === 'naive') steps = format === 'lightning-csv' ? naiveCsv(file) : naiveEvents(file);
  else if (method === 'read')
    await readLog(file, (m) => {
      if (m.type === 'step') steps++;
    });
  else {
    const out = path.join(tmpdir(), `gm-bench-import-${process.pid}.jsonl`);
    // The bundled workers, as the CLI and the extension start them (from source they would load tsx first).
    const bundled = (name: string): string | undefined => {
      const script = path.join(__dirname, '..', 'dist', `${name}.js`);
      return existsSync(script) ? script : undefined;
    };
    const opts: ConvertOptions =
      method === 'import-one-thread'
        ? { parallel: { workers: 0 } }
        : {
            writer: { workerScript: bundled('runLogWriteWorker') },
            tableInTwo: { workerScript: bundled('tableImportWorker') },
          };
    try {
      const conversion = await convertToRunLog(file, out, { overwrite: true, ...opts });
      offThread = conversion.writtenOffThread ? 'writer' : conversion.inTwoParts ? 'two parts' : '';
      steps = conversion.steps;
    } finally {
      rmSync(out, { force: true });
    }
  }
  const cpu = process.cpuUsage(cpu0);
  return {
    ms: performance.now() - t0,
    cpuMs: (cpu.user + cpu.system) / 1000,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    startRssMB,
    steps,
    offThread,
  };
}

function inChild(method: Method, format: Format, file: string): Measurement {
  const out = execFileSync(process.execPath, ['--import', 'tsx', __filename, '--child', method, format, file], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  return JSON.parse(out.trim().split('\n').at(-1)!) as Measurement;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      child: { type: 'boolean' },
      quick: { type: 'boolean' },
      steps: { type: 'string' },
      runs: { type: 'string' },
      only: { type: 'string' },
      out: { type: 'string' },
    },
  });
  if (values.child) {
    const [method, format, file] = positionals as [Method, Format, string];
    process.stdout.write(JSON.stringify(await measure(method, format, file)) + '\n');
    return;
  }
  const steps = Number(values.steps ?? (values.quick ? 20_000 : 1_000_000));
  const runs = Number(values.runs ?? (values.quick ? 1 : 3));
  const dir = path.join(tmpdir(), 'gradient-monitor-bench');
  mkdirSync(dir, { recursive: true });
  const allFiles: Record<Format, string> = {
    'lightning-csv': path.join(dir, `lightning-float32-${steps}`, 'version_0', 'metrics.csv'),
    tensorboard: path.join(dir, `tensorboard-${steps}`, `events.out.tfevents.1700000000.bench.${steps}.0`),
    'tensorboard-tf2': path.join(dir, `tensorboard-tf2-${steps}`, `events.out.tfevents.1700000000.bench.${steps}.0.v2`),
  };
  if (values.only && !(values.only in allFiles))
    throw new Error(`--only takes ${Object.keys(allFiles).join(' or ')}, not "${values.only}"`);
  const files = Object.fromEntries(
    Object.entries(allFiles).filter(([format]) => !values.only || format === values.only),
  ) as Partial<Record<Format, string>>;
  for (const [format, file] of Object.entries(files) as [Format, string][]) {
    if (existsSync(file)) continue;
    mkdirSync(path.dirname(file), { recursive: true });
    process.stderr.write(`writing ${file}\n`);
    await (format === 'lightning-csv'
      ? lightningCsv(file, steps)
      : eventFile(file, steps, format === 'tensorboard-tf2'));
  }

  const results: Record<string, unknown>[] = [];
  console.log(
    `| file | reader | MB | median s | MB/s (wall) | x naive (wall) | MB/s (CPU) | x naive (CPU) | peak RSS MB | added MB | steps | worker |`,
  );
  console.log(`| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |`);
  for (const [format, file] of Object.entries(files) as [Format, string][]) {
    const mb = statSync(file).size / 1e6;
    const byMethod = new Map<Method, Measurement[]>();
    for (let r = 0; r < runs; r++)
      for (const m of METHODS) byMethod.set(m, [...(byMethod.get(m) ?? []), inChild(m, format, file)]);
    const naiveCpu = median(byMethod.get('naive')!.map((x) => x.cpuMs));
    const naiveMs = median(byMethod.get('naive')!.map((x) => x.ms));
    for (const m of METHODS) {
      const xs = byMethod.get(m)!;
      const row = {
        format,
        method: m,
        mb,
        ms: median(xs.map((x) => x.ms)),
        cpuMs: median(xs.map((x) => x.cpuMs)),
        peakRssMB: median(xs.map((x) => x.peakRssMB)),
        addedMB: median(xs.map((x) => x.peakRssMB - x.startRssMB)),
        steps: xs[0].steps,
        offThread: xs[0].offThread,
      };
      results.push(row);
      console.log(
        `| ${format} | ${m} | ${mb.toFixed(1)} | ${(row.ms / 1000).toFixed(2)} | ${(mb / (row.ms / 1000)).toFixed(1)} | ${(naiveMs / row.ms).toFixed(2)} | ${(mb / (row.cpuMs / 1000)).toFixed(1)} | ${(naiveCpu / row.cpuMs).toFixed(2)} | ${row.peakRssMB.toFixed(0)} | ${row.addedMB.toFixed(0)} | ${row.steps} | ${row.offThread} |`,
      );
    }
  }
  if (values.out) {
    writeFileSync(values.out, JSON.stringify({ steps, runs, at: new Date().toISOString(), results }, null, 2));
  }
}

void main();
