/**
 * Property-based tests of the parser and validator with random and mutated frames: nothing thrown,
 * every valid message of a batch kept, every refusal reported where it belongs, memory bounded.
 * The total number of generated cases is printed at the end (RELIABILITY.md quotes it).
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { logFileName, logFilePath } from '../../src/logs/paths';
import type { LogLine } from '../../src/protocol/frame';
import { parseJsonAllowingNonFinite } from '../../src/protocol/json';
import { ErrorCode } from '../../src/protocol/messages';
import { decodeFrame, DEFAULT_VALIDATION_LIMITS, validateMessage } from '../../src/protocol/validate';
import { LimitError, RunStore } from '../../src/runs/runStore';
import { Series } from '../../src/runs/series';
import { StepSet } from '../../src/runs/stepSet';
import { tokensEqual } from '../../src/server/auth';
import {
  anyNumber,
  canonical,
  invalidItem,
  mutate,
  mutation,
  pythonDumps,
  trickyString,
  validMessage,
} from '../helpers/fuzz';

const CODES: ErrorCode[] = [
  'bad_json',
  'bad_message',
  'unknown_type',
  'too_many_messages',
  'rate_limited',
  'limit_exceeded',
  'recording_failed',
];
let cases = 0;
let randomSteps = 0;

/** fc.assert with a case counter. */
function check<T>(arb: fc.Arbitrary<T>, numRuns: number, body: (v: T) => void): void {
  fc.assert(
    fc.property(arb, (v) => {
      cases++;
      body(v);
    }),
    { numRuns },
  );
}

/**
 * The decoder's output is well formed whatever the input: messages re-validate, a message's
 * verbatim text (what the log records) is one line that reads back as the very same message, and
 * errors are errors.
 */
function assertWellFormed(
  frame: Pick<ReturnType<typeof decodeFrame>, 'messages' | 'errors'> & { verbatim?: (LogLine | undefined)[] },
): void {
  for (const m of frame.messages) assert.ok('ok' in validateMessage(JSON.parse(pythonDumps(m, true))), canonical(m));
  frame.verbatim?.forEach((line, i) => {
    if (line === undefined) return;
    const text = typeof line === 'string' ? line : Buffer.from(line).toString('utf8');
    assert.ok(!/[\n\r]/.test(text), 'a log line holds one message');
    const back = validateMessage(parseJsonAllowingNonFinite(text));
    assert.ok('ok' in back);
    assert.equal(canonical(back.ok), canonical(frame.messages[i]));
  });
  for (const e of frame.errors) {
    assert.equal(e.type, 'error');
    assert.ok(CODES.includes(e.code), e.code);
    assert.equal(typeof e.message, 'string');
    assert.ok(e.message.length < 400, 'error messages quote at most a short excerpt of the input');
  }
}

