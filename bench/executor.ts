/**
 * The executor alone (`mesoskit-executor`, the built CLI) against the executor tests' fake agent:
 * cold start (spawn → SUBSCRIBE at the agent), executor CPU per no-op task in each encoding, and
 * 1,000 concurrent in-flight async tasks in one executor. CPU and memory come from /proc for the
 * executor process only (Linux).
 *
 * `MESOSKIT_BENCH_PROFILE=/some/dir pnpm bench --only executor` writes a CPU profile of every
 * executor process there (node --cpu-prof), one `.cpuprofile` file per process.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FakeAgent } from '../packages/executor/test/helpers/fake-agent.js';
import type { AsyncBenchCase } from './harness.js';

const CLI = fileURLToPath(new URL('../packages/executor/dist/cli.js', import.meta.url));
// In the executor package, so that it imports `@mesoskit/executor` by name as a user's module does.
const HANDLERS = fileURLToPath(new URL('../packages/executor/bench/handlers.mjs', import.meta.url));
const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

function startExecutor(agent: FakeAgent, args: string[] = []): ChildProcess {
  const profile = process.env.MESOSKIT_BENCH_PROFILE
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.MESOSKIT_BENCH_PROFILE}`]
    : [];
  return spawn(process.execPath, [...profile, CLI, '--handlers', HANDLERS, '--log-level', 'warn', ...args], {
    env: { PATH: process.env.PATH ?? '', ...agent.env() },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

function peakRssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmHWM:'))!;
  return Number(line.replace(/\D+/g, '')) / 1024;
}

async function stop(agent: FakeAgent, child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  agent.send({ type: 'SHUTDOWN' });
  await exited;
  await agent.close();
}

async function launchAll(agent: FakeAgent, n: number, task: string, input: unknown, prefix: string) {
  const finished = new Set<string>();
  const done = agent.waitForCall(
    `${n} ${prefix} tasks finished`,
    (c) => {
      const s = c.update?.status;
      if (s?.state === 'TASK_FINISHED' && s.task_id.value.startsWith(`${prefix}-`))
        finished.add(s.task_id.value);
      return finished.size >= n;
    },
    600_000,
    agent.calls.length,
  );
  for (let i = 0; i < n; i++) agent.launch(`${prefix}-${i}`, { task, taskVersion: 1, attempt: 1, input });
  await done;
}

async function coldStartMs(): Promise<number> {
  const agent = await FakeAgent.start();
  const t0 = performance.now();
  const child = startExecutor(agent);
  await agent.waitForCall('SUBSCRIBE', (c) => c.type === 'SUBSCRIBE', 10_000);
  const ms = performance.now() - t0;
  await stop(agent, child);
  return ms;
}

async function cpuPerTaskUs(n: number, encoding: 'json' | 'protobuf', args: string[] = []): Promise<number> {
  const agent = await FakeAgent.start();
  const child = startExecutor(agent, ['--concurrency', '64', '--encoding', encoding, ...args]);
  await agent.waitForCall('SUBSCRIBE', (c) => c.type === 'SUBSCRIBE', 10_000);
  await launchAll(agent, 200, 'bench.noop', null, 'warm'); // warm-up (JIT)
  const before = cpuMs(child.pid!);
  await launchAll(agent, n, 'bench.noop', null, 'noop');
  const cpu = cpuMs(child.pid!) - before;
  await stop(agent, child);
  return (cpu * 1000) / n;
}

export const executorCases: AsyncBenchCase[] = [
  {
    name: 'executor.cold-start',
    figures: { ms: 'ms spawn → SUBSCRIBE (median of 5 starts)' },
    targets: { ms: { max: 150, text: '≤ 150 ms' } },
    async run() {
      const times: number[] = [];
      for (let i = 0; i < 5; i++) times.push(await coldStartMs());
      times.sort((a, b) => a - b);
      return { ms: times[2]! };
    },
  },
  {
    name: 'executor.noop-tasks',
    figures: {
      'cpu-us-per-task-protobuf': 'µs executor CPU per task (protobuf)',
      'cpu-us-per-task-json': 'µs executor CPU per task (JSON)',
      'cpu-us-per-task-protobuf-running-at-once':
        'µs executor CPU per task (protobuf, --running-update-delay 0ms: TASK_RUNNING for every task)',
    },
    targets: { 'cpu-us-per-task-protobuf': { max: 60, text: '≤ 60 µs' } },
    async run(quick) {
      const n = quick ? 500 : 5000;
      return {
        'cpu-us-per-task-protobuf': await cpuPerTaskUs(n, 'protobuf'),
        'cpu-us-per-task-json': await cpuPerTaskUs(n, 'json'),
        'cpu-us-per-task-protobuf-running-at-once': await cpuPerTaskUs(n, 'protobuf', [
          '--running-update-delay',
          '0ms',
        ]),
      };
    },
  },
  {
    name: 'executor.in-flight-1000',
    figures: {
      'all-finished-ms': 'ms until 1,000 concurrent 1 s tasks all finished',
      'peak-rss-mb': 'MB peak executor RSS',
    },
    async run() {
      const agent = await FakeAgent.start();
      const child = startExecutor(agent, ['--concurrency', '1000']);
      await agent.waitForCall('SUBSCRIBE', (c) => c.type === 'SUBSCRIBE', 10_000);
      const t0 = performance.now();
      await launchAll(agent, 1000, 'bench.sleep', { ms: 1000 }, 'sleep');
      const allFinished = performance.now() - t0;
      const rss = peakRssMb(child.pid!);
      await stop(agent, child);
      return { 'all-finished-ms': allFinished, 'peak-rss-mb': rss };
    },
  },
];
