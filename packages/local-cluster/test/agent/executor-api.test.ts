import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  FRAMEWORK_ID,
  frameworkInfo,
  type Harness,
  postCall,
  request,
  startAgent,
  subscribe,
  task,
  testExecutor,
  uuidBytes,
  waitFor,
} from './helpers.js';

interface CapturedCase {
  name: string;
  method: string;
  path: string;
  headers: [string, string][];
  body_base64: string | null;
  status: number;
  body: string;
  contentType: string | null;
}

const CASES: CapturedCase[] = JSON.parse(
  readFileSync(new URL('./fixtures/capture-08-executor-errors.json', import.meta.url), 'utf8'),
);

let h: Harness | undefined;
afterEach(async () => {
  await h?.cleanup();
  h = undefined;
});

/** Starts an executor that never subscribes, so the test can act as it (state REGISTERING). */
async function registeringExecutor(executorId: string, mode = 'run', taskId = 't1'): Promise<void> {
  h!.agent.runTask({
    framework: frameworkInfo(),
    task: task(taskId, mode, testExecutor(executorId, { TEST_EXECUTOR_NEVER_SUBSCRIBE: '1' })),
  });
  await waitFor('executor process started', () => h!.agent.pidOf(FRAMEWORK_ID, executorId));
}

const ids = (executorId = 'e1') => ({
  executor_id: { value: executorId },
  framework_id: { value: FRAMEWORK_ID },
});

describe('executor API status codes', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('capture 08 %s', async (_name, c) => {
    h = await startAgent();
    const res = await request(h.agent.url, {
      method: c.method,
      path: c.path,
      headers: Object.fromEntries(c.headers),
      ...(c.body_base64 ? { body: Buffer.from(c.body_base64, 'base64') } : {}),
    });
    expect(res.status).toBe(c.status);
    if (c.name === '29-exec-invalid-json') {
      // Mesos names the position in its own parser's words; the prefix is what clients see.
      expect(res.body.startsWith('Failed to parse body into JSON: ')).toBe(true);
    } else {
      expect(res.body).toBe(c.body);
    }
    expect(res.headers['content-type']).toBe(c.contentType ?? undefined);
    if (c.status === 202) expect(res.headers['content-length']).toBe('0');
    if (c.status === 405) expect(res.headers.allow).toBe('POST');
  });

  it('protobuf garbage → 400 Failed to parse body into Call protobuf', async () => {
    h = await startAgent();
    const res = await request(h.agent.url, {
      headers: { 'Content-Type': 'application/x-protobuf' },
      body: Buffer.from([0xff, 0xff, 0xff]),
    });
    expect([res.status, res.body]).toEqual([400, 'Failed to parse body into Call protobuf']);
  });

  it('known framework: Executor cannot be found, 403 before SUBSCRIBE, executor id mismatch, 501 UNKNOWN', async () => {
    h = await startAgent();
    await registeringExecutor('e1');
    const url = h.agent.url;
    expect(
      await postCall(url, { ...ids('nope'), type: 'MESSAGE', message: { data: Buffer.from('x') } }),
    ).toMatchObject({
      status: 400,
      body: 'Executor cannot be found',
    });
    const status = {
      task_id: { value: 't1' },
      state: 'TASK_RUNNING' as const,
      source: 'SOURCE_EXECUTOR' as const,
    };
    expect(
      await postCall(url, { ...ids(), type: 'UPDATE', update: { status: { ...status, uuid: uuidBytes() } } }),
    ).toMatchObject({
      status: 403,
      body: 'Executor is not subscribed',
    });
    expect(
      await postCall(url, { ...ids(), type: 'MESSAGE', message: { data: Buffer.from('x') } }),
    ).toMatchObject({
      status: 403,
      body: 'Executor is not subscribed',
    });
    const mismatch = await postCall(url, {
      ...ids(),
      type: 'UPDATE',
      update: { status: { ...status, uuid: uuidBytes(), executor_id: { value: 'other' } } },
    });
    expect([mismatch.status, mismatch.body]).toEqual([
      400,
      'Failed to validate Executor::Call: ExecutorID in Call: e1 does not match ExecutorID in TaskStatus: other',
    ]);
    const update = await postCall(url, { ...ids(), type: 'UPDATE' });
    expect(update.body).toBe("Failed to validate Executor::Call: Expecting 'update' to be present");
    const message = await postCall(url, { ...ids(), type: 'MESSAGE' });
    expect(message.body).toBe("Failed to validate Executor::Call: Expecting 'message' to be present");
    const unknown = await postCall(url, { ...ids(), type: 'UNKNOWN' }, 'protobuf');
    expect(unknown.status).toBe(403); // still REGISTERING
    const sub = await subscribe(url, FRAMEWORK_ID, 'e1');
    await sub.waitEvent('SUBSCRIBED');
    const unknownAfter = await postCall(url, { ...ids(), type: 'UNKNOWN' }, 'protobuf');
    expect([unknownAfter.status, unknownAfter.body]).toEqual([501, '']);
    const heartbeat = await postCall(
      url,
      { ...ids(), type: 'HEARTBEAT' },
      'protobuf',
      '/slave(1)/api/v1/executor',
    );
    expect(heartbeat.status).toBe(202);
    const notFound = await request(url, { path: '/api/v1/nothing' });
    expect(notFound.status).toBe(404);
  });
});

