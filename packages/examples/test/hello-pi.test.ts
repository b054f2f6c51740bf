/**
 * hello and pi, built, run as child processes the way a user runs them, each on its own
 * embedded local cluster with the real `mesoskit-executor`.
 */
import { readFile } from 'node:fs/promises';
import { startLocalCluster } from '@mesoskit/local-cluster';
import { describe, expect, it } from 'vitest';
import { countInside, mulberry32 } from '../src/pi/tasks.js';
import { runDemo, shown } from './run-demo.js';

describe('hello', () => {
  it('runs N tasks in one executor, prints each result and its sandbox log, which holds "hi <index>"', async () => {
    // A cluster of the test's own (--master), so the sandboxes are still there to read.
    await using cluster = await startLocalCluster();
    const r = await runDemo('hello', ['--tasks', '4', '--master', cluster.masterUrl]);
    expect(r.code, shown(r)).toBe(0);
    const lines = r.stdout.split('\n').filter((l) => l.startsWith('task '));
    expect(lines).toHaveLength(4);
    const logs = new Set<string>();
    lines.forEach((line, i) => {
      const m = new RegExp(
        `^task ${i}: "hi ${i}" \\(executor pid \\d+, sandbox log (.+/executors/hello/runs/.+/stdout)\\)$`,
      ).exec(line);
      expect(m, line).not.toBeNull();
      logs.add(m![1]!);
    });
    expect(r.stdout).toMatch(/^done: 4 tasks in 1 executor process$/m);
    expect(logs.size).toBe(1);
    const log = await readFile([...logs][0]!, 'utf8');
    expect(log.split('\n').filter(Boolean).sort()).toEqual(['hi 0', 'hi 1', 'hi 2', 'hi 3']);
  }, 60_000);

  it('rejects a bad --tasks with exit code 2 and names the flag', async () => {
    const r = await runDemo('hello', ['--tasks', 'lots']);
    expect(r.code, shown(r)).toBe(2);
    expect(r.stderr).toContain("--tasks must be a positive integer, got 'lots'");
  }, 60_000);
});

describe('pi', () => {
  it('estimates π from M tasks of K points and reports the rate', async () => {
    const r = await runDemo('pi', ['--tasks', '40', '--points', '20000', '--no-progress']);
    expect(r.code, shown(r)).toBe(0);
    const m = /^π ≈ (\d\.\d{6}) \(error ([\d.e+-]+)\) from 800,000 points in [\d.]+ s: \d+ tasks\/s$/m.exec(
      r.stdout,
    );
    expect(m, shown(r)).not.toBeNull();
    // The seeds are 1..40: the estimate is exactly what the tasks' pure function computes.
    let inside = 0;
    for (let seed = 1; seed <= 40; seed++) inside += countInside(20_000, seed);
    expect(Number(m![1])).toBeCloseTo((4 * inside) / 800_000, 6);
    expect(Math.abs(Number(m![1]) - Math.PI)).toBeLessThan(0.01);
  }, 60_000);

  it('samples deterministically per seed', () => {
    const a = mulberry32(7);
    const b = mulberry32(7);
    expect([a(), a(), a()]).toEqual([b(), b(), b()]);
    expect(countInside(1000, 3)).toBe(countInside(1000, 3));
  });
});
