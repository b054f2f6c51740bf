/**
 * `pnpm bench [--quick] [--only NAME]`: runs the benchmark suites, prints a table and writes
 * `bench/results/latest.json` (min / median / max ops/s over three runs, plus machine info).
 * `--quick` shortens every run and ignores targets (CI runs it so the bench never rots);
 * `--only` keeps the cases whose name contains NAME.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { executorCases } from './executor.js';
import {
  type AsyncBenchCase,
  type BenchCase,
  type BenchFigure,
  formatRate,
  machineInfo,
  measure,
  measureAsync,
} from './harness.js';
import { localClusterCases } from './local-cluster.js';
import { protocolCases } from './protocol.js';
import { schedulerCases } from './scheduler.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const onlyAt = args.indexOf('--only');
const only = onlyAt >= 0 ? args[onlyAt + 1] : undefined;
if (onlyAt >= 0 && !only) {
  console.error('usage: pnpm bench [--quick] [--only NAME]');
  process.exit(2);
}

const cases: BenchCase[] = [...protocolCases].filter((c) => !only || c.name.includes(only));
const endToEnd: AsyncBenchCase[] = [...executorCases, ...localClusterCases, ...schedulerCases].filter(
  (c) => !only || c.name.includes(only),
);
if (cases.length === 0 && endToEnd.length === 0) {
  console.error(`no benchmark matches --only ${only}`);
  process.exit(2);
}

const budgetMs = quick ? 50 : 1000;
const figures: BenchFigure[] = [];
for (const c of cases) {
  const f = measure(c, { budgetMs, quick });
  figures.push(f);
  const mark = f.met === undefined ? '' : f.met ? '  ok' : '  MISSED';
  console.error(`  ${c.name}: ${formatRate(f.median)} ${c.unit}/s${mark}`);
}

const targetTexts = new Map<string, string>(
  cases.flatMap((c) => (c.targetText ? [[c.name, c.targetText]] : [])),
);
// A case that throws (a cluster that did not start, an offer that never came) is reported and
// the others still run; the bench then exits non-zero.
const failed: { name: string; error: string }[] = [];
for (const c of endToEnd) {
  let measured: BenchFigure[];
  try {
    measured = await measureAsync(c, { budgetMs, quick });
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    failed.push({ name: c.name, error });
    console.error(`  ${c.name}: FAILED: ${error}`);
    continue;
  }
  for (const f of measured) {
    figures.push(f);
    const key = f.name.slice(c.name.length + 1);
    const text = c.targets?.[key]?.text;
    if (text) targetTexts.set(f.name, text);
    console.error(`  ${f.name}: ${formatRate(f.median)} ${f.unit}`);
  }
}

const nameWidth = Math.max(...figures.map((f) => f.name.length), 4);
const header = `${'case'.padEnd(nameWidth)}  ${'median'.padStart(12)}  ${'min'.padStart(12)}  ${'max'.padStart(12)}  target`;
console.log(`\n${header}\n${'-'.repeat(header.length + 8)}`);
for (const f of figures) {
  const text = targetTexts.get(f.name);
  const target = text ? `${text}${f.met === undefined ? '' : f.met ? ' ok' : ' MISSED'}` : '';
  console.log(
    `${f.name.padEnd(nameWidth)}  ${formatRate(f.median).padStart(12)}  ${formatRate(f.min).padStart(12)}  ${formatRate(f.max).padStart(12)}  ${target}`,
  );
}

let commit: string | undefined;
try {
  commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
} catch {}
const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'latest.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(
  out,
  `${JSON.stringify({ date: new Date().toISOString(), commit, quick, machine: machineInfo(), figures, failed }, null, 2)}\n`,
);
console.log(`\nwrote ${out}`);
const missed = figures.filter((f) => f.met === false);
if (missed.length > 0)
  console.log(`${missed.length} figure(s) missed their target: ${missed.map((f) => f.name).join(', ')}`);
for (const f of failed) console.log(`${f.name} FAILED: ${f.error}`);
if (failed.length > 0) process.exitCode = 1;
