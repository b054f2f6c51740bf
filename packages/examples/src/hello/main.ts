#!/usr/bin/env node
/**
 * hello: the custom-executor idea in a few lines. The scheduler submits N typed tasks to the
 * high-level `TaskScheduler`; one `mesoskit-executor` per agent runs them several at once,
 * each printing `hi <index>` to its sandbox's stdout and returning the line; the scheduler
 * prints every result and where the sandbox log is, then stops.
 *
 * @module
 */
import { join } from 'node:path';
import { connectTaskScheduler, type DemoSpec, prepareExecutorLaunch, runDemo } from '../common/index.js';
import { hi } from './tasks.js';

const spec = {
  name: 'hello',
  description: 'Runs N tasks in a custom executor; each prints "hi <index>" in its sandbox.',
  options: { tasks: { type: 'string' } },
  usage: ['--tasks N                  how many tasks to run (default 2)'],
} satisfies DemoSpec<Record<string, { type: 'string' | 'boolean' }>>;

await runDemo(spec, async ({ values, common, masters, out, err, signal }) => {
  const count = Number(values.tasks ?? 2);
  if (!Number.isSafeInteger(count) || count < 1) {
    err(`--tasks must be a positive integer, got '${values.tasks}'`);
    return 2;
  }
  const launch = await prepareExecutorLaunch(import.meta.url, common);
  try {
    await using scheduler = await connectTaskScheduler('hello', { common, masters }, launch);
    out(`subscribed: framework ${scheduler.frameworkId}; ${count} task${count === 1 ? '' : 's'}`);
    const runs = Array.from({ length: count }, (_, index) => ({
      index,
      result: scheduler.run(hi, { index }, { signal }),
    }));
    const pids = new Set<number>();
    for (const { index, result } of runs) {
      const { line, pid, sandbox } = await result;
      pids.add(pid);
      out(`task ${index}: "${line}" (executor pid ${pid}, sandbox log ${join(sandbox, 'stdout')})`);
    }
    out(
      `done: ${count} task${count === 1 ? '' : 's'} in ${pids.size} executor process${pids.size === 1 ? '' : 'es'}`,
    );
    return 0;
  } finally {
    await launch.close();
  }
});
