/**
 * The TaskScheduler end to end: this process runs the scheduler (built `@mesoskit/scheduler`);
 * `mesoskit-local` (master + agent) runs in its own process and starts the real
 * `mesoskit-executor` (built CLI) with the executor bench's handlers. One Mesos task per task.
 *
 * Figures: no-op tasks/s through `map()`; CPU per task in the scheduler (this process, with
 * the bench's own small overhead), in the local cluster and in the executor (both from /proc);
 * submit→result latency of sequential tasks with an offer held and the executor warm.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineTask, type MesosEncoding } from '@mesoskit/protocol';
import { nodeExecutor, TaskScheduler } from '@mesoskit/scheduler';
import type { AsyncBenchCase } from './harness.js';
import { cpuSeconds, startCluster } from './local-cluster.js';

const EXECUTOR_CLI = fileURLToPath(new URL('../packages/executor/dist/cli.js', import.meta.url));
const HANDLERS = fileURLToPath(new URL('../packages/executor/bench/handlers.mjs', import.meta.url));
const noop = defineTask<Uint8Array | null, null>('bench.noop', { resources: { cpus: 0.01, memMb: 1 } });

/** Pids of the processes a process started (Linux). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

async function withScheduler<T>(
  fn: (scheduler: TaskScheduler, pids: { cluster: number }) => Promise<T>,
  encoding: MesosEncoding = 'protobuf',
): Promise<T> {
  const { child, url } = await startCluster();
  try {
    const scheduler = await TaskScheduler.connect({
      master: url,
      framework: { name: 'bench' },
      encoding,
      executors: nodeExecutor({
        handlers: HANDLERS,
        command: `exec ${process.execPath} ${EXECUTOR_CLI}`,
        concurrency: 256,
        encoding,
        logLevel: 'warn',
      }),
    });
    try {
      return await fn(scheduler, { cluster: child.pid! });
    } finally {
      await scheduler.stop({ teardown: true });
    }
  } finally {
    child.kill('SIGINT');
    await new Promise((r) => child.once('exit', r));
  }
}

async function drain(
  scheduler: TaskScheduler,
  count: number,
  concurrency: number,
  input: Uint8Array | null = null,
): Promise<void> {
  const inputs = (function* () {
    for (let i = 0; i < count; i++) yield input;
  })();
  for await (const _ of scheduler.map(noop, inputs, { concurrency })) {
    // results are null; nothing to check but that each arrived
  }
}

const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

/** No-op tasks through map(): tasks/s and CPU per task in each process. */
function throughputCase(
  name: string,
  payloadBytes: number,
  encoding: MesosEncoding,
  minTasksPerSecond: number,
): AsyncBenchCase {
  const payload = payloadBytes === 0 ? null : new Uint8Array(payloadBytes).fill(7);
  const where = `${payloadBytes === 0 ? 'no' : `${payloadBytes / 1024} KiB`} input, ${encoding}`;
  return {
    name,
    figures: {
      'tasks/s': `tasks/s (map, 1 agent, ${where})`,
      'scheduler-cpu-us-per-task': 'µs scheduler CPU per task',
      'cluster-cpu-us-per-task': 'µs local-cluster CPU per task',
      'executor-cpu-us-per-task': 'µs executor CPU per task',
    },
    targets: {
      'tasks/s': { min: minTasksPerSecond, text: `≥ ${minTasksPerSecond.toLocaleString('en')}` },
      ...(payloadBytes === 0 &&
        encoding === 'protobuf' && {
          'scheduler-cpu-us-per-task': { max: 60, text: '≤ 60 µs' },
          'cluster-cpu-us-per-task': { max: 130, text: '≤ 130 µs' },
          'executor-cpu-us-per-task': { max: 60, text: '≤ 60 µs' },
        }),
    },
    async run(quick) {
      const measured = quick ? 500 : 10_000;
      return withScheduler(async (scheduler, { cluster }) => {
        await drain(scheduler, 200, 200, payload); // warm: the executor is up, the JIT settled
        const executors = childrenOf(cluster);
        const cpu0 = process.cpuUsage();
        const cluster0 = cpuSeconds(cluster);
        const exec0 = executors.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
        const t0 = process.hrtime.bigint();
        await drain(scheduler, measured, 2000, payload);
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        const cpu = process.cpuUsage(cpu0);
        const clusterCpu = cpuSeconds(cluster) - cluster0;
        const execCpu = executors.reduce((sum, pid) => sum + cpuSeconds(pid), 0) - exec0;
        return {
          'tasks/s': measured / seconds,
          'scheduler-cpu-us-per-task': (cpu.user + cpu.system) / measured,
          'cluster-cpu-us-per-task': (clusterCpu / measured) * 1e6,
          'executor-cpu-us-per-task': (execCpu / measured) * 1e6,
        };
      }, encoding);
    },
  };
}

