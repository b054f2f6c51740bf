/**
 * TaskScheduler end to end: the local cluster (master + 2 agents, real HTTP), the real
 * mesoskit-executor processes, the fixture handlers. One cluster for the file, a fresh framework
 * (and scheduler) per test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalCluster, startLocalCluster } from '../../../local-cluster/src/index.js';
import { type TaskRunEvent, TaskScheduler, type TaskSchedulerOptions } from '../../src/index.js';
import { bad, chatty, crashOnce, flaky, hang, slow, square, whoami } from '../fixtures/handlers/tasks.js';
import { testExecutor, within } from '../helpers/executor.js';

let cluster: LocalCluster;

beforeAll(async () => {
  cluster = await startLocalCluster({ agents: 2, allocationIntervalMs: 20 });
});

afterAll(async () => {
  await cluster?.stop();
});

let n = 0;
function connect(options: Partial<TaskSchedulerOptions> = {}): Promise<TaskScheduler> {
  return TaskScheduler.connect({
    master: cluster.masterUrl,
    framework: { name: `task-scheduler-it-${++n}` },
    executors: testExecutor(),
    retry: { backoff: { initialMs: 10, maxMs: 50 } },
    ...options,
  });
}

/** The states Mesos reports for a framework's tasks (`/master/state`). */
async function taskStates(frameworkId: string): Promise<Record<string, string>> {
  const state = (await cluster.state()) as {
    frameworks: {
      id: string;
      tasks: { id: string; state: string }[];
      completed_tasks: { id: string; state: string }[];
    }[];
    completed_frameworks?: {
      id: string;
      tasks: { id: string; state: string }[];
      completed_tasks: { id: string; state: string }[];
    }[];
  };
  const fw = [...state.frameworks, ...(state.completed_frameworks ?? [])].find((f) => f.id === frameworkId);
  const out: Record<string, string> = {};
  for (const t of [...(fw?.completed_tasks ?? []), ...(fw?.tasks ?? [])]) out[t.id] = t.state;
  return out;
}

