/** `--help`/`-h` on every subcommand of the real binary prints that subcommand's usage and exits 0. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { COMMAND_NAMES } from '../../src/cli/usage';
import { cli } from '../helpers/cli';

for (const name of COMMAND_NAMES) {
  test(`gradient-monitor ${name} --help prints the usage of ${name}`, async () => {
    for (const flag of ['--help', '-h']) {
      const { code, stdout, stderr } = await cli([name, flag]);
      assert.equal(code, 0, stderr);
      assert.equal(stderr, '');
      assert.match(stdout, new RegExp(`^usage: gradient-monitor ${name} `));
      for (const other of COMMAND_NAMES.filter((n) => n !== name))
        assert.doesNotMatch(stdout, new RegExp(`^\\s*${other} `, 'm'), `only ${name}'s usage`);
    }
  });
}

test('--help after other arguments still prints the usage, and a usage error shows the subcommand usage', async () => {
  const help = await cli(['clip', 'train.py', '--max-norm', '2', '--help']);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^usage: gradient-monitor clip FILE\.py/);

  const wrong = await cli(['inspect', '--no-such-option']);
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /usage: gradient-monitor inspect LOG/);
  assert.doesNotMatch(wrong.stderr, /simulate/);
});

test('the overall usage still lists every subcommand', async () => {
  const { code, stdout } = await cli(['--help']);
  assert.equal(code, 0);
  for (const name of COMMAND_NAMES) assert.match(stdout, new RegExp(`^  ${name} `, 'm'));
});