export const schedulerCases: AsyncBenchCase[] = [
  throughputCase('scheduler.noop-tasks', 0, 'protobuf', 5000),
  throughputCase('scheduler.json-noop-tasks', 0, 'json', 5000),
  throughputCase('scheduler.1kib-tasks', 1024, 'protobuf', 5000),
  throughputCase('scheduler.64kib-tasks', 64 * 1024, 'protobuf', 2000),
  {
    name: 'scheduler.latency',
    figures: {
      'p50-ms': 'ms submit→result p50 (sequential, offer held, warm executor)',
      'p99-ms': 'ms submit→result p99',
      measured: 'submits made with an offer held (of 1,000; 50 with --quick)',
      stalls: 'submits without a result within 5 s (a bug to find)',
    },
    targets: { 'p50-ms': { max: 1, text: '≤ 1 ms' }, 'p99-ms': { max: 5, text: '≤ 5 ms' } },
    async run(quick) {
      const count = quick ? 50 : 1000;
      return withScheduler(async (scheduler) => {
        await drain(scheduler, 20, 1);
        const times: number[] = [];
        let stalls = 0;
        for (let i = 0; i < count; i++) {
          // "Offer held": only submits made while the scheduler held an offer count (Mesos offers
          // again what a finished task freed at its next allocation). Never wait for an offer:
          // an idle scheduler declines held offers with a long filter and REVIVEs only for work.
          const held = scheduler.heldOffers > 0;
          const t0 = process.hrtime.bigint();
          // A bound, so that a stalled submit (a known bug: see the closing note of session 2)
          // is counted instead of hanging the bench.
          const ok = await scheduler.run(noop, null, { timeoutMs: 5000 }).then(
            () => true,
            () => false,
          );
          if (!ok) stalls++;
          if (!held || !ok) continue;
          times.push(Number(process.hrtime.bigint() - t0) / 1e6);
        }
        times.sort((a, b) => a - b);
        return {
          'p50-ms': times.length > 0 ? percentile(times, 50) : Number.NaN,
          'p99-ms': times.length > 0 ? percentile(times, 99) : Number.NaN,
          measured: times.length,
          stalls,
        };
      });
    },
  },
  {
    name: 'scheduler.map-1m',
    figures: {
      'rss-mb': 'MB scheduler RSS, peak, during map() over 1,000,000 inputs',
      'rss-growth-pct': '% RSS growth from 1/3 to the end of the measured results',
      results: 'results taken before stopping the map',
    },
    targets: { 'rss-mb': { max: 300, text: '≤ 300 MB' } },
    async run(quick) {
      // Running all 1,000,000 tasks would take many minutes here; what the figure shows is
      // that the scheduler holds `concurrency` tasks, not the inputs: it takes the first
      // `take` results of a map() over a million-input generator, sampling RSS as it goes.
      const take = quick ? 2000 : 30_000;
      return withScheduler(async (scheduler) => {
        const inputs = (function* () {
          for (let i = 0; i < 1_000_000; i++) yield null;
        })();
        (globalThis as { gc?: () => void }).gc?.();
        let peak = 0;
        let atThird = 0;
        let results = 0;
        for await (const _ of scheduler.map(noop, inputs, { concurrency: 2000 })) {
          results++;
          if (results % 500 === 0) {
            const rss = process.memoryUsage.rss();
            peak = Math.max(peak, rss);
            if (results === Math.round(take / 3 / 500) * 500) atThird = rss;
          }
          if (results >= take) break;
        }
        const end = process.memoryUsage.rss();
        peak = Math.max(peak, end);
        return {
          'rss-mb': peak / 2 ** 20,
          'rss-growth-pct': atThird > 0 ? ((end - atThird) / atThird) * 100 : 0,
          results,
        };
      });
    },
  },
];
