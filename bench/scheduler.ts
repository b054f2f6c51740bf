/**
 * The TaskScheduler end to end: this process runs the scheduler (built `@mesoskit/scheduler`);
 * `mesoskit-local` (master + agent) runs in its own process and starts the real
 * `mesoskit-executor` (built CLI) with the executor bench's handlers. One Mesos task per task.
 *
 * Every measurement follows a warm-up of 10,000 tasks through `map()` (the processes' JIT and
 * heap sizes settled; `fresh-*` figures: after 200 only), 10,000 per agent in the agent-scaling
 * case (each agent has its own executor process to warm up). Figures: no-op tasks/s through `map()`
 * (1 and 4 agents, JSON, 1 KiB and 64 KiB inputs); CPU per task in the scheduler (this process,
 * with the bench's own small overhead), in the local cluster and in the executors (both from
 * /proc); tasks/s against the agent count (1, 16, 64) and against the task count (1,000 to
 * 100,000); submit→result latency of sequential tasks, each submitted once an offer is held, and
 * of plain sequential submits; scheduler memory over a million-input map().
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineTask, type MesosEncoding } from '@mesoskit/protocol';
import { nodeExecutor, TaskScheduler } from '@mesoskit/scheduler';
import type { AsyncBenchCase } from './harness.js';
import { type ClusterOptions, cpuSeconds, startCluster } from './local-cluster.js';

const EXECUTOR_CLI = fileURLToPath(new URL('../packages/executor/dist/cli.js', import.meta.url));
const HANDLERS = fileURLToPath(new URL('../packages/executor/bench/handlers.mjs', import.meta.url));
/**
 * `MESOSKIT_BENCH_PROFILE=/some/dir` also profiles the executors (node --cpu-prof, one
 * `.cpuprofile` per process, in `executors/` there); the cluster's is written by startCluster.
 */
const EXECUTOR_PROFILE = process.env.MESOSKIT_BENCH_PROFILE
  ? `--cpu-prof --cpu-prof-dir=${process.env.MESOSKIT_BENCH_PROFILE}/executors`
  : '';
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
  options: { encoding?: MesosEncoding; cluster?: ClusterOptions } = {},
): Promise<T> {
  const encoding = options.encoding ?? 'protobuf';
  const cluster = await startCluster(options.cluster);
  try {
    const scheduler = await TaskScheduler.connect({
      master: cluster.url,
      framework: { name: 'bench' },
      encoding,
      executors: nodeExecutor({
        handlers: HANDLERS,
        command: `exec ${process.execPath} ${EXECUTOR_PROFILE} ${EXECUTOR_CLI}`,
        concurrency: 256,
        encoding,
        logLevel: 'warn',
      }),
    });
    try {
      return await fn(scheduler, { cluster: cluster.child.pid! });
    } finally {
      await scheduler.stop({ teardown: true });
    }
  } finally {
    await cluster.stop();
  }
}

/** Runs `count` no-op tasks through map(); resolves with when the first result came (hrtime). */
async function drain(
  scheduler: TaskScheduler,
  count: number,
  concurrency: number,
  input: Uint8Array | null = null,
): Promise<bigint> {
  const inputs = (function* () {
    for (let i = 0; i < count; i++) yield input;
  })();
  let first = 0n;
  for await (const _ of scheduler.map(noop, inputs, { concurrency })) {
    // results are null; nothing to check but that each arrived
    if (first === 0n) first = process.hrtime.bigint();
  }
  return first;
}

const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

/** Tasks in flight in the throughput cases (map's concurrency). */
const CONCURRENCY = 2000;

/**
 * Tasks run before anything is measured: the three processes' JIT and heap sizes settle only
 * after some thousands of tasks (with a 200-task warm-up, the next 10,000 no-op tasks run at
 * about two thirds of the rate, with half again the CPU per task: the `fresh-*` figures).
 * `--quick`: {@link QUICK_WARM_TASKS}.
 */
const WARM_TASKS = 10_000;
const QUICK_WARM_TASKS = 400;

interface NoopRun {
  tasksPerSecond: number;
  schedulerCpuUsPerTask: number;
  clusterCpuUsPerTask: number;
  executorCpuUsPerTask: number;
  /** Executors (children of the cluster process) when the measured tasks had finished. */
  executors: number;
  /** Milliseconds from the start of the measured map() to its first result. */
  firstResultMs: number;
}

/** CPU seconds of the executors (children of the cluster process) running now. */
const executorCpu = (cluster: number): number =>
  childrenOf(cluster).reduce((sum, pid) => sum + cpuSeconds(pid), 0);

