#!/usr/bin/env node
// Adds up the vitest JSON reports of every package (packages/*/test-results/vitest.json) and
// prints one closing line, `tests: N passed, N failed` (plus skipped), for CI and for people.
// Exits non-zero when a report is missing for a package that has tests, or anything failed.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
let passed = 0;
let failed = 0;
let skipped = 0;
let problems = 0;
for (const pkg of readdirSync(join(root, 'packages'))) {
  const report = join(root, 'packages', pkg, 'test-results', 'vitest.json');
  if (!existsSync(report)) {
    console.log(`${pkg}: no test report (did its tests run?)`);
    problems++;
    continue;
  }
  const r = JSON.parse(readFileSync(report, 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests + r.numTodoTests;
  if (!r.success) problems++;
  console.log(
    `${pkg}: ${r.numPassedTests} passed, ${r.numFailedTests} failed (${r.numTotalTestSuites} suites)`,
  );
}
console.log(`tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || problems > 0 ? 1 : 0);
