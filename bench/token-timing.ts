/**
 * Timing of the token check against guesses that share no, half or all-but-one leading characters
 * with the real token, and guesses of another length: a comparison that stops at the first
 * difference would take longer the better the guess. Medians of interleaved rounds.
 *   node --import tsx bench/token-timing.ts [--rounds 30] [--per-round 50000]
 */
import { parseArgs } from 'node:util';
import { newToken, tokensEqual } from '../src/server/auth';
import { median, spread } from './stats';

const { values } = parseArgs({ options: { rounds: { type: 'string' }, 'per-round': { type: 'string' } } });
const rounds = Number(values.rounds ?? 30);
const perRound = Number(values['per-round'] ?? 50_000);
const token = newToken();
const flip = (s: string, at: number): string => s.slice(0, at) + (s[at] === 'A' ? 'B' : 'A') + s.slice(at + 1);
const guesses: [string, string][] = [
  ['first character wrong', flip(token, 0)],
  ['half right', flip(token, token.length >> 1)],
  ['last character wrong', flip(token, token.length - 1)],
  ['right token', token],
  ['one character short', token.slice(0, -1)],
  ['empty', ''],
];
const times = new Map<string, number[]>(guesses.map(([name]) => [name, []]));
let sink = 0;
for (let r = 0; r < rounds; r++) {
  for (const [name, guess] of guesses) {
    const t = process.hrtime.bigint();
    for (let i = 0; i < perRound; i++) sink += tokensEqual(guess, token) ? 1 : 0;
    times.get(name)!.push(Number(process.hrtime.bigint() - t) / perRound);
  }
}
const base = median(times.get('first character wrong')!);
console.log(
  `tokensEqual, ${rounds} rounds x ${perRound} comparisons (token of ${token.length} characters); ns per comparison, median ± half-range:`,
);
for (const [name] of guesses) {
  const t = times.get(name)!;
  console.log(
    `  ${name.padEnd(24)} ${median(t).toFixed(0).padStart(6)} ± ${spread(t).toFixed(0).padStart(4)}   ratio to "first character wrong": ${(median(t) / base).toFixed(3)}`,
  );
}
if (sink < 0) console.log(sink);