/**
 * A fresh cluster (`cluster` options) and scheduler: `warm` tasks first (executors up, JIT
 * settled, {@link WARM_TASKS} by default), then `count` measured tasks through map(): tasks/s
 * and CPU per task in each process.
 * Executor CPU is that of the executors up at the end less that of those up at the start, so
 * an executor started during the measured tasks counts from its start.
 */
function noopRun(
  count: number,
  options: {
    warm?: number;
    payload?: Uint8Array | null;
    encoding?: MesosEncoding;
    cluster?: ClusterOptions;
  } = {},
): Promise<NoopRun> {
  const payload = options.payload ?? null;
  return withScheduler(
    async (scheduler, { cluster }) => {
      await drain(scheduler, options.warm ?? WARM_TASKS, CONCURRENCY, payload);
      const cpu0 = process.cpuUsage();
      const cluster0 = cpuSeconds(cluster);
      const exec0 = executorCpu(cluster);
      const t0 = process.hrtime.bigint();
      const first = await drain(scheduler, count, CONCURRENCY, payload);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const cpu = process.cpuUsage(cpu0);
      const clusterCpu = cpuSeconds(cluster) - cluster0;
      const execCpu = executorCpu(cluster) - exec0;
      return {
        tasksPerSecond: count / seconds,
        schedulerCpuUsPerTask: (cpu.user + cpu.system) / count,
        clusterCpuUsPerTask: (clusterCpu / count) * 1e6,
        executorCpuUsPerTask: (execCpu / count) * 1e6,
        executors: childrenOf(cluster).length,
        firstResultMs: Number(first - t0) / 1e6,
      };
    },
    { encoding: options.encoding, cluster: options.cluster },
  );
}

/** No-op tasks through map(): tasks/s and CPU per task in each process. */
function throughputCase(
  name: string,
  payloadBytes: number,
  encoding: MesosEncoding,
  minTasksPerSecond: number,
  { agents = 1, fresh = false }: { agents?: number; fresh?: boolean } = {},
): AsyncBenchCase {
  const payload = payloadBytes === 0 ? null : new Uint8Array(payloadBytes).fill(7);
  const where = `${agents === 1 ? '1 agent' : `${agents} agents`}, ${payloadBytes === 0 ? 'no' : `${payloadBytes / 1024} KiB`} input, ${encoding}`;
  return {
    name,
    figures: {
      'tasks/s': `tasks/s (map, ${where})`,
      'scheduler-cpu-us-per-task': 'µs scheduler CPU per task',
      'cluster-cpu-us-per-task': 'µs local-cluster CPU per task',
      'executor-cpu-us-per-task': 'µs executor CPU per task',
      ...(fresh && {
        'fresh-tasks/s': 'tasks/s of the first 10,000 tasks after a 200-task warm-up (fresh processes)',
        'fresh-cluster-cpu-us-per-task': 'µs local-cluster CPU per task, the same fresh run',
      }),
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
      // One agent keeps the 64-CPU default; more agents split 32 CPUs between them, as in
      // scheduler.agent-scaling (room for the 2,000 tasks in flight and an executor per agent).
      // The warm-up fills the cluster at least once, so every agent's executor is up.
      const cluster = agents === 1 ? undefined : { agents, resources: splitResources(32, agents) };
      const warm = quick ? QUICK_WARM_TASKS : WARM_TASKS;
      const count = quick ? 500 : 10_000;
      const r = await noopRun(count, { warm, payload, encoding, cluster });
      const figures: Record<string, number> = {
        'tasks/s': r.tasksPerSecond,
        'scheduler-cpu-us-per-task': r.schedulerCpuUsPerTask,
        'cluster-cpu-us-per-task': r.clusterCpuUsPerTask,
        'executor-cpu-us-per-task': r.executorCpuUsPerTask,
      };
      if (fresh) {
        const f = await noopRun(count, { warm: 200, payload, encoding, cluster });
        figures['fresh-tasks/s'] = f.tasksPerSecond;
        figures['fresh-cluster-cpu-us-per-task'] = f.clusterCpuUsPerTask;
      }
      return figures;
    },
  };
}

/** Per-agent resources that split `cpus` CPUs (and 64 GiB) evenly between `agents` agents. */
function splitResources(cpus: number, agents: number): string {
  return `cpus:${cpus / agents};mem:${Math.floor(65536 / agents)};disk:4096;ports:[31000-32000]`;
}

const FLAT = { min: 0.85, max: 1.15, text: '1 ± 15 %' };

/** Waits for the scheduler to hold an offer: at once if it does, else on its `offers` event. */
function offerHeld(scheduler: TaskScheduler, timeoutMs: number, what: string): Promise<void> {
  if (scheduler.heldOffers > 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const off = scheduler.on('offers', () => {
      if (scheduler.heldOffers === 0) return;
      clearTimeout(timer);
      off();
      resolve();
    });
    const timer = setTimeout(() => {
      off();
      const c = scheduler.counters();
      reject(
        new Error(
          `the scheduler held no offer within ${timeoutMs} ms ${what} (offers received ${c.offersReceived}, declined ${c.offersDeclined}, suppresses ${c.suppresses}, revives ${c.revives})`,
        ),
      );
    }, timeoutMs);
  });
}

