import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  parseJsonAllowingNonFinite,
  quoteBareNonFinite,
  stringifyKeepingNonFinite,
  toNumber,
} from '../../src/protocol/json';
import { decodeFrame, validateMessage } from '../../src/protocol/validate';
import { splitFrame } from '../../src/protocol/frame';
import fc from 'fast-check';

describe('JSON with non-finite numbers', () => {
  test("accepts Python json.dumps' bare NaN, Infinity and -Infinity", () => {
    const v = parseJsonAllowingNonFinite('{"a": NaN, "b": [Infinity, -Infinity, 1.5]}') as { a: unknown; b: unknown[] };
    assert.equal(v.a, 'NaN');
    assert.deepEqual(v.b, ['Infinity', '-Infinity', 1.5]);
  });

  test('leaves NaN inside strings alone', () => {
    assert.equal(quoteBareNonFinite('{"name": "NaN Infinity \\" NaN", "x": 1}'), undefined);
    const v = parseJsonAllowingNonFinite('{"name": "a \\"NaN\\" b", "x": NaN}') as Record<string, unknown>;
    assert.equal(v.name, 'a "NaN" b');
    assert.equal(v.x, 'NaN');
  });

  test('still rejects JSON that is broken for other reasons', () => {
    assert.throws(() => parseJsonAllowingNonFinite('{"x": NaN,'));
    assert.throws(() => parseJsonAllowingNonFinite('{"x": nan}'));
  });

  test('toNumber maps the non-finite strings and nothing else', () => {
    assert.ok(Number.isNaN(toNumber('NaN')));
    assert.equal(toNumber('Infinity'), Infinity);
    assert.equal(toNumber('-Infinity'), -Infinity);
    assert.equal(toNumber('1.0'), undefined);
    assert.equal(toNumber(null), undefined);
  });

  test('stringify keeps non-finite numbers as strings and round-trips', () => {
    const text = stringifyKeepingNonFinite({ a: NaN, b: [Infinity, -Infinity, 2], c: null });
    assert.equal(text, '{"a":"NaN","b":["Infinity","-Infinity",2],"c":null}');
    assert.equal(stringifyKeepingNonFinite({ a: 1 }), '{"a":1}');
  });
});

