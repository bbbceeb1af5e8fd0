// Adds up node's TAP reports and pytest's JUnit XML files in a folder: prints "passed failed skipped".
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
let passed = 0,
  failed = 0,
  skipped = 0;
for (const f of readdirSync(dir)) {
  const text = readFileSync(join(dir, f), 'utf8');
  if (f.endsWith('.tap')) {
    const n = (k) => Number((text.match(new RegExp(`^# ${k} (\\d+)$`, 'm')) ?? [])[1] ?? 0);
    passed += n('pass');
    failed += n('fail') + n('cancelled');
    skipped += n('skipped') + n('todo');
  } else if (/^pytest.*\.xml$/.test(f)) {
    // scripts/test-python.sh writes one file per run: pytest.xml, pytest-torch1.13.xml, pytest-py3.9.xml
    const suite = text.match(/<testsuite [^>]*>/)?.[0] ?? '';
    const a = (k) => Number((suite.match(new RegExp(`${k}="(\\d+)"`)) ?? [])[1] ?? 0);
    failed += a('failures') + a('errors');
    skipped += a('skipped');
    passed += a('tests') - a('failures') - a('errors') - a('skipped');
  }
}
console.log(passed, failed, skipped);