describe('fuzz: parser and validator', () => {
  test('valid messages round-trip, non-finite values as bare Python tokens or as strings', () => {
    check(
      fc.tuple(fc.array(validMessage, { minLength: 1, maxLength: 20 }), fc.boolean()),
      1500,
      ([batch, asStrings]) => {
        const { messages, errors } = decodeFrame(pythonDumps(batch, asStrings));
        assert.deepEqual(errors, []);
        assert.deepEqual(messages.map(canonical), batch.map(canonical));
      },
    );
  });

  test('one message per line, and frames handed over with their bytes, decode exactly like arrays', () => {
    const item = fc.oneof(
      validMessage.map((m) => ({ ok: true as const, m })),
      invalidItem.map((m) => ({ ok: false as const, m })),
    );
    check(
      fc.tuple(fc.array(item, { minLength: 1, maxLength: 30 }), fc.constantFrom('\n', '\r\n', '\n\n')),
      1500,
      ([items, separator]) => {
        fc.pre(items.length > 1 || !Array.isArray(items[0].m)); // a lone line that is an array is an array frame
        const array = decodeFrame(pythonDumps(items.map((i) => i.m)));
        const linesText = items.map((i) => pythonDumps(i.m)).join(separator);
        for (const frame of [decodeFrame(linesText), decodeFrame(linesText, {}, Buffer.from(linesText))]) {
          assert.deepEqual(frame.messages.map(canonical), array.messages.map(canonical));
          // A lone message is no batch, so its errors carry no index.
          assert.deepEqual(
            frame.errors.map((e) => [e.code, e.index]),
            array.errors.map((e) => [e.code, items.length > 1 ? e.index : undefined]),
          );
          assertWellFormed(frame);
        }
      },
    );
  });

  test('a batch mixing valid and invalid items keeps every valid one, in order, and reports each invalid one by index', () => {
    const item = fc.oneof(
      validMessage.map((m) => ({ ok: true as const, m })),
      invalidItem.map((m) => ({ ok: false as const, m })),
    );
    check(fc.array(item, { minLength: 1, maxLength: 30 }), 1500, (items) => {
      const { messages, errors } = decodeFrame(pythonDumps(items.map((i) => i.m)));
      assert.deepEqual(
        messages.map(canonical),
        items.filter((i) => i.ok).map((i) => canonical(i.m)),
      );
      assert.deepEqual(
        errors.map((e) => e.index),
        items.flatMap((i, index) => (i.ok ? [] : [index])),
      );
      assertWellFormed({ messages, errors });
    });
  });

  test('mutated frames never throw and never yield an invalid message', () => {
    check(
      fc.tuple(
        fc.array(validMessage, { minLength: 1, maxLength: 5 }),
        fc.array(mutation, { minLength: 1, maxLength: 6 }),
      ),
      3000,
      ([batch, edits]) => {
        assertWellFormed(decodeFrame(mutate(pythonDumps(batch), edits)));
      },
    );
  });

  test('random text, JSON of any shape and invalid UTF-8 bytes never throw', () => {
    check(fc.string({ unit: 'binary', maxLength: 200 }), 1000, (text) => assertWellFormed(decodeFrame(text)));
    check(fc.jsonValue({ maxDepth: 6 }), 1000, (v) => assertWellFormed(decodeFrame(JSON.stringify(v))));
    check(fc.anything({ maxDepth: 4 }), 500, (v) => {
      const text = (() => {
        try {
          return JSON.stringify(v) ?? 'undefined';
        } catch {
          return String(typeof v);
        }
      })();
      assertWellFormed(decodeFrame(text));
    });
    // Bytes as the server decodes a text frame: invalid UTF-8 becomes U+FFFD, the rest still parses.
    check(
      fc.tuple(validMessage, fc.uint8Array({ min: 0x80, max: 0xff, minLength: 1, maxLength: 8 })),
      1000,
      ([m, junk]) => {
        const bytes = Buffer.concat([
          Buffer.from(`[${pythonDumps(m)},{"type":"run_start","run_id":"`),
          Buffer.from(junk),
          Buffer.from('"}]'),
        ]);
        const frame = decodeFrame(bytes.toString('utf8'));
        assertWellFormed(frame);
        assert.equal(canonical(frame.messages[0]), canonical(m), 'the valid message before the invalid bytes lands');
      },
    );
  });

  test('NaN and Infinity inside strings stay text; bare ones become numbers', () => {
    check(fc.tuple(trickyString, trickyString, anyNumber), 2000, ([name, note, total]) => {
      const text = pythonDumps({ type: 'run_start', run_id: 'r', name, meta: { note, total } });
      const parsed = parseJsonAllowingNonFinite(text) as { name: string; meta: { note: string; total: unknown } };
      assert.equal(parsed.name, name);
      assert.equal(parsed.meta.note, note);
      assert.equal(canonical(parsed.meta.total), canonical(total));
    });
  });

  test('hostile shapes: deep nesting, huge numbers, long strings, wrong types', () => {
    const deepArray = '['.repeat(200_000) + ']'.repeat(200_000);
    const deepObject = '{"a":'.repeat(200_000) + '1' + '}'.repeat(200_000);
    const deepMeta = (depth: number): string =>
      `{"type":"run_start","run_id":"r","meta":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`;
    const examples: [string, (f: ReturnType<typeof decodeFrame>) => void][] = [
      [deepArray, (f) => assert.match(f.errors[0].message, /must be a JSON object, got an array/)],
      [`[${deepArray.slice(1)}`, (f) => assert.equal(f.errors.length, 1)],
      [deepObject, (f) => assert.match(f.errors[0].message, /must be a string/)],
      [deepMeta(100_000), (f) => assert.match(f.errors[0].message, /nested more than 32 levels/)],
      [deepMeta(DEFAULT_VALIDATION_LIMITS.maxMetaDepth - 1), (f) => assert.equal(f.messages.length, 1)],
      [
        `{"type":"run_start","run_id":"r","meta":{"big":"${'x'.repeat(70_000)}"}}`,
        (f) => assert.match(f.errors[0].message, /limit is 65536/),
      ],
      [
        '{"type":"step","run_id":"r","step":1,"total_norm":1e999}',
        (f) => assert.equal(f.messages[0].type === 'step' && f.messages[0].total_norm, Infinity),
      ],
      [
        '{"type":"step","run_id":"r","step":1,"total_norm":-1e999,"loss":1e-999}',
        (f) => assert.equal(f.messages.length, 1),
      ],
      [
        '{"type":"step","run_id":"r","step":1e999,"total_norm":1}',
        (f) => assert.match(f.errors[0].message, /step\.step must be an integer/),
      ],
      [
        '{"type":"step","run_id":"r","step":123456789012345678901234567890,"total_norm":1}',
        (f) => assert.equal(f.errors.length, 1),
      ],
      ['{"type":"step","run_id":"r","step":9007199254740993,"total_norm":1}', (f) => assert.equal(f.errors.length, 1)],
      ['{"type":"step","run_id":"r","step":-0,"total_norm":-0}', (f) => assert.equal(f.messages.length, 1)],
      [
        '{"type":"step","run_id":"r","step":1,"total_norm":NaN,"seq":NaN}',
        (f) => assert.match(f.errors[0].message, /seq must be an integer/),
      ],
      [
        '{"type":"step","run_id":"r","step":NaN,"total_norm":1}',
        (f) => assert.match(f.errors[0].message, /step\.step/),
      ],
      ['{"type":"step","run_id":"r","step":1,"total_norm":nan}', (f) => assert.equal(f.errors[0].code, 'bad_json')],
      [
        '{"type":"step","run_id":"r","step":1,"total_norm":Infinity1}',
        (f) => assert.equal(f.errors[0].code, 'bad_json'),
      ],
      [
        '{"type":"step","run_id":"NaN","step":1,"total_norm":NaNNaN}',
        (f) => assert.equal(f.errors[0].code, 'bad_json'),
      ],
      [
        `{"type":"step","run_id":"${'r'.repeat(1_000_000)}","step":1,"total_norm":1}`,
        (f) => assert.match(f.errors[0].message, /1000000 characters long, the limit is 1024/),
      ],
      [
        `{"type":"run_start","run_id":"r","name":"${'n'.repeat(1_000_000)}","layers":["${'l'.repeat(100_000)}"]}`,
        (f) => {
          const m = f.messages[0];
          assert.ok(m.type === 'run_start' && m.name!.length === 1024 && m.layers![0].length === 1024);
        },
      ],
      [
        JSON.stringify({ type: 'run_start', run_id: 'r', layers: new Array(10_001).fill('l') }),
        (f) => assert.match(f.errors[0].message, /10001 entries, the limit is 10000/),
      ],
      [
        JSON.stringify({ type: 'step', run_id: 'r', step: 0, total_norm: 0, layer_norms: new Array(10_001).fill(1) }),
        (f) => assert.match(f.errors[0].message, /limit is 10000/),
      ],
      [
        '{"type":"step","run_id":"r","step":1,"total_norm":1,"__proto__":{"polluted":true}}',
        (f) => assert.equal(({} as Record<string, unknown>).polluted, undefined, String(f.messages.length)),
      ],
      [
        '{"type":"run_start","run_id":"r","meta":{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}}}',
        (f) => assert.equal(f.messages.length, 1),
      ],
      ['', (f) => assert.equal(f.errors[0].code, 'bad_json')],
      ['[]', (f) => assert.deepEqual([f.messages, f.errors], [[], []])],
      ['null', (f) => assert.match(f.errors[0].message, /must be a JSON object, got null/)],
      ['"\\ud800"', (f) => assert.equal(f.errors.length, 1)],
    ];
    for (const [text, expect] of examples) {
      cases++;
      const frame = decodeFrame(text);
      assertWellFormed(frame);
      expect(frame);
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test('a frame of 100,000 messages is decoded whole; 100,001 is refused with one error', () => {
    const steps = Array.from({ length: 100_000 }, (_, step) => ({
      type: 'step',
      run_id: 'big',
      step,
      total_norm: step % 97 === 0 ? NaN : step,
      seq: step,
    }));
    const full = decodeFrame(pythonDumps(steps));
    assert.equal(full.messages.length, 100_000);
    assert.equal(full.errors.length, 0);
    const over = decodeFrame(pythonDumps([...steps, steps[0]]));
    assert.deepEqual([over.messages.length, over.errors.length, over.errors[0].code], [0, 1, 'too_many_messages']);
    // Half of them broken: the other half all land.
    const half = decodeFrame(pythonDumps(steps.map((s, i) => (i % 2 ? { ...s, step: -1 } : s))));
    assert.deepEqual([half.messages.length, half.errors.length], [50_000, 50_000]);
    cases += 3;
  });
});

describe('fuzz: names, tokens and dedupe', () => {
  test('no run id, however hostile, names a file outside the log folder or a device', () => {
    const hostile = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc
        .array(
          fc.constantFrom(
            '..',
            '.',
            '/',
            '\\',
            'C:',
            'con',
            'NUL',
            'com1',
            'LPT9',
            'aux.txt',
            '\u0000',
            ' ',
            '%2e%2e',
            '~',
            '$HOME',
            'a',
          ),
          { maxLength: 10 },
        )
        .map((p) => p.join('')),
    );
    const dir = path.resolve('/var/logs/gm');
    check(hostile, 3000, (id) => {
      const name = logFileName(id);
      assert.match(name, /^[A-Za-z0-9_][A-Za-z0-9._-]{0,80}-[0-9a-f]{10}\.jsonl$/);
      assert.ok(!/^(con|prn|aux|nul|com\d|lpt\d)(\.|-|$)/i.test(name), name);
      assert.equal(path.dirname(logFilePath(dir, id)), dir);
      assert.equal(path.win32.dirname(path.win32.join('C:\\logs', name)), 'C:\\logs', 'also safe as a Windows name');
    });
    check(fc.tuple(fc.string({ maxLength: 30 }), fc.string({ maxLength: 30 })), 2000, ([a, b]) => {
      if (a !== b) assert.notEqual(logFileName(a), logFileName(b));
    });
  });

  test('token comparison is equality, whatever the strings', () => {
    check(
      fc.tuple(fc.string({ unit: 'binary', maxLength: 64 }), fc.string({ unit: 'binary', maxLength: 64 })),
      2000,
      ([a, b]) => {
        assert.equal(tokensEqual(a, b), a === b);
        assert.equal(tokensEqual(a, a), true);
      },
    );
  });

  test('the step set agrees with a plain Set, sparse or dense', () => {
    const steps = fc.array(fc.oneof(fc.nat(300_000), fc.maxSafeNat(), fc.integer({ min: 65_000, max: 66_000 })), {
      maxLength: 3000,
      size: 'max',
    });
    check(steps, 300, (list) => {
      const set = new StepSet();
      const model = new Set<number>();
      for (const s of list) assert.equal(set.add(s), !model.has(s) && (model.add(s), true));
      assert.equal(set.size, model.size);
      for (const s of list) assert.ok(set.has(s));
      for (const s of list) assert.equal(set.has(s + 1), model.has(s + 1));
    });
  });

  test('a series keeps the last steps at full resolution and accounts for every step', () => {
    const limits = { recentSteps: 300, envelopeBuckets: 16, layerValueBudget: 10_000 };
    check(fc.tuple(fc.nat(1500), fc.nat(5)), 300, ([n, layers]) => {
      const s = new Series(layers, limits);
      for (let step = 0; step < n; step++) s.append({ step, total: step, layers: new Array(layers).fill(step) });
      const kept = Math.min(n, s.capacity);
      assert.equal(s.recentSize, kept);
      for (let k = 0; k < kept; k++) {
        const p = s.recent(k);
        assert.equal(p.step, n - kept + k);
        if (layers > 0) assert.equal(p.layers![layers - 1], n - kept + k);
      }
      assert.equal(
        s.points().reduce((c, p) => c + p.count, 0),
        n,
      );
    });
  });
});

describe('fuzz: memory stays bounded', () => {
  test('hostile steps (scattered step numbers, many ranks and runs) cost memory in proportion to what is kept', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const store = new RunStore({ maxRuns: 8 });
    const used = (): number => {
      gc();
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const before = used();
    const rng = fc.sample(fc.tuple(fc.nat(7), fc.nat(15), fc.maxSafeNat(), anyNumber), { numRuns: 100_000, seed: 42 });
    let refused = 0;
    for (const [run, rank, step, total] of rng) {
      try {
        store
          .getOrCreate(`run-${run}`)
          .step({ type: 'step', run_id: `run-${run}`, step, rank, total_norm: total, layer_norms: [total, total] });
      } catch (e) {
        assert.ok(e instanceof LimitError);
        refused++;
      }
    }
    const grown = used() - before;
    randomSteps += rng.length;
    // 100,000 scattered steps used to cost a 8 KiB dedupe page each (800 MB); now a few bytes each.
    assert.ok(grown < 64 * 1024 * 1024, `grew ${(grown / 1e6).toFixed(1)} MB`);
    assert.equal(refused, 0);
    assert.equal(store.size, 8);
  });

  test('fuzz totals', (t) => {
    t.diagnostic(`fuzz cases run: ${cases} generated frames/inputs, plus ${randomSteps} random hostile steps`);
    assert.ok(cases > 10_000);
  });
});