async function collect(events: AsyncIterable<TaskRunEvent>): Promise<TaskRunEvent[]> {
  const out: TaskRunEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

describe('TaskScheduler on the local cluster', () => {
  it('runs 1,000 tasks with correct results, reusing one executor per agent', async () => {
    await using scheduler = await connect();
    const inputs = Array.from({ length: 1000 }, (_, i) => i);
    const seen = new Map<number, number>();
    for await (const { index, input, output } of scheduler.map(
      square,
      inputs.map((i) => ({ n: i })),
      {
        concurrency: 200,
      },
    )) {
      expect(input.n).toBe(index);
      expect(output).toEqual({ n: index, square: index * index });
      expect(seen.has(index)).toBe(false);
      seen.set(index, output.square);
    }
    expect(seen.size).toBe(1000);
    const c = scheduler.counters();
    expect(c.succeeded).toBe(1000);
    expect(c.failed).toBe(0);
    expect(c.launches).toBe(1000);
    expect(c.executorsLaunched).toBeLessThanOrEqual(2);
    expect(c.updates.TASK_FINISHED).toBe(1000);
  }, 120_000);

  it('map() yields results in input order with ordered: true', async () => {
    await using scheduler = await connect();
    const got: number[] = [];
    for await (const r of scheduler.map(
      slow,
      [30, 1, 20, 1, 10].map((ms, i) => ({ ms, tag: String(i) })),
      {
        ordered: true,
      },
    )) {
      got.push(Number(r.output.tag));
    }
    expect(got).toEqual([0, 1, 2, 3, 4]);
  }, 60_000);

  it('retries a failing handler and returns the attempt that succeeded', async () => {
    await using scheduler = await connect();
    const run = scheduler.submit(flaky, { failAttempts: 2 }, { retry: { maxAttempts: 3 } });
    const events = collect(run.events());
    await expect(within(run.result(), 30_000, 'flaky task did not settle')).resolves.toEqual({ attempt: 3 });
    const types = (await events).map((e) => e.type);
    expect(types.filter((t) => t === 'retrying')).toHaveLength(2);
    expect(types.at(-1)).toBe('succeeded');
    expect(scheduler.counters().retries).toBe(2);
  }, 60_000);

  it('gives up after maxAttempts with TaskFailedError whose cause is the remote error', async () => {
    await using scheduler = await connect();
    const err = await scheduler
      .run(flaky, { failAttempts: 5 }, { retry: { maxAttempts: 2 } })
      .catch((e) => e);
    expect(err).toMatchObject({ name: 'TaskFailedError', code: 'TASK_FAILED', attempts: 2 });
    expect(err.cause).toMatchObject({
      name: 'Error',
      message: 'attempt 2 fails on purpose',
      retryable: true,
    });
  }, 60_000);

  it('does not retry a NonRetryableError', async () => {
    await using scheduler = await connect();
    const err = await scheduler.run(bad, { why: 'no good' }, { retry: { maxAttempts: 5 } }).catch((e) => e);
    expect(err).toMatchObject({ code: 'TASK_FAILED', attempts: 1 });
    expect(err.cause).toMatchObject({
      name: 'NonRetryableError',
      code: 'BAD_INPUT',
      retryable: false,
      message: 'no good',
    });
  }, 60_000);

  it('kills a task at its timeout: TaskTimeoutError, and Mesos ends it TASK_KILLED', async () => {
    await using scheduler = await connect();
    // A warm executor, so that the timeout falls while the handler runs, not while it starts.
    await scheduler.run(square, { n: 2 });
    const run = scheduler.submit(hang, {}, { timeoutMs: 3000 });
    const events = collect(run.events());
    await expect(within(run.result(), 30_000, 'hanging task did not time out')).rejects.toMatchObject({
      name: 'TaskTimeoutError',
      code: 'TASK_TIMEOUT',
      timeoutMs: 3000,
    });
    expect((await events).map((e) => e.type)).toContain('running');
    const frameworkId = scheduler.frameworkId!;
    await within(
      (async () => {
        for (;;) {
          const states = await taskStates(frameworkId);
          if (states[`${run.taskId}.1`] === 'TASK_KILLED') return;
          await new Promise((resolve) => setImmediate(resolve));
        }
      })(),
      15_000,
      'the master never reported the timed-out task TASK_KILLED',
    );
  }, 60_000);

  it('cancel() and an aborted signal kill the task and reject with TaskCancelledError', async () => {
    await using scheduler = await connect();
    const run = scheduler.submit(hang, {});
    for await (const e of run.events()) if (e.type === 'running') break;
    run.cancel('enough');
    await expect(run.result()).rejects.toMatchObject({
      code: 'TASK_CANCELLED',
      message: expect.stringContaining('enough'),
    });

    const controller = new AbortController();
    const viaSignal = scheduler.submit(hang, {}, { signal: controller.signal });
    for await (const e of viaSignal.events()) if (e.type === 'running') break;
    controller.abort(new Error('user gave up'));
    const err = await viaSignal.result().catch((e) => e);
    expect(err).toMatchObject({ code: 'TASK_CANCELLED' });
    expect(err.cause).toMatchObject({ message: 'user gave up' });
  }, 60_000);

  it('retries a task whose executor was killed mid-task, and it succeeds', async () => {
    await using scheduler = await connect();
    const result = await within(scheduler.run(crashOnce, {}), 60_000, 'crash-once task did not settle');
    expect(result.attempt).toBe(2);
    const c = scheduler.counters();
    expect(c.retries).toBe(1);
    expect(c.executorsLost).toBeGreaterThanOrEqual(1);
  }, 90_000);

  it('delivers messages and progress as task events', async () => {
    await using scheduler = await connect();
    const run = scheduler.submit(chatty, { count: 3, ms: 300 });
    const events = await collect(run.events());
    await expect(run.result()).resolves.toBe(3);
    const messages = events.filter((e) => e.type === 'message').map((e) => (e as { data: unknown }).data);
    // Framework messages are best effort; on loopback none is lost.
    expect(messages).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }]);
    expect(events.some((e) => e.type === 'progress')).toBe(true);
  }, 60_000);

  it('routes tasks to two executor definitions', async () => {
    await using scheduler = await connect({
      executors: [testExecutor({ name: 'main' }), testExecutor({ name: 'side', tasks: [whoami] })],
    });
    const [a, b] = await Promise.all([scheduler.run(whoami, {}), scheduler.run(slow, { ms: 1, tag: 'x' })]);
    expect(a.executorId).toMatch(/^side/);
    expect(b.executorId).toMatch(/^main/);
  }, 60_000);

  it('loses and duplicates nothing when the subscription drops while tasks run', async () => {
    await using scheduler = await connect({ reconnect: { initialMs: 50, maxMs: 200 } });
    const runs = Array.from({ length: 40 }, (_, i) => scheduler.submit(slow, { ms: 300, tag: String(i) }));
    let dropped = false;
    const off = scheduler.on('task', (e) => {
      if (!dropped && e.type === 'running') {
        dropped = true;
        expect(cluster.faults.dropSubscription(scheduler.frameworkId!)).toBe(true);
      }
    });
    const results = await within(Promise.all(runs.map((r) => r.result())), 60_000, 'not every task settled');
    off();
    expect(dropped).toBe(true);
    expect(results.map((r) => r.tag)).toEqual(runs.map((_, i) => String(i)));
    const c = scheduler.counters();
    expect(c.reconnects).toBeGreaterThanOrEqual(1);
    expect(c.succeeded).toBe(40);
    expect(c.failed).toBe(0);
  }, 90_000);

  it('abortOnFailure: the first failed task aborts the run', async () => {
    const scheduler = await connect({ abortOnFailure: true });
    const slowOne = scheduler.submit(hang, {});
    const failing = scheduler.submit(bad, { why: 'abort please' });
    await expect(failing.result()).rejects.toMatchObject({ code: 'TASK_FAILED' });
    await expect(slowOne.result()).rejects.toMatchObject({ code: 'SCHEDULER_ABORTED' });
    const closed = await within(scheduler.closed(), 15_000, 'the scheduler did not close after the abort');
    expect(closed).toMatchObject({
      code: 'SCHEDULER_ABORTED',
      message: expect.stringContaining('TASK_FAILED'),
    });
    expect(() => scheduler.submit(square, { n: 1 })).toThrow(/abort/);
  }, 60_000);

  it('stop() drains: waits for running tasks, then shuts its executors down', async () => {
    const scheduler = await connect();
    const run = scheduler.submit(slow, { ms: 200, tag: 'drain' });
    await scheduler.stop();
    await expect(run.result()).resolves.toMatchObject({ tag: 'drain' });
    expect(scheduler.pending).toBe(0);
    await expect(scheduler.closed()).resolves.toBeUndefined();
  }, 60_000);
});
