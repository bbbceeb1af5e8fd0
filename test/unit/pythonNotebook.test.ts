/**
 * Notebooks as one program (cells in order, magics left out, edits back in their cell), and the
 * `clip`/`check` commands on notebooks and on bad input: an unparsable file, a notebook whose JSON
 * does not parse, a cell in another language get a clear message and nothing written.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { checkCommand, clipCommand } from '../../src/cli/pythonCommands';
import { NotebookError, NotebookProgram, parseIpynb, patchIpynb } from '../../src/python/notebook';

const NOTEBOOKS = path.join(__dirname, '..', 'fixtures', 'python', 'notebooks');

function notebook(cells: { cell_type: string; source: string[]; metadata?: object }[]): string {
  const full = cells.map((c, i) => ({
    id: `c${i}`,
    metadata: {},
    ...c,
    ...(c.cell_type === 'code' ? { execution_count: null, outputs: [] } : {}),
  }));
  return JSON.stringify({ cells: full, metadata: {}, nbformat: 4, nbformat_minor: 5 }, null, 1) + '\n';
}

async function cli(
  command: typeof clipCommand,
  args: string[],
): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await command(
    args,
    (l) => out.push(l),
    (l) => err.push(l),
  );
  return { code, out, err };
}

describe('NotebookProgram', () => {
  it('joins code cells in order, blanks magics keeping offsets, and maps places and edits back', () => {
    const cells = parseIpynb(
      notebook([
        { cell_type: 'markdown', source: ['# title'] },
        { cell_type: 'code', source: ['%matplotlib inline\n', 'import torch'] },
        { cell_type: 'code', source: ['%%bash\n', 'echo hi'] },
        { cell_type: 'code', source: ['!pip install tqdm\n', 'files = !ls\n', 'x = torch.ones(1)'] },
      ]),
    );
    const p = new NotebookProgram(cells);
    const lengths = cells.filter((c) => c.kind === 'code').map((c) => c.text.length);
    assert.equal(p.source.length, lengths.reduce((x, y) => x + y) + lengths.length - 1, 'offsets kept');
    assert.doesNotMatch(p.source, /%|!|echo/);
    const at = p.source.indexOf('x = torch');
    assert.equal(p.where(at).text, 'cell 4, line 3');
    const patched = p.patchedCells([{ start: at, end: at, text: 'y = 2\n' }]);
    assert.deepEqual([...patched.keys()], [3]);
    assert.equal(patched.get(3), '!pip install tqdm\nfiles = !ls\ny = 2\nx = torch.ones(1)');
  });

  it("a deletion of a cell's last line stays in its cell", () => {
    const p = new NotebookProgram(
      parseIpynb(
        notebook([
          { cell_type: 'code', source: ['a = 1\n', 'b = 2'] },
          { cell_type: 'code', source: ['c = 3'] },
        ]),
      ),
    );
    const start = p.source.indexOf('b = 2');
    const cells = p.patchedCells([{ start, end: p.source.indexOf('c = 3'), text: '' }]);
    assert.equal(cells.get(0), 'a = 1');
    assert.equal(cells.has(1), false);
  });

  it('patching keeps everything but the edited cell byte for byte', () => {
    const text = readFileSync(path.join(NOTEBOOKS, 'plain_loop.ipynb'), 'utf8');
    const out = patchIpynb(text, new Map([[5, 'print(1)\nprint(2)']]));
    const before = JSON.parse(text);
    const after = JSON.parse(out);
    assert.deepEqual(after.cells[5].source, ['print(1)\n', 'print(2)']);
    after.cells[5].source = before.cells[5].source;
    assert.deepEqual(after, before);
    // Byte for byte outside the cell's source list.
    const sourceAt = (t: string): number => t.indexOf('"source"', t.split('"cell_type"', 6).join('"cell_type"').length);
    assert.equal(out.slice(0, sourceAt(out)), text.slice(0, sourceAt(text)));
    const tail = (t: string): string => t.slice(t.indexOf('"execution_count"', sourceAt(t)));
    assert.equal(tail(out), tail(text));
  });

  it('refuses a notebook whose JSON does not parse, or a code cell in another language', () => {
    assert.throws(() => parseIpynb('{"cells": ['), NotebookError);
    assert.throws(
      () =>
        new NotebookProgram(
          parseIpynb(notebook([{ cell_type: 'code', source: ['x <- 1'], metadata: { vscode: { languageId: 'r' } } }])),
        ),
      /cell 1 is in r, not Python/,
    );
  });
});

describe('clip and check on notebooks and bad input', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'gm-notebook-cli-'));

  it('clip --write edits only the loop cell of a notebook, and says where', async () => {
    const file = path.join(dir, 'plain_loop.ipynb');
    copyFileSync(path.join(NOTEBOOKS, 'plain_loop.ipynb'), file);
    const before = JSON.parse(readFileSync(file, 'utf8'));
    const r = await cli(clipCommand, [file, '--write']);
    assert.equal(r.code, 0, r.err.join('\n'));
    assert.match(
      r.err.join('\n'),
      /plain_loop\.ipynb:cell 6, line 6: Add gradient clipping \(max_norm=1\.0\) \[written\]/,
    );
    const after = JSON.parse(readFileSync(file, 'utf8'));
    assert.ok(after.cells[5].source.includes('    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)\n'));
    after.cells[5].source = before.cells[5].source;
    assert.deepEqual(after, before, 'metadata, outputs and other cells intact');
    const again = await cli(clipCommand, [file]);
    assert.equal(again.code, 3);
    assert.match(again.err.join('\n'), /already clipped by torch\.nn\.utils\.clip_grad_norm_ at cell 6, line 6/);
  });

  it('check names places in a notebook as cell and line', async () => {
    const r = await cli(checkCommand, [path.join(NOTEBOOKS, 'amp_accumulation.ipynb')]);
    assert.equal(r.code, 1);
    assert.match(r.out[0], /amp_accumulation\.ipynb: cell 4, line 6: warning: .*\[clip-scaled-gradients\]/);
    assert.match(r.out[1], /only runs under the if at cell 4, line 7.*\[clip-every-micro-batch\]/);
  });

  const untouched = async (name: string, text: string, message: RegExp): Promise<void> => {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    for (const command of [clipCommand, checkCommand]) {
      const r = await cli(command, command === clipCommand ? [file, '--write'] : [file]);
      assert.equal(r.code, 2, `${name}: ${r.err.join('\n')}`);
      assert.match(r.err.join('\n'), message);
    }
    assert.equal(readFileSync(file, 'utf8'), text, 'nothing written');
  };

  it('an unparsable script: a clear message, nothing written', () =>
    untouched('broken.py', 'for x in range(3)\n    loss.backward()\n', /broken\.py:1:\d+: syntax error/));

  it('a notebook with invalid JSON: a clear message, nothing written', () =>
    untouched(
      'broken.ipynb',
      '{"cells": [ {"cell_type": "code",',
      /broken\.ipynb: not a valid notebook: its JSON does not parse/,
    ));

  it('a notebook with a cell in another language: a clear message, nothing written', () =>
    untouched(
      'mixed.ipynb',
      notebook([
        { cell_type: 'code', source: ['import torch'] },
        { cell_type: 'code', source: ['SELECT 1'], metadata: { vscode: { languageId: 'sql' } } },
      ]),
      /mixed\.ipynb: cell 2 is in sql, not Python; nothing was changed/,
    ));
});