describe('message validation', () => {
  test('a step with NaN tokens validates into real non-finite numbers', () => {
    const { messages, errors } = decodeFrame(
      '{"type":"step","run_id":"r","step":3,"total_norm":NaN,"layer_norms":[1,Infinity,"-Infinity"],"loss":"NaN"}',
    );
    assert.deepEqual(errors, []);
    const m = messages[0];
    assert.equal(m.type, 'step');
    if (m.type !== 'step') return;
    assert.ok(Number.isNaN(m.total_norm));
    assert.deepEqual(m.layer_norms, [1, Infinity, -Infinity]);
    assert.ok(Number.isNaN(m.loss!));
  });

  test('layer norms: plain numbers are taken as they are, non-finite strings converted on a copy', () => {
    const plain = [1, 2.5];
    const ok = validateMessage({ type: 'step', run_id: 'r', step: 0, total_norm: 1, layer_norms: plain }) as {
      ok: { layer_norms: number[] };
    };
    assert.deepEqual(ok.ok.layer_norms, [1, 2.5]);
    const mixed = [1, 'NaN', 'Infinity'];
    const converted = validateMessage({ type: 'step', run_id: 'r', step: 0, total_norm: 1, layer_norms: mixed }) as {
      ok: { layer_norms: number[] };
    };
    assert.deepEqual(converted.ok.layer_norms, [1, NaN, Infinity]);
    assert.deepEqual(mixed, [1, 'NaN', 'Infinity'], 'the input is not changed');
  });

  test('run_start and run_end with every field', () => {
    const r = validateMessage({
      type: 'run_start',
      run_id: 'r',
      name: 'n',
      framework: 'jax',
      layers: ['a', 'b'],
      threshold: 5,
      meta: { pid: 1 },
      extra: 'ignored',
    });
    assert.deepEqual(r, {
      ok: {
        type: 'run_start',
        run_id: 'r',
        name: 'n',
        framework: 'jax',
        layers: ['a', 'b'],
        threshold: 5,
        meta: { pid: 1 },
      },
    });
    assert.deepEqual(validateMessage({ type: 'run_end', run_id: 'r', status: 'failed', message: 'oom' }), {
      ok: { type: 'run_end', run_id: 'r', status: 'failed', message: 'oom' },
    });
  });

  test('a step without total_norm is "not measured" only when it carries a loss or lr; a wrong type is refused', () => {
    assert.deepEqual(validateMessage({ type: 'step', run_id: 'r', step: 25, loss: 0.3, lr: 1e-4 }), {
      ok: { type: 'step', run_id: 'r', step: 25, loss: 0.3, lr: 1e-4 },
    });
    assert.deepEqual(validateMessage({ type: 'step', run_id: 'r', step: 25, lr: 1e-4 }), {
      ok: { type: 'step', run_id: 'r', step: 25, lr: 1e-4 },
    });
    const { messages, verbatim } = decodeFrame('{"type":"step","run_id":"r","step":1,"loss":NaN}');
    assert.equal(messages.length, 1);
    assert.ok(!('total_norm' in messages[0]));
    assert.equal(verbatim[0], undefined, 'a rewritten NaN token is logged as a string, as for any step');
    const refused: [unknown, RegExp][] = [
      [{ type: 'step', run_id: 'r', step: 1 }, /step\.total_norm must be a number .*got nothing/],
      [{ type: 'step', run_id: 'r', step: 1, loss: null }, /step\.total_norm must be a number .*got nothing/],
      [
        { type: 'step', run_id: 'r', step: 1, loss: 1, total_norm: null },
        /step\.total_norm must be a number .*got null/,
      ],
      [{ type: 'step', run_id: 'r', step: 1, loss: 1, total_norm: 'x' }, /step\.total_norm must be a number .*"x"/],
      [{ type: 'step', run_id: 'r', step: 1, loss: 1, layer_norms: [1] }, /step\.layer_norms needs a step\.total_norm/],
      [{ type: 'step', run_id: 'r', step: 1, loss: 'low' }, /step\.loss must be a number/],
    ];
    for (const [input, pattern] of refused) {
      const r = validateMessage(input);
      assert.ok('error' in r, `expected an error for ${JSON.stringify(input)}`);
      assert.match(r.error, pattern);
    }
  });

  test('errors name the field and what was wrong', () => {
    const cases: [unknown, RegExp][] = [
      [{ type: 'step', run_id: 'r', step: -1, total_norm: 1 }, /step\.step must be an integer >= 0/],
      [{ type: 'step', run_id: 'r', step: 1.5, total_norm: 1 }, /step\.step must be an integer/],
      [{ type: 'step', run_id: 'r', step: 1, total_norm: '1' }, /total_norm must be a number.*the string "1"/],
      [{ type: 'step', run_id: 'r', step: 1, total_norm: 1, layer_norms: [1, 'x'] }, /layer_norms\[1\]/],
      [{ type: 'step', step: 1, total_norm: 1 }, /run_id must be a non-empty string/],
      [{ type: 'run_start', run_id: 'r', framework: 'mxnet' }, /framework must be one of/],
      [{ type: 'run_start', run_id: 'r', threshold: 'NaN' }, /threshold must be a positive number/],
      [{ type: 'run_end', run_id: 'r', status: 'done' }, /status must be one of completed, failed, interrupted/],
      [{ type: 'hello' }, /unknown message type "hello"/],
      [[1], /must be a JSON object, got an array/],
      [{ type: 'step', run_id: 'r', step: 1, total_norm: 1, clipped: 'yes' }, /clipped must be true or false/],
    ];
    for (const [input, pattern] of cases) {
      const r = validateMessage(input);
      assert.ok('error' in r, `expected an error for ${JSON.stringify(input)}`);
      assert.match(r.error, pattern);
    }
  });

  test('a bad message in a batch is reported by index and the rest survive', () => {
    const frame = JSON.stringify([
      { type: 'step', run_id: 'r', step: 0, total_norm: 1, seq: 0 },
      { type: 'step', run_id: 'r', step: 'one', total_norm: 1, seq: 1 },
      { type: 'nope', run_id: 'r', seq: 2 },
      { type: 'step', run_id: 'r', step: 2, total_norm: 3, seq: 3 },
    ]);
    const { messages, errors } = decodeFrame(frame);
    assert.deepEqual(
      messages.map((m) => m.seq),
      [0, 3],
    );
    assert.deepEqual(
      errors.map((e) => [e.index, e.code, e.seq, e.run_id]),
      [
        [1, 'bad_message', 1, 'r'],
        [2, 'unknown_type', 2, 'r'],
      ],
    );
  });

  test('broken JSON and oversized batches give one clear error', () => {
    assert.equal(decodeFrame('{"type":').errors[0].code, 'bad_json');
    const big = JSON.stringify(
      Array.from({ length: 11 }, (_, i) => ({ type: 'step', run_id: 'r', step: i, total_norm: 1 })),
    );
    const r = decodeFrame(big, { maxBatch: 10, maxLayers: 10, maxStringLength: 10 });
    assert.equal(r.messages.length, 0);
    assert.equal(r.errors[0].code, 'too_many_messages');
  });

  test('limits on layers and string lengths', () => {
    const limits = { maxBatch: 10, maxLayers: 2, maxStringLength: 4 };
    assert.match(
      (validateMessage({ type: 'run_start', run_id: 'r', layers: ['a', 'b', 'c'] }, limits) as { error: string }).error,
      /limit is 2/,
    );
    assert.match(
      (validateMessage({ type: 'step', run_id: 'toolong', step: 0, total_norm: 0 }, limits) as { error: string }).error,
      /limit is 4/,
    );
  });
});