describe('SUBSCRIBE handshake', () => {
  it('SUBSCRIBED with executor_info, framework_info, agent_info and container_id, then LAUNCH; head has no Mesos-Stream-Id', async () => {
    h = await startAgent();
    await registeringExecutor('e1', 'run', 't1');
    h.agent.runTask({
      framework: frameworkInfo(),
      task: task('t2', 'run', testExecutor('e1', { TEST_EXECUTOR_NEVER_SUBSCRIBE: '1' })),
    });
    const sub = await subscribe(h.agent.url, FRAMEWORK_ID, 'e1');
    expect(sub.status).toBe(200);
    expect(sub.headers['content-type']).toBe('application/json');
    expect(sub.headers['transfer-encoding']).toBe('chunked');
    expect(sub.headers['mesos-stream-id']).toBeUndefined();
    await sub.waitEvent('LAUNCH', 2);
    expect(sub.events.map((e) => e.type)).toEqual(['SUBSCRIBED', 'LAUNCH', 'LAUNCH']);
    const subscribed = sub.events[0]!.subscribed!;
    expect(subscribed.executor_info.executor_id.value).toBe('e1');
    expect(subscribed.executor_info.framework_id).toEqual({ value: FRAMEWORK_ID });
    expect(subscribed.framework_info).toMatchObject({
      id: { value: FRAMEWORK_ID },
      failover_timeout: 0,
      checkpoint: false,
    });
    expect(subscribed.executor_info.command?.environment?.variables?.[0]?.type).toBe('VALUE');
    expect(subscribed.agent_info).toMatchObject({
      hostname: 'localhost',
      port: h.agent.port,
      id: { value: h.agent.agentId },
    });
    expect(subscribed.agent_info.resources?.map((r) => r.name)).toEqual(['cpus', 'mem', 'disk', 'ports']);
    expect(subscribed.container_id?.value).toBe(h.agent.sandboxOf(FRAMEWORK_ID, 'e1')!.split('/').at(-1));
    expect(sub.events.slice(1).map((e) => e.launch?.task.task_id.value)).toEqual(['t1', 't2']);

    // A task for the RUNNING executor goes out at once.
    h.agent.runTask({
      framework: frameworkInfo(),
      task: task('t3', 'run', testExecutor('e1', { TEST_EXECUTOR_NEVER_SUBSCRIBE: '1' })),
    });
    expect((await sub.waitEvent('LAUNCH', 3)).launch?.task.task_id.value).toBe('t3');

    // A task group becomes one LAUNCH_GROUP.
    h.agent.runTask({
      framework: frameworkInfo(),
      executor: testExecutor('e1', { TEST_EXECUTOR_NEVER_SUBSCRIBE: '1' }),
      taskGroup: { tasks: [task('g1'), task('g2')] },
    });
    const group = await sub.waitEvent('LAUNCH_GROUP');
    expect(group.launch_group?.task_group.tasks?.map((t) => t.task_id.value)).toEqual(['g1', 'g2']);
    sub.close();
  });

  it('a second SUBSCRIBE ends the first stream; STAGING tasks not listed become TASK_LOST; unacknowledged updates are replayed', async () => {
    h = await startAgent();
    await registeringExecutor('e1', 'run', 't1');
    const first = await subscribe(h.agent.url, FRAMEWORK_ID, 'e1', 'protobuf');
    expect(first.headers['content-type']).toBe('application/x-protobuf');
    await first.waitEvent('LAUNCH');
    const uuid = uuidBytes();
    const second = await subscribe(h.agent.url, FRAMEWORK_ID, 'e1', 'json', {
      unacknowledged_updates: [
        { status: { task_id: { value: 't1' }, state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR', uuid } },
      ],
    });
    await waitFor('first stream ended', () => first.ended);
    await second.waitEvent('ACKNOWLEDGED');
    expect(second.events.map((e) => e.type)).toEqual(['SUBSCRIBED', 'ACKNOWLEDGED']);
    expect(Buffer.from(second.events[1]!.acknowledged!.uuid)).toEqual(Buffer.from(uuid));
    await h.master.waitUpdate('t1', 'TASK_RUNNING');

    // A task delivered but never acknowledged, missing from unacknowledged_tasks → TASK_LOST.
    h.agent.runTask({
      framework: frameworkInfo(),
      task: task('t2', 'run', testExecutor('e1', { TEST_EXECUTOR_NEVER_SUBSCRIBE: '1' })),
    });
    await second.waitEvent('LAUNCH');
    const third = await subscribe(h.agent.url, FRAMEWORK_ID, 'e1', 'json', { unacknowledged_tasks: [] });
    await third.waitEvent('SUBSCRIBED');
    const lost = await h.master.waitUpdate('t2', 'TASK_LOST');
    expect(lost).toMatchObject({
      source: 'SOURCE_AGENT',
      reason: 'REASON_AGENT_RESTARTED',
      message: 'Task launched during agent restart',
    });
    expect(h.master.statesOf('t1')).toEqual(['TASK_RUNNING']);
    third.close();
  });

  it('an unacknowledged update an UPDATE call could not carry is dropped; the subscription stands', async () => {
    h = await startAgent();
    await registeringExecutor('e1', 'run', 't1');
    const uuid = uuidBytes();
    const sub = await subscribe(h.agent.url, FRAMEWORK_ID, 'e1', 'json', {
      unacknowledged_updates: [
        // wrong source, then a good one
        {
          status: {
            task_id: { value: 't1' },
            state: 'TASK_FAILED',
            source: 'SOURCE_MASTER',
            uuid: uuidBytes(),
          },
        },
        { status: { task_id: { value: 't1' }, state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR', uuid } },
      ],
    });
    await sub.waitEvent('LAUNCH'); // sent last, after SUBSCRIBED and the acknowledgements
    const acks = sub.events.filter((e) => e.type === 'ACKNOWLEDGED');
    expect(acks.map((e) => Buffer.from(e.acknowledged!.uuid))).toEqual([Buffer.from(uuid)]);
    await h.master.waitUpdate('t1', 'TASK_RUNNING');
    expect(h.master.statesOf('t1')).toEqual(['TASK_RUNNING']);
    sub.close();
  });

  it('SUBSCRIBE from a terminating executor gets a SHUTDOWN-only stream', async () => {
    h = await startAgent({ executorShutdownGracePeriodMs: 5000 });
    await registeringExecutor('e1');
    h.agent.shutdownExecutor(FRAMEWORK_ID, 'e1');
    const sub = await subscribe(h.agent.url, FRAMEWORK_ID, 'e1');
    await waitFor('stream ended', () => sub.ended);
    expect(sub.events).toEqual([{ type: 'SHUTDOWN' }]);
  });
});
