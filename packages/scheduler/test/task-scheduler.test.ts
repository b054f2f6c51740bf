/**
 * TaskScheduler against a fake master (node:http writing RecordIO): the calls it makes for
 * offers, updates and reconnects, and exactly-once settling when updates are redelivered or
 * arrive from a stale attempt.
 */
import { randomUUID } from 'node:crypto';
import {
  defineTask,
  encodeMessageEnvelope,
  encodeResultEnvelope,
  type Offer,
  parseResources,
  type TaskInfo,
  type TaskStatus,
} from '@mesoskit/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nodeExecutor, type TaskRunEvent, TaskScheduler, type TaskSchedulerOptions } from '../src/index.js';
import { FakeMaster, type RecordedRequest, within } from './fake-master.js';

const echo = defineTask<{ text: string }, { text: string }>('fake.echo', {
  resources: { cpus: 0.5, memMb: 64 },
});
const huge = defineTask<null, null>('fake.huge', { resources: { cpus: 64, memMb: 64 } });

let master: FakeMaster;
let scheduler: TaskScheduler | undefined;
let offerSeq = 0;

beforeEach(async () => {
  master = await FakeMaster.start();
});

afterEach(async () => {
  await scheduler?.stop({ teardown: true }).catch(() => {});
  scheduler = undefined;
  await master.stop();
});

async function connect(options: Partial<TaskSchedulerOptions> = {}): Promise<TaskScheduler> {
  scheduler = await TaskScheduler.connect({
    master: master.url,
    framework: { name: 'fake-test' },
    executors: nodeExecutor({ handlers: '/opt/handlers.js' }),
    retry: { backoff: { initialMs: 1, maxMs: 1 } },
    ...options,
  });
  return scheduler;
}

function offer(agent: string, resources = 'cpus:2;mem:1024'): Offer {
  return {
    id: { value: `offer-${++offerSeq}` },
    framework_id: { value: master.frameworkId },
    agent_id: { value: agent },
    hostname: `${agent}.local`,
    resources: parseResources(resources).map((r) => ({ ...r, allocation_info: { role: '*' } })),
  };
}

function sendOffers(...offers: Offer[]): void {
  master.last.send({ type: 'OFFERS', offers: { offers } });
}

function update(task: TaskInfo, state: TaskStatus['state'], extra: Partial<TaskStatus> = {}): TaskStatus {
  return {
    task_id: task.task_id,
    agent_id: task.agent_id,
    state,
    source: 'SOURCE_EXECUTOR',
    uuid: new Uint8Array(Buffer.from(randomUUID().replace(/-/g, ''), 'hex')),
    ...extra,
  };
}

function sendUpdate(status: TaskStatus): void {
  master.last.send({ type: 'UPDATE', update: { status } });
}

const finished = (task: TaskInfo, output: unknown) =>
  update(task, 'TASK_FINISHED', { data: encodeResultEnvelope({ ok: true, output }) });

function launched(req: RecordedRequest): TaskInfo[] {
  return req.call.accept?.operations?.flatMap((op) => op.launch?.task_infos ?? []) ?? [];
}

function callsOf(type: string, from = 0): RecordedRequest[] {
  return master.requests.slice(from).filter((r) => r.call.type === type);
}

/** Waits for the `n`th call of `type` (from 1) and returns it. */
async function nthCall(type: string, n: number): Promise<RecordedRequest> {
  await master.waitForRequest(`${n} ${type} calls`, () => callsOf(type).length >= n);
  return callsOf(type)[n - 1]!;
}

