/**
 * A small benchmark harness: each case runs for a time budget, three times; figures are
 * operations per second (min / median / max over the runs). Suites register cases; `run.ts`
 * prints a table and writes `bench/results/latest.json`.
 */
import { cpus, totalmem } from 'node:os';

export interface BenchCase {
  /** Dotted name, e.g. `protocol.recordio.parse`. */
  name: string;
  /** What one operation is, for the table (`records`, `round trips`, …). */
  unit: string;
  /**
   * Runs `n` operations and returns how many operations it really did (a case may batch, e.g.
   * one RecordIO chunk holds ~590 records). Called repeatedly until the time budget is spent.
   */
  run(n: number): number;
  /** A lower bound on ops/s the median must reach (ignored with `--quick`). */
  target?: number;
  /** How the target reads in the table, e.g. `≥ 2,000,000/s`. */
  targetText?: string;
}

/**
 * An end-to-end case: one run yields several figures (e.g. tasks/s and CPU per task). It runs
 * three times (once with `--quick`); each figure gets min / median / max over the runs.
 */
export interface AsyncBenchCase {
  name: string;
  /** Figure key → what it measures, for the table. */
  figures: Record<string, string>;
  /** Bounds a figure's median must respect (ignored with `--quick`). */
  targets?: Record<string, { min?: number; max?: number; text: string }>;
  run(quick: boolean): Promise<Record<string, number>>;
}

export interface BenchFigure {
  name: string;
  unit: string;
  runs: number[];
  min: number;
  median: number;
  max: number;
  target?: number;
  met?: boolean;
}

export interface BenchOptions {
  /** Milliseconds each of the three runs lasts. */
  budgetMs: number;
  quick: boolean;
}

function timeRun(c: BenchCase, budgetMs: number): number {
  // Calibrate a batch size that takes ~10 ms, then run batches until the budget is spent.
  let batch = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    c.run(batch);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (ms >= 10 || batch >= 1 << 24) break;
    batch *= ms < 1 ? 8 : 2;
  }
  let ops = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(budgetMs) * 1_000_000n;
  let now = start;
  while (now < deadline) {
    ops += c.run(batch);
    now = process.hrtime.bigint();
  }
  return ops / (Number(now - start) / 1e9);
}

export function measure(c: BenchCase, options: BenchOptions): BenchFigure {
  timeRun(c, Math.min(200, options.budgetMs)); // warm-up: let the JIT settle
  const runs: number[] = [];
  for (let i = 0; i < 3; i++) {
    (globalThis as { gc?: () => void }).gc?.();
    runs.push(timeRun(c, options.budgetMs));
  }
  const sorted = [...runs].sort((a, b) => a - b);
  const figure: BenchFigure = {
    name: c.name,
    unit: c.unit,
    runs,
    min: sorted[0]!,
    median: sorted[1]!,
    max: sorted[2]!,
  };
  if (c.target !== undefined) {
    figure.target = c.target;
    if (!options.quick) figure.met = figure.median >= c.target;
  }
  return figure;
}

export function machineInfo(): Record<string, unknown> {
  const cpu = cpus();
  return {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: cpu.length,
    cpuModel: cpu[0]?.model,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
  };
}

/** A figure for the table: whole numbers with separators; below 10 (ratios, ms), two decimals. */
export function formatRate(v: number): string {
  if (Math.abs(v) < 10 && !Number.isInteger(v)) return v.toFixed(2);
  return Math.round(v).toLocaleString('en-US');
}

export async function measureAsync(c: AsyncBenchCase, options: BenchOptions): Promise<BenchFigure[]> {
  const runs: Record<string, number>[] = [];
  for (let i = 0; i < (options.quick ? 1 : 3); i++) runs.push(await c.run(options.quick));
  return Object.keys(c.figures).map((key) => {
    const values = runs.map((r) => r[key]!);
    const sorted = [...values].sort((a, b) => a - b);
    const figure: BenchFigure = {
      name: `${c.name}.${key}`,
      unit: c.figures[key]!,
      runs: values,
      min: sorted[0]!,
      median: sorted[Math.floor(sorted.length / 2)]!,
      max: sorted[sorted.length - 1]!,
    };
    const target = c.targets?.[key];
    if (target) {
      figure.target = target.min ?? target.max!;
      if (!options.quick) {
        figure.met =
          (target.min === undefined || figure.median >= target.min) &&
          (target.max === undefined || figure.median <= target.max);
      }
    }
    return figure;
  });
}