describe('frame splitting', () => {
  const texts = (frame: string): string[] => splitFrame(frame)!.elements.map((e) => e.text);

  test('splits a batch into message texts, respecting strings and nesting', () => {
    const frame = ' [ {"a":"x,]}\\"[","b":[1,{"c":[2,3]}]} ,{"d":NaN}\n,{"e":1} ] ';
    const split = splitFrame(frame)!;
    assert.deepEqual(texts(frame), ['{"a":"x,]}\\"[","b":[1,{"c":[2,3]}]}', '{"d":NaN}', '{"e":1}']);
    assert.deepEqual(
      split.elements.map((e) => frame.slice(e.start, e.start + e.text.length)),
      texts(frame),
      'start locates each text in the frame',
    );
    assert.equal(split.batched, true);
  });

  test('a single object is one message; line breaks inside it prevent verbatim recording', () => {
    assert.deepEqual(splitFrame('{"a":1}'), {
      batched: false,
      lines: false,
      elements: [{ text: '{"a":1}', start: 0, verbatim: true }],
    });
    assert.deepEqual(splitFrame('{"a":1}\n'), {
      batched: false,
      lines: false,
      elements: [{ text: '{"a":1}', start: 0, verbatim: true }],
    });
    assert.equal(splitFrame('[{"a":\n1}]')!.elements[0].verbatim, false);
    assert.deepEqual(splitFrame('[]')!.elements, []);
  });

  test('messages one per line are split at line feeds; blank lines are skipped, carriage returns are not verbatim', () => {
    const frame = '{"a":"[,{"}\n\n  {"b":[1,2]} \r\n{"c":\r3}\n';
    const split = splitFrame(frame)!;
    assert.equal(split.lines, true);
    assert.equal(split.batched, true);
    assert.deepEqual(
      split.elements.map((e) => [e.text, e.verbatim]),
      [
        ['{"a":"[,{"}', true],
        ['{"b":[1,2]}', true],
        ['{"c":\r3}', false],
      ],
    );
    assert.deepEqual(
      split.elements.map((e) => frame.slice(e.start, e.start + e.text.length)),
      texts(frame),
    );
  });

  test('shapes it cannot split are left to the full parser', () => {
    for (const bad of ['', '1', '"x"', '[1,]', '[,1]', '[1', '{"a":1', '{"a":1} x', '[1] x', '{"a":"unterminated'])
      assert.equal(splitFrame(bad), undefined, bad);
  });

  test('splitting then parsing equals parsing the whole frame, for arrays and for lines (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.dictionary(fc.string(), fc.jsonValue()), { minLength: 1 }), (items) => {
        const expected = JSON.parse(JSON.stringify(items));
        assert.deepEqual(
          texts(JSON.stringify(items)).map((t) => JSON.parse(t)),
          expected,
        );
        assert.deepEqual(
          texts(items.map((m) => JSON.stringify(m)).join('\n')).map((t) => JSON.parse(t)),
          expected,
        );
      }),
      { numRuns: 300 },
    );
  });

  test('a line-delimited frame: bad lines are reported by index, the others decode and stay verbatim', () => {
    const lines = [
      '{"type":"step","run_id":"r","step":0,"total_norm":1}',
      '{"type":"step",,}',
      '{"type":"step","run_id":"r","step":1,"total_norm":NaN}',
      '[1]',
    ];
    const { messages, errors, verbatim } = decodeFrame(lines.join('\n'));
    assert.deepEqual(
      messages.map((m) => m.type === 'step' && m.step),
      [0, 1],
    );
    assert.deepEqual(verbatim, [lines[0], undefined], 'bare NaN is re-encoded as a string');
    assert.deepEqual(
      errors.map((e) => [e.code, e.index]),
      [
        ['bad_json', 1],
        ['bad_message', 3],
      ],
    );
  });

  test('one pretty-printed message over several lines is still one message', () => {
    const { messages, errors, verbatim } = decodeFrame(
      '{\n  "type": "step",\n  "run_id": "r",\n  "step": 4,\n  "total_norm": NaN\n}\n',
    );
    assert.deepEqual(errors, []);
    assert.equal(messages.length, 1);
    assert.deepEqual(verbatim, [undefined]);
  });

  test('decodeFrame reports an unparseable message by index and keeps the others', () => {
    const { messages, errors, verbatim } = decodeFrame(
      '[{"type":"step","run_id":"r","step":0,"total_norm":1},{"type":"step",,},{"type":"step","run_id":"r","step":1,"total_norm":NaN}]',
    );
    assert.equal(messages.length, 2);
    assert.deepEqual(verbatim, ['{"type":"step","run_id":"r","step":0,"total_norm":1}', undefined]);
    assert.equal(errors[0].code, 'bad_json');
    assert.equal(errors[0].index, 1);
  });
});
