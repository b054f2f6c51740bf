/**
 * Executor bench: cold start (spawn → SUBSCRIBE at the agent), executor CPU per no-op task, and
 * 1,000 concurrent in-flight async tasks in one executor. The executor is the built CLI
 * (`dist/cli.js`, run `pnpm --filter @mesoskit/executor build` first) against the tests' fake
 * agent; CPU and memory are read from /proc for the executor process only (Linux).
 *
 *   node --import tsx packages/executor/bench/executor.bench.ts   → prints a JSON summary
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FakeAgent } from '../test/helpers/fake-agent.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const HANDLERS = fileURLToPath(new URL('./handlers.mjs', import.meta.url));
const TICK_MS = 10; // USER_HZ is 100 on Linux

function startExecutor(agent: FakeAgent, args: string[] = []): ChildProcess {
  return spawn(process.execPath, [CLI, '--handlers', HANDLERS, '--log-level', 'warn', ...args], {
    env: { PATH: process.env.PATH ?? '', ...agent.env() },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS; // utime + stime
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

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function coldStart(runs: number) {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const agent = await FakeAgent.start();
    const t0 = performance.now();
    const child = startExecutor(agent);
    await agent.waitForCall('SUBSCRIBE', (c) => c.type === 'SUBSCRIBE', 10_000);
    times.push(performance.now() - t0);
    await stop(agent, child);
  }
  return { runs, medianMs: round(quantile(times, 0.5)), p90Ms: round(quantile(times, 0.9)), targetMs: 150 };
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
  for (let i = 0; i < n; i++) {
    agent.launch(`${prefix}-${i}`, { task, taskVersion: 1, attempt: 1, input });
  }
  await done;
}

async function cpuPerTask(n: number, encoding: 'json' | 'protobuf', runningDelay = '0ms') {
  const agent = await FakeAgent.start();
  const child = startExecutor(agent, [
    '--concurrency',
    '64',
    '--encoding',
    encoding,
    '--running-update-delay',
    runningDelay,
  ]);
  await agent.waitForCall('SUBSCRIBE', (c) => c.type === 'SUBSCRIBE', 10_000);
  await launchAll(agent, 200, 'bench.noop', null, 'warm'); // warm-up (JIT)
  const before = cpuMs(child.pid!);
  const t0 = performance.now();
  await launchAll(agent, n, 'bench.noop', null, 'noop');
  const wallMs = performance.now() - t0;
  const cpu = cpuMs(child.pid!) - before;
  await stop(agent, child);
  const updates = agent.calls.filter(
    (c) => c.call.type === 'UPDATE' && c.call.update?.status.task_id.value.startsWith('noop-'),
  ).length;
  return {
    encoding,
    runningUpdateDelay: runningDelay,
    updatesPerTask: round(updates / n),
    tasks: n,
    executorCpuMs: cpu,
    cpuPerTaskUs: round((cpu * 1000) / n),
    wallMs: Math.round(wallMs), // bounded by the in-process fake agent, not a throughput figure
    targetCpuPerTaskUs: 60,
  };
}

async function inFlight(n: number) {
  const agent = await FakeAgent.start();
  const child = startExecutor(agent, ['--concurrency', String(n)]);
  await agent.waitForCall('SUBSCRIBE', (c) => c.type === 'SUBSCRIBE', 10_000);
  const t0 = performance.now();
  await launchAll(agent, n, 'bench.sleep', { ms: 1000 }, 'sleep');
  const allDoneMs = performance.now() - t0;
  const rss = peakRssMb(child.pid!);
  await stop(agent, child);
  return { tasks: n, handlerSleepMs: 1000, allFinishedAfterMs: Math.round(allDoneMs), peakRssMb: round(rss) };
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

const results = {
  coldStart: await coldStart(10),
  cpuPerNoopTask: [
    await cpuPerTask(5000, 'protobuf'),
    await cpuPerTask(5000, 'json'),
    await cpuPerTask(5000, 'protobuf', '5ms'),
  ],
  concurrentInFlight: await inFlight(1000),
};
process.stdout.write(`${JSON.stringify({ executor: results }, null, 2)}\n`);