export const schedulerCases: AsyncBenchCase[] = [
  throughputCase('scheduler.noop-tasks', 0, 'protobuf', 5000, { fresh: true }),
  throughputCase('scheduler.4-agents-noop-tasks', 0, 'protobuf', 5000, { agents: 4 }),
  throughputCase('scheduler.json-noop-tasks', 0, 'json', 5000),
  throughputCase('scheduler.1kib-tasks', 1024, 'protobuf', 5000),
  throughputCase('scheduler.64kib-tasks', 64 * 1024, 'protobuf', 2000),
  {
    name: 'scheduler.agent-scaling',
    figures: {
      'tps-1': 'tasks/s, 1 agent (10,000 no-op tasks; quick: 300)',
      'tps-16': 'tasks/s, 16 agents (the same 32 CPUs split between them)',
      'tps-64': 'tasks/s, 64 agents',
      'tps-64-vs-1': 'tasks/s with 64 agents ÷ with 1 (flat: ≈ 1)',
      'cluster-cpu-us-per-task-1': 'µs local-cluster CPU per task, 1 agent',
      'cluster-cpu-us-per-task-16': 'µs local-cluster CPU per task, 16 agents',
      'cluster-cpu-us-per-task-64': 'µs local-cluster CPU per task, 64 agents',
      'scheduler-cpu-us-per-task-1': 'µs scheduler CPU per task, 1 agent',
      'scheduler-cpu-us-per-task-64': 'µs scheduler CPU per task, 64 agents',
      'executor-cpu-us-per-task-1': 'µs executor CPU per task, 1 agent',
      'executor-cpu-us-per-task-64': 'µs executor CPU per task (all 64 executors), 64 agents',
      'executors-64': 'executors up with 64 agents at the end (one per agent used)',
      'shared-warmup-tps-64':
        'tasks/s, 64 agents after 10,000 warm-up tasks in all (≈ 156 per executor: their JIT still compiling)',
      'shared-warmup-executor-cpu-us-per-task-64': 'µs executor CPU per task, the same run',
    },
    targets: { 'tps-64-vs-1': FLAT },
    async run(quick) {
      // The same 32 CPUs (room for all 2,000 tasks in flight plus one executor per agent) split
      // between 1, 16 or 64 agents. Each agent runs its own executor process, and each process
      // has its own JIT: the warm-up gives every executor as many tasks as the single executor
      // of the 1-agent run gets (10,000 per agent), so that the runs differ in the agent count
      // and not in how warm the executors are. (With 10,000 warm-up tasks in all, 64 executors
      // still compile their hot code during the measured tasks, on the same two cores: the
      // `shared-warmup-*` figures.)
      const count = quick ? 300 : 10_000;
      const warm = quick ? QUICK_WARM_TASKS : WARM_TASKS;
      const out: Record<string, number> = {};
      for (const agents of [1, 16, 64]) {
        const cluster = { agents, resources: splitResources(32, agents) };
        const r = await noopRun(count, { warm: quick ? warm : warm * agents, cluster });
        out[`tps-${agents}`] = r.tasksPerSecond;
        out[`cluster-cpu-us-per-task-${agents}`] = r.clusterCpuUsPerTask;
        if (agents !== 16) {
          out[`scheduler-cpu-us-per-task-${agents}`] = r.schedulerCpuUsPerTask;
          out[`executor-cpu-us-per-task-${agents}`] = r.executorCpuUsPerTask;
        }
        if (agents === 64) {
          out['executors-64'] = r.executors;
          const shared = await noopRun(count, { warm, cluster });
          out['shared-warmup-tps-64'] = shared.tasksPerSecond;
          out['shared-warmup-executor-cpu-us-per-task-64'] = shared.executorCpuUsPerTask;
        }
      }
      out['tps-64-vs-1'] = out['tps-64']! / out['tps-1']!;
      return out;
    },
  },
  {
    name: 'scheduler.task-count',
    figures: {
      'tps-1k': 'tasks/s, 1,000 no-op tasks (1 agent; quick: 100)',
      'tps-10k': 'tasks/s, 10,000 no-op tasks (quick: 300)',
      'tps-100k': 'tasks/s, 100,000 no-op tasks (quick: 1,000)',
      'tps-100k-vs-1k': 'tasks/s at 100,000 tasks ÷ at 1,000 (flat: ≈ 1)',
      'first-result-ms-1k': 'ms from the start of the 1,000 tasks to their first result',
      'first-result-ms-100k': 'ms from the start of the 100,000 tasks to their first result',
    },
    targets: { 'tps-100k-vs-1k': FLAT },
    async run(quick) {
      // Each count on a fresh cluster and scheduler, after the same warm-up.
      const sizes = quick ? [100, 300, 1000] : [1000, 10_000, 100_000];
      const warm = quick ? QUICK_WARM_TASKS : WARM_TASKS;
      const [small, medium, large] = [
        await noopRun(sizes[0]!, { warm }),
        await noopRun(sizes[1]!, { warm }),
        await noopRun(sizes[2]!, { warm }),
      ];
      return {
        'tps-1k': small.tasksPerSecond,
        'tps-10k': medium.tasksPerSecond,
        'tps-100k': large.tasksPerSecond,
        'tps-100k-vs-1k': large.tasksPerSecond / small.tasksPerSecond,
        'first-result-ms-1k': small.firstResultMs,
        'first-result-ms-100k': large.firstResultMs,
      };
    },
  },
  {
    name: 'scheduler.latency',
    figures: {
      'p50-ms': 'ms submit→result p50 (sequential, offer held, warm processes; 5 ms allocation interval)',
      'p99-ms': 'ms submit→result p99 (of 500 submits; 20 with --quick)',
      'idle-p50-ms':
        'ms submit→result p50, offer held, each submit after the ~50 ms wait for the default allocation interval (of 200; quick 20)',
      'plain-p50-ms':
        'ms submit→result p50, sequential submits not waiting for an offer (default interval; of 200; quick 20)',
      stalls: 'submits without a result within 5 s, of every kind (a bug to find)',
    },
    targets: { 'p50-ms': { max: 1, text: '≤ 1 ms' }, 'p99-ms': { max: 5, text: '≤ 5 ms' } },
    async run(quick) {
      // Every process warmed up first (JIT): `warm` tasks through map(), then 20 sequential.
      // Sequential submits each wait for an offer, i.e. for the next allocation: with the
      // default 50 ms interval the machine idles between submits, and on this VM an idle
      // vCPU comes back slow (cold caches, halt-polling): the same path takes about twice as
      // long (idle-p50-ms). The main figures use a 5 ms interval, so the wait is short.
      const warm = quick ? QUICK_WARM_TASKS : WARM_TASKS;
      const held = quick ? 20 : 500;
      const idle = quick ? 20 : 200;
      const plain = quick ? 20 : 200;
      let stalls = 0;
      /** One sequential submit, bounded at 5 s (a stall is counted, not waited for). */
      const timedRun = async (scheduler: TaskScheduler): Promise<number | undefined> => {
        const t0 = process.hrtime.bigint();
        const ok = await scheduler.run(noop, null, { timeoutMs: 5000 }).then(
          () => true,
          () => false,
        );
        if (ok) return Number(process.hrtime.bigint() - t0) / 1e6;
        stalls++;
        return undefined;
      };
      /** `count` sequential submits, each once an offer is held; sorted times. */
      const heldRuns = async (scheduler: TaskScheduler, count: number): Promise<number[]> => {
        const times: number[] = [];
        for (let i = 0; i < count; i++) {
          // Mesos offers again what the last task freed, and the rest of the agent, at its next
          // allocation; the scheduler holds offers while it has work or was idle < offerHoldMs.
          await offerHeld(scheduler, 5000, `before held-offer submit ${i + 1} of ${count}`);
          const ms = await timedRun(scheduler);
          if (ms !== undefined) times.push(ms);
        }
        return times.sort((a, b) => a - b);
      };
      const warmUp = async (scheduler: TaskScheduler): Promise<void> => {
        await drain(scheduler, warm, CONCURRENCY);
        await drain(scheduler, 20, 1);
      };
      const p = (times: number[], at: number): number =>
        times.length > 0 ? percentile(times, at) : Number.NaN;
      const fast = await withScheduler(
        async (scheduler) => {
          await warmUp(scheduler);
          return heldRuns(scheduler, held);
        },
        { cluster: { allocationIntervalMs: 5 } },
      );
      const [slow, plainTimes] = await withScheduler(async (scheduler) => {
        await warmUp(scheduler);
        const slowTimes = await heldRuns(scheduler, idle);
        const times: number[] = [];
        for (let i = 0; i < plain; i++) {
          const ms = await timedRun(scheduler);
          if (ms !== undefined) times.push(ms);
        }
        return [slowTimes, times.sort((a, b) => a - b)] as const;
      });
      return {
        'p50-ms': p(fast, 50),
        'p99-ms': p(fast, 99),
        'idle-p50-ms': p(slow, 50),
        'plain-p50-ms': p(plainTimes, 50),
        stalls,
      };
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