async function collect(events: AsyncIterable<TaskRunEvent>): Promise<TaskRunEvent[]> {
  const out: TaskRunEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

describe('TaskScheduler against a fake master', () => {
  it('packs tasks into one ACCEPT per agent, combining its offers, charging the executor once', async () => {
    const s = await connect();
    const runs = [1, 2, 3, 4, 5].map((i) => s.submit(echo, { text: `t${i}` }));
    // Agent a: two offers summing 1.2 cpus → executor 0.1 + 2 tasks of 0.5; agent b takes the rest.
    sendOffers(
      offer('a', 'cpus:0.6;mem:1024'),
      offer('a', 'cpus:0.6;mem:1024'),
      offer('b', 'cpus:4;mem:4096'),
    );
    await nthCall('ACCEPT', 2);
    const [first, second] = callsOf('ACCEPT');
    const byAgent = new Map([first!, second!].map((r) => [launched(r)[0]!.agent_id.value, r]));
    const a = byAgent.get('a')!;
    expect(a.call.accept?.offer_ids?.map((o) => o.value).sort()).toEqual(['offer-1', 'offer-2']);
    expect(a.call.accept?.filters).toEqual({ refuse_seconds: 0 });
    expect(launched(a)).toHaveLength(2);
    expect(launched(byAgent.get('b')!)).toHaveLength(3);
    const all = [...launched(a), ...launched(byAgent.get('b')!)];
    // The same ExecutorInfo on every task of an agent, with the executor's resources once.
    const execA = launched(a).map((t) => t.executor);
    expect(execA[0]).toEqual(execA[1]);
    expect(execA[0]?.executor_id.value).toBe('mesoskit');
    expect(execA[0]?.resources?.map((r) => [r.name, r.scalar?.value])).toEqual([
      ['cpus', 0.1],
      ['mem', 64],
    ]);
    expect(execA[0]?.command?.value).toBe('mesoskit-executor --handlers /opt/handlers.js');
    for (const t of all) sendUpdate(finished(t, { text: t.name }));
    await within('every result', 5000, Promise.all(runs.map((r) => r.result())));
    expect(runs.map((r) => r.taskId)).toEqual(all.map((t) => t.task_id.value.replace(/\.1$/, '')).sort());
  });

  it('settles once when the terminal update is redelivered, and acknowledges both deliveries', async () => {
    const s = await connect();
    const run = s.submit(echo, { text: 'once' });
    const events = collect(run.events());
    sendOffers(offer('a'));
    const [task] = launched(await master.waitForCall('ACCEPT'));
    sendUpdate(update(task!, 'TASK_RUNNING'));
    const done = finished(task!, { text: 'first' });
    sendUpdate(done);
    sendUpdate({ ...done, data: encodeResultEnvelope({ ok: true, output: { text: 'second' } }) });
    await expect(run.result()).resolves.toEqual({ text: 'first' });
    await nthCall('ACKNOWLEDGE', 3);
    expect((await events).map((e) => e.type)).toEqual(['queued', 'launched', 'running', 'succeeded']);
    expect(s.counters()).toMatchObject({
      succeeded: 1,
      failed: 0,
      updates: { TASK_RUNNING: 1, TASK_FINISHED: 2 },
    });
  });

  it('ignores a TASK_RUNNING that arrives after its TASK_FINISHED (a resend overtaken), and kills unknown running tasks', async () => {
    const s = await connect();
    const run = s.submit(echo, { text: 'late' });
    sendOffers(offer('a'));
    const [task] = launched(await master.waitForCall('ACCEPT'));
    sendUpdate(finished(task!, { text: 'late' }));
    await expect(run.result()).resolves.toEqual({ text: 'late' });
    sendUpdate(update(task!, 'TASK_RUNNING'));
    sendUpdate(update({ ...task!, task_id: { value: 'someone-else.1' } }, 'TASK_RUNNING'));
    const kill = await master.waitForCall('KILL');
    expect(kill.call.kill?.task_id.value).toBe('someone-else.1');
    await nthCall('ACKNOWLEDGE', 3);
    expect(callsOf('KILL')).toHaveLength(1);
  });

  it('retries a lost attempt, ignores the stale attempt when it reports late, and kills it', async () => {
    const s = await connect();
    const run = s.submit(echo, { text: 'x' });
    sendOffers(offer('a'));
    const [t1] = launched(await master.waitForCall('ACCEPT'));
    sendUpdate(update(t1!, 'TASK_LOST', { source: 'SOURCE_MASTER', reason: 'REASON_AGENT_REMOVED' }));
    // It was only partitioned and is running still: the scheduler kills what it gave up on.
    sendUpdate(update(t1!, 'TASK_RUNNING'));
    sendOffers(offer('b'));
    const [t2] = launched(await nthCall('ACCEPT', 2));
    expect(t2!.task_id.value).toBe(`${run.taskId}.2`);
    expect(t2!.data).toBeDefined();
    // Attempt 1 comes back (the agent was only partitioned) and finishes first: not our result.
    sendUpdate(finished(t1!, { text: 'stale' }));
    sendUpdate(finished(t2!, { text: 'fresh' }));
    await expect(run.result()).resolves.toEqual({ text: 'fresh' });
    expect(callsOf('KILL').map((r) => r.call.kill?.task_id.value)).toEqual([t1!.task_id.value]);
    expect(s.counters().retries).toBe(1);
  });

  it('says why a task is pending, in its events', async () => {
    const s = await connect();
    const run = s.submit(huge, null);
    const it = run.events()[Symbol.asyncIterator]();
    expect((await it.next()).value).toEqual({ type: 'queued', attempt: 1 });
    sendOffers(offer('a', 'cpus:2;mem:1024'));
    expect((await within('a pending reason', 3000, it.next())).value).toEqual({
      type: 'queued',
      attempt: 1,
      reason: 'not enough cpus: needs 64.1, largest offer has 2',
    });
    run.cancel();
    await expect(run.result()).rejects.toMatchObject({ code: 'TASK_CANCELLED' });
  });

  it('suppresses when idle, declines held offers with a long filter, revives when work arrives', async () => {
    const s = await connect({ offerHoldMs: 50, idleRefuseSeconds: 30, reviveIntervalMs: 0 });
    const run = s.submit(echo, { text: 'a' });
    sendOffers(offer('a'));
    const [task] = launched(await master.waitForCall('ACCEPT'));
    sendUpdate(finished(task!, { text: 'a' }));
    await run.result();
    await master.waitForCall('SUPPRESS');
    const from = master.requests.length;
    sendOffers(offer('a'));
    const decline = await master.waitForCall('DECLINE', { from });
    expect(decline.call.decline?.filters).toEqual({ refuse_seconds: 30 });
    const second = s.submit(echo, { text: 'b' });
    await master.waitForCall('REVIVE', { from });
    sendOffers(offer('a'));
    const [t2] = launched(await master.waitForCall('ACCEPT', { from }));
    sendUpdate(finished(t2!, { text: 'b' }));
    await expect(second.result()).resolves.toEqual({ text: 'b' });
    expect(s.counters()).toMatchObject({ suppresses: expect.any(Number), revives: 1, offersDeclined: 1 });
  });

  it('launches at once from an offer it holds while idle', async () => {
    const s = await connect({ offerHoldMs: 60_000 });
    sendOffers(offer('a'));
    await within(
      'the offer to be held',
      3000,
      new Promise<void>((resolve) => {
        const off = s.on('offers', () => {
          off();
          resolve();
        });
      }),
    );
    const from = master.requests.length;
    s.submit(echo, { text: 'fast' });
    const accept = await master.waitForCall('ACCEPT', { from });
    expect(accept.call.accept?.offer_ids).toEqual([{ value: `offer-${offerSeq}` }]);
    expect(callsOf('REVIVE', from)).toHaveLength(0);
  });

  it('does not use a rescinded offer', async () => {
    const s = await connect({ offerHoldMs: 60_000 });
    sendOffers(offer('a'));
    await within('the offer round', 3000, new Promise<void>((resolve) => s.on('offers', () => resolve())));
    master.last.send({ type: 'RESCIND', rescind: { offer_id: { value: `offer-${offerSeq}` } } });
    await within(
      'the rescind',
      3000,
      (async () => {
        while (s.counters().offersRescinded === 0) await new Promise((r) => setImmediate(r));
      })(),
    );
    const from = master.requests.length;
    s.submit(echo, { text: 'later' });
    sendOffers(offer('b'));
    const accept = await master.waitForCall('ACCEPT', { from });
    expect(launched(accept)[0]?.agent_id.value).toBe('b');
  });

  it('reconciles its launched tasks after a resubscribe and retries those Mesos lost', async () => {
    const s = await connect({ reconnect: { initialMs: 10, maxMs: 20 } });
    const run = s.submit(echo, { text: 'r' });
    sendOffers(offer('a'));
    const [t1] = launched(await master.waitForCall('ACCEPT'));
    sendUpdate(update(t1!, 'TASK_RUNNING'));
    const from = master.requests.length;
    master.last.destroy();
    const reconcile = await master.waitForCall('RECONCILE', { from });
    expect(reconcile.call.reconcile?.tasks).toEqual([{ task_id: t1!.task_id, agent_id: t1!.agent_id }]);
    expect(reconcile.headers['mesos-stream-id']).toBe(master.last.streamId);
    // The master's answer: it does not know the task (no uuid: not acknowledged).
    sendUpdate({
      ...update(t1!, 'TASK_LOST', { source: 'SOURCE_MASTER', reason: 'REASON_RECONCILIATION' }),
      uuid: undefined,
    });
    sendOffers(offer('a'));
    const [t2] = launched(await master.waitForCall('ACCEPT', { from }));
    sendUpdate(finished(t2!, { text: 'r' }));
    await expect(run.result()).resolves.toEqual({ text: 'r' });
    expect(
      callsOf('ACKNOWLEDGE', from).every((r) => r.call.acknowledge?.task_id.value !== t1!.task_id.value),
    ).toBe(true);
  });

  it('ignores a reconciliation FINISHED without data and waits for the reliable update', async () => {
    const s = await connect();
    const run = s.submit(echo, { text: 'q' });
    sendOffers(offer('a'));
    const [t1] = launched(await master.waitForCall('ACCEPT'));
    sendUpdate({
      ...update(t1!, 'TASK_FINISHED', { source: 'SOURCE_MASTER', reason: 'REASON_RECONCILIATION' }),
      uuid: undefined,
    });
    sendUpdate(finished(t1!, { text: 'q' }));
    await expect(run.result()).resolves.toEqual({ text: 'q' });
  });

  it('turns a TASK_FAILED without a result (executor gone) into a retry, and a failure envelope into RemoteTaskError', async () => {
    const s = await connect({ retry: { maxAttempts: 2, backoff: { initialMs: 1 } } });
    const run = s.submit(echo, { text: 'f' });
    sendOffers(offer('a'));
    const [t1] = launched(await master.waitForCall('ACCEPT'));
    sendUpdate(update(t1!, 'TASK_FAILED', { source: 'SOURCE_AGENT', reason: 'REASON_EXECUTOR_TERMINATED' }));
    master.last.send({
      type: 'FAILURE',
      failure: { agent_id: t1!.agent_id, executor_id: { value: 'mesoskit' }, status: 9 },
    });
    sendOffers(offer('a'));
    const [t2] = launched(await nthCall('ACCEPT', 2));
    // The old executor died: a new executor id, so the agent does not mix it up with the old run.
    expect(t2!.executor?.executor_id.value).toBe('mesoskit.1');
    sendUpdate(
      update(t2!, 'TASK_FAILED', {
        data: encodeResultEnvelope({
          ok: false,
          failure: { name: 'TypeError', message: 'nope', retryable: true, code: 'E1' },
        }),
      }),
    );
    const err = await run.result().catch((e) => e);
    expect(err).toMatchObject({ code: 'TASK_FAILED', attempts: 2 });
    expect(err.cause).toMatchObject({ name: 'TypeError', code: 'E1', message: 'nope' });
  });

  it('routes framework messages to the task events, and sends messages to the task', async () => {
    const s = await connect();
    const run = s.submit(echo, { text: 'm' });
    const events = collect(run.events());
    sendOffers(offer('a'));
    const [t1] = launched(await master.waitForCall('ACCEPT'));
    sendUpdate(update(t1!, 'TASK_RUNNING'));
    master.last.send({
      type: 'MESSAGE',
      message: {
        agent_id: t1!.agent_id,
        executor_id: { value: 'mesoskit' },
        data: encodeMessageEnvelope({ kind: 'progress', taskId: t1!.task_id.value, data: 0.5 }),
      },
    });
    master.last.send({
      type: 'MESSAGE',
      message: { agent_id: t1!.agent_id, executor_id: { value: 'mesoskit' }, data: new Uint8Array([0xc1]) },
    });
    await within(
      'the progress event',
      3000,
      (async () => {
        while (s.counters().messagesReceived < 2) await new Promise((r) => setImmediate(r));
      })(),
    );
    await run.send({ hello: 1 });
    const msg = await master.waitForCall('MESSAGE');
    expect(msg.call.message).toMatchObject({ agent_id: t1!.agent_id, executor_id: { value: 'mesoskit' } });
    sendUpdate(finished(t1!, { text: 'm' }));
    await run.result();
    const types = (await events).map((e) => e.type);
    expect(types).toEqual(['queued', 'launched', 'running', 'progress', 'succeeded']);
    expect(s.counters().messagesUndecodable).toBe(1);
  });

  it('launches into a small offer where its executor runs, and starts a new one when the master no longer counts it', async () => {
    const s = await connect({ retry: { maxAttempts: 1 } });
    const first = s.submit(echo, { text: 'one' });
    sendOffers(offer('a'));
    const [t1] = launched(await master.waitForCall('ACCEPT'));
    sendUpdate(update(t1!, 'TASK_RUNNING'));
    sendUpdate(finished(t1!, { text: 'one' }));
    await first.result();
    // What the finished task freed: room for the task, none for another executor.
    const second = s.submit(echo, { text: 'two' });
    sendOffers(offer('a', 'cpus:0.5;mem:64'));
    const [t2] = launched(await nthCall('ACCEPT', 2));
    expect(t2!.executor?.executor_id.value).toBe('mesoskit');
    sendUpdate(finished(t2!, { text: 'two' }));
    await expect(second.result()).resolves.toEqual({ text: 'two' });
    // The executor died and the master knows before we do: it charges a new executor, which
    // does not fit, and refuses the task. Not an attempt (maxAttempts is 1): requeued, and the
    // next launch starts a new executor with room for it.
    const third = s.submit(echo, { text: 'three' });
    sendOffers(offer('a', 'cpus:0.5;mem:64'));
    const [t3] = launched(await nthCall('ACCEPT', 3));
    expect(t3!.executor?.executor_id.value).toBe('mesoskit');
    sendUpdate(
      update(t3!, 'TASK_ERROR', {
        source: 'SOURCE_MASTER',
        reason: 'REASON_TASK_INVALID',
        message:
          'Total resources cpus(allocated: *):0.6; mem(allocated: *):128 required by task and its executor is more than available cpus(allocated: *):0.5; mem(allocated: *):64',
      }),
    );
    sendOffers(offer('a'));
    const [t4] = launched(await nthCall('ACCEPT', 4));
    expect(t4!.executor?.executor_id.value).toBe('mesoskit.1');
    expect(t4!.task_id.value).toBe(`${third.taskId}.2`);
    sendUpdate(finished(t4!, { text: 'three' }));
    await expect(third.result()).resolves.toEqual({ text: 'three' });
    expect(s.counters()).toMatchObject({ retries: 0, launchesRequeued: 1 });
  });

  it('never combines offers of one agent allocated to different roles (multi-role frameworks)', async () => {
    const s = await connect({ framework: { name: 'fake-test', roles: ['x', 'y'] } });
    const runs = [1, 2].map((i) => s.submit(echo, { text: `r${i}` }));
    const forRole = (o: Offer, role: string): Offer => ({
      ...o,
      allocation_info: { role },
      resources: (o.resources ?? []).map((r) => ({ ...r, allocation_info: { role } })),
    });
    // Each offer holds the executor and one task; together they would hold both tasks.
    sendOffers(forRole(offer('a', 'cpus:0.6;mem:128'), 'x'), forRole(offer('a', 'cpus:0.6;mem:128'), 'y'));
    const accepts = [await nthCall('ACCEPT', 1), await nthCall('ACCEPT', 2)];
    for (const a of accepts) expect(a.call.accept?.offer_ids).toHaveLength(1);
    const tasks = accepts.flatMap(launched);
    expect(tasks).toHaveLength(2);
    const roles = tasks.map((t) => t.resources?.map((r) => r.allocation_info?.role));
    expect(roles.map((r) => [...new Set(r)])).toEqual(expect.arrayContaining([['x'], ['y']]));
    for (const t of tasks) sendUpdate(finished(t, { text: 'ok' }));
    await within('both results', 5000, Promise.all(runs.map((r) => r.result())));
  });

  it('keeps each ACCEPT within maxAcceptBytes; a task the master refuses as too large alone fails', async () => {
    master.respond = (req) =>
      req.call.type === 'ACCEPT' && launched(req).some((t) => t.data!.byteLength > 5000)
        ? { status: 413, body: 'Request Entity Too Large' }
        : 'default';
    const s = await connect({ maxAcceptBytes: 2500 });
    const text = 'x'.repeat(1000);
    const runs = [1, 2, 3].map((i) => s.submit(echo, { text: `${i}${text}` }));
    sendOffers(offer('a'));
    const first = launched(await nthCall('ACCEPT', 1));
    expect(first).toHaveLength(2);
    sendOffers(offer('a'));
    const second = launched(await nthCall('ACCEPT', 2));
    expect(second).toHaveLength(1);
    for (const t of [...first, ...second]) sendUpdate(finished(t, { text: 'ok' }));
    await within('three results', 5000, Promise.all(runs.map((r) => r.result())));

    const huge = s.submit(echo, { text: 'y'.repeat(6000) });
    sendOffers(offer('a'));
    await nthCall('ACCEPT', 3);
    const err = await huge.result().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TASK_FAILED' });
    expect((err as Error).message).toMatch(/larger than the master accepts/);
    expect(s.counters().acceptsFailed).toBe(1);
  });

  it('requeues the tasks of an ACCEPT the master refused', async () => {
    let refused = false;
    master.respond = (req) => {
      if (req.call.type === 'ACCEPT' && !refused) {
        refused = true;
        return { status: 400, body: 'Failed to validate scheduler::Call: bad' };
      }
      return 'default';
    };
    const s = await connect();
    const run = s.submit(echo, { text: 'again' });
    sendOffers(offer('a'));
    await master.waitForCall('ACCEPT');
    sendOffers(offer('a'));
    const [t2] = launched(await nthCall('ACCEPT', 2));
    sendUpdate(finished(t2!, { text: 'again' }));
    await expect(run.result()).resolves.toEqual({ text: 'again' });
  });

  it('rejects submits of tasks no executor runs, and bad options', async () => {
    const other = defineTask<null, null>('fake.other');
    const s = await connect({ executors: nodeExecutor({ handlers: '/h.js', tasks: [echo] }) });
    expect(() => s.submit(other, null)).toThrow(/no executor runs task fake.other/);
    expect(() => s.submit(echo, { text: '' }, { timeoutMs: -1 })).toThrow(/timeoutMs/);
    expect(() => s.submit(echo, { text: '' }, { retry: { maxAttempts: 0 } })).toThrow(/retry.maxAttempts/);
    expect(() => s.submit(echo, { text: '' }, { resources: { cpus: 0 } })).toThrow(/resources.cpus/);
    await expect(
      TaskScheduler.connect({
        master: master.url,
        executors: [nodeExecutor({ handlers: '/a.js' }), nodeExecutor({ handlers: '/b.js', name: 'b' })],
      }),
    ).rejects.toThrow(/both leave out tasks/);
  });

  it('map() pulls inputs lazily: never more than `concurrency` submitted at once', async () => {
    const s = await connect();
    let pulled = 0;
    function* inputs() {
      for (let i = 0; i < 1_000_000; i++) {
        pulled++;
        yield { text: String(i) };
      }
    }
    const results: string[] = [];
    const consumer = (async () => {
      for await (const r of s.map(echo, inputs(), { concurrency: 3 })) {
        results.push(r.output.text);
        if (results.length === 5) break;
      }
    })();
    // Two rounds: 3 tasks in flight, they finish, 3 more are pulled; 5 results end the loop.
    for (const round of [1, 2]) {
      sendOffers(offer('a', 'cpus:8;mem:8192'));
      const accept = await nthCall('ACCEPT', round);
      expect(launched(accept)).toHaveLength(3);
      expect(s.pending).toBe(3);
      for (const t of launched(accept)) sendUpdate(finished(t, { text: t.task_id.value }));
    }
    await within('map to stop after 5 results', 5000, consumer);
    expect(results).toHaveLength(5);
    expect(pulled).toBeLessThanOrEqual(5 + 3);
    // Breaking out cancelled what was still in flight.
    expect(s.pending).toBe(0);
  });
});
