#!/usr/bin/env node
/**
 * pi: a throughput demo. M tasks each sample K pseudo-random points (seeded, so every run with
 * the same flags gives the same estimate); the scheduler streams them through
 * `TaskScheduler.map()` with a live progress bar, then prints the estimate of π, its error
 * and the tasks per second.
 *
 * @module
 */
import cliProgress from 'cli-progress';
import { connectTaskScheduler, type DemoSpec, prepareExecutorLaunch, runDemo } from '../common/index.js';
import { sample } from './tasks.js';

const spec = {
  name: 'pi',
  description: 'Estimates π with M Monte Carlo tasks of K points each, with a live progress bar.',
  options: {
    tasks: { type: 'string' },
    points: { type: 'string' },
    concurrency: { type: 'string' },
    'no-progress': { type: 'boolean' },
  },
  usage: [
    '--tasks M                  how many tasks (default 200)',
    '--points K                 points per task (default 1000000)',
    '--concurrency N            tasks in flight at once (default 64)',
    '--no-progress              no progress bar (e.g. when stdout is not a terminal)',
  ],
} satisfies DemoSpec<Record<string, { type: 'string' | 'boolean' }>>;

function positiveInt(flag: string, text: string | undefined, fallback: number): number {
  const value = text === undefined ? fallback : Number(text);
  if (!Number.isSafeInteger(value) || value < 1)
    throw new Error(`${flag} must be a positive integer, got '${text}'`);
  return value;
}

await runDemo(spec, async ({ values, common, masters, out, signal }) => {
  const tasks = positiveInt('--tasks', values.tasks as string | undefined, 200);
  const points = positiveInt('--points', values.points as string | undefined, 1_000_000);
  const concurrency = positiveInt('--concurrency', values.concurrency as string | undefined, 64);
  const launch = await prepareExecutorLaunch(import.meta.url, common);
  try {
    await using scheduler = await connectTaskScheduler('pi', { common, masters }, launch, {
      concurrency: 16,
    });
    out(
      `subscribed: framework ${scheduler.frameworkId}; ${tasks} tasks × ${points.toLocaleString('en')} points`,
    );
    const bar =
      values['no-progress'] === true
        ? undefined
        : new cliProgress.SingleBar(
            {
              format: 'pi [{bar}] {percentage}% | {value}/{total} tasks | {rate} tasks/s | π ≈ {estimate}',
              hideCursor: true,
            },
            cliProgress.Presets.shades_classic,
          );
    bar?.start(tasks, 0, { rate: '0', estimate: '…' });
    const started = process.hrtime.bigint();
    let inside = 0;
    let total = 0;
    let done = 0;
    const inputs = (function* () {
      for (let i = 0; i < tasks; i++) yield { points, seed: i + 1 };
    })();
    try {
      for await (const { output } of scheduler.map(sample, inputs, { concurrency, signal })) {
        inside += output.inside;
        total += output.points;
        done++;
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        bar?.update(done, { rate: (done / seconds).toFixed(0), estimate: ((4 * inside) / total).toFixed(6) });
      }
    } finally {
      bar?.stop();
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const estimate = (4 * inside) / total;
    out(
      `π ≈ ${estimate.toFixed(6)} (error ${Math.abs(estimate - Math.PI).toExponential(2)}) from ` +
        `${total.toLocaleString('en')} points in ${seconds.toFixed(1)} s: ${(tasks / seconds).toFixed(0)} tasks/s`,
    );
    return 0;
  } finally {
    await launch.close();
  }
});
