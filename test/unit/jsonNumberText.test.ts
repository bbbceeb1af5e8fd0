/** Cells written into a run log as they are: only texts that every JSON reader reads as the same finite number. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isJsonNumberText, jsonNumberText, numberOfJsonText } from '../../src/logs/jsonNumberText';

const jsonNumber = fc.stringMatching(/^-?(0|[1-9][0-9]{0,18})(\.[0-9]{1,19})?([eE][+-]?[0-9]{1,2})?$/);

test('a text taken as it is parses, as JSON, to the finite number Number() reads', () => {
  const check = (text: string): void => {
    if (!isJsonNumberText(text)) return;
    const parsed: unknown = JSON.parse(text);
    assert.equal(typeof parsed, 'number', text);
    assert.ok(Number.isFinite(parsed), text);
    assert.ok(Object.is(parsed, Number(text)), text);
  };
  fc.assert(fc.property(fc.string({ maxLength: 30 }), check));
  fc.assert(fc.property(jsonNumber, check));
  fc.assert(fc.property(fc.double(), (v) => check(String(v))));
});

test('JSON numbers of up to two exponent digits are taken; anything else is parsed and printed', () => {
  fc.assert(fc.property(jsonNumber, (text) => assert.ok(isJsonNumberText(text), text)));
  for (const text of ['7.628580570220947', '1e-05', '1E+05', '-0.0', '0', '12', '2.5e-7', '0.130000'])
    assert.ok(isJsonNumberText(text), text);
  for (const text of ['', '-', '007', '.5', '5.', '+1', ' 1', '1 ', 'nan', 'NaN', 'inf', '-inf', '1e400', '1e', '0x1f'])
    assert.ok(!isJsonNumberText(text), text);
  assert.ok(!isJsonNumberText('1' + '0'.repeat(400)), 'too long: it could overflow');
});

test('numbers as run-log text: non-finite ones as the protocol names them, and back', () => {
  assert.equal(jsonNumberText(NaN), '"NaN"');
  assert.equal(jsonNumberText(Infinity), '"Infinity"');
  assert.equal(jsonNumberText(-Infinity), '"-Infinity"');
  fc.assert(
    fc.property(fc.double(), (v) => {
      const text = jsonNumberText(v);
      assert.equal(text, JSON.stringify(Number.isFinite(v) ? v : String(v)));
      assert.ok(Object.is(numberOfJsonText(text), Object.is(v, -0) ? 0 : v));
    }),
  );
});
