import {
  decodeMessageEnvelope,
  decodeResultEnvelope,
  encodeLaunchEnvelope,
  encodeMessageEnvelope,
  type TaskStatus,
} from '@mesoskit/protocol';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RUNNING_UPDATE_DELAY_MS } from '../../src/index.js';
import { AGENT_ID, EXECUTOR_ID, FRAMEWORK_ID, taskInfo } from '../helpers/fake-agent.js';
import {
  block,
  chatty,
  echo,
  fail,
  failSync,
  gates,
  limited,
  listen,
  nonRetryable,
  throwString,
  unencodable,
  v2,
} from '../helpers/tasks.js';
import { start } from './setup.js';

function result(status: TaskStatus) {
  return decodeResultEnvelope(status.data!);
}

describe('subscription', () => {
  for (const encoding of ['json', 'protobuf'] as const) {
    it(`subscribes with the ids from the environment and "subscribe": {} (${encoding})`, async () => {
      const { agent, executor } = await start({ encoding });
      const [sub] = agent.calls;
      expect(sub!.call).toEqual({
        executor_id: { value: EXECUTOR_ID },
        framework_id: { value: FRAMEWORK_ID },
        type: 'SUBSCRIBE',
        subscribe: {},
      });
      const media = encoding === 'json' ? 'application/json' : 'application/x-protobuf';
      expect(sub!.headers['content-type']).toBe(media);
      expect(sub!.headers.accept).toBe(media);
      expect(sub!.headers.authorization).toBeUndefined();
      expect(sub!.path).toBe('/api/v1/executor');
      expect(executor.agentId).toBe(AGENT_ID);
      expect(executor.frameworkId).toBe(FRAMEWORK_ID);
      expect(executor.executorId).toBe(EXECUTOR_ID);
    });
  }

  it('sends the authentication token as a Bearer token on every call', async () => {
    const { agent } = await start({ env: { MESOS_EXECUTOR_AUTHENTICATION_TOKEN: 'jwt.token.here' } });
    agent.launch('t1', { task: echo.name, taskVersion: 1, attempt: 1, input: { text: 'hi' } });
    await agent.waitForUpdate('t1', 'TASK_FINISHED');
    expect(agent.calls.every((c) => c.headers.authorization === 'Bearer jwt.token.here')).toBe(true);
  });

  it('sends HEARTBEAT calls at heartbeatIntervalMs', async () => {
    const { agent } = await start({ heartbeatIntervalMs: 20 });
    const beat = await agent.waitForCall('a HEARTBEAT call', (c) => c.type === 'HEARTBEAT');
    expect(beat).toEqual({
      executor_id: { value: EXECUTOR_ID },
      framework_id: { value: FRAMEWORK_ID },
      type: 'HEARTBEAT',
    });
  });

  it('calls go on another connection than the subscription', async () => {
    const { agent } = await start();
    agent.launch('t1', { task: echo.name, taskVersion: 1, attempt: 1, input: { text: 'hi' } });
    await agent.waitForUpdate('t1', 'TASK_FINISHED');
    // The stream is still open and usable after the calls were answered.
    agent.launch('t2', { task: echo.name, taskVersion: 1, attempt: 1, input: { text: 'again' } });
    await agent.waitForUpdate('t2', 'TASK_FINISHED');
    expect(agent.streams).toBe(1);
  });
});

describe('LAUNCH', () => {
  for (const encoding of ['json', 'protobuf'] as const) {
    it(`reports TASK_RUNNING, then TASK_FINISHED with the result envelope (${encoding})`, async () => {
      const { agent } = await start({ encoding });
      const bytes = Uint8Array.of(0, 1, 2, 0xfe, 0xff);
      agent.launch('t1', { task: echo.name, taskVersion: 1, attempt: 2, input: { text: 'héllo', bytes } });
      const finished = await agent.waitForUpdate('t1', 'TASK_FINISHED');
      const running = await agent.waitForUpdate('t1', 'TASK_RUNNING');
      expect(agent.states('t1')).toEqual(['TASK_RUNNING', 'TASK_FINISHED']);
      for (const s of [running, finished]) {
        expect(s.source).toBe('SOURCE_EXECUTOR');
        expect(s.executor_id).toEqual({ value: EXECUTOR_ID });
        expect(s.agent_id).toBeUndefined();
        expect(s.uuid).toHaveLength(16);
        expect(s.uuid![6]! >> 4).toBe(4); // RFC 4122 version 4
        expect(s.uuid![8]! >> 6).toBe(2); // RFC 4122 variant
        expect(Math.abs(s.timestamp! - Date.now() / 1000)).toBeLessThan(10);
      }
      expect(Buffer.from(running.uuid!).equals(Buffer.from(finished.uuid!))).toBe(false);
      expect(finished.message).toBe('Task finished');
      expect(result(finished)).toEqual({ v: 1, ok: true, output: { text: 'héllo', bytes } });
    });
  }

  it('with runningUpdateDelayMs, skips TASK_RUNNING for a run that settles sooner', async () => {
    const { agent } = await start({ runningUpdateDelayMs: 50 });
    agent.launch('quick', { task: echo.name, taskVersion: 1, attempt: 1, input: { text: 'x' } });
    agent.launch('slow', { task: block.name, taskVersion: 1, attempt: 1, input: {} });
    await agent.waitForUpdate('quick', 'TASK_FINISHED');
    await agent.waitForUpdate('slow', 'TASK_RUNNING');
    gates.open('slow');
    await agent.waitForUpdate('slow', 'TASK_FINISHED');
    expect(agent.states('quick')).toEqual(['TASK_FINISHED']);
    expect(agent.states('slow')).toEqual(['TASK_RUNNING', 'TASK_FINISHED']);
  });

  it(`by default (${DEFAULT_RUNNING_UPDATE_DELAY_MS} ms) sends TASK_RUNNING only for runs that last longer, in launch order`, async () => {
    const { agent } = await start({ runningUpdateDelayMs: undefined });
    const slow = ['s1', 's2', 's3'];
    agent.launch('quick', { task: echo.name, taskVersion: 1, attempt: 1, input: { text: 'x' } });
    for (const id of slow) agent.launch(id, { task: block.name, taskVersion: 1, attempt: 1, input: {} });
    await agent.waitForUpdate('quick', 'TASK_FINISHED');
    await Promise.all(slow.map((id) => agent.waitForUpdate(id, 'TASK_RUNNING')));
    const running = agent.calls
      .map((c) => c.call.update?.status)
      .filter((st) => st?.state === 'TASK_RUNNING')
      .map((st) => st!.task_id.value);
    expect(running).toEqual(slow);
    for (const id of slow) gates.open(id);
    await Promise.all(slow.map((id) => agent.waitForUpdate(id, 'TASK_FINISHED')));
    expect(agent.states('quick')).toEqual(['TASK_FINISHED']);
    for (const id of slow) expect(agent.states(id)).toEqual(['TASK_RUNNING', 'TASK_FINISHED']);
  });

  it('runs every task of a LAUNCH_GROUP', async () => {
    const { agent } = await start();
    const tasks = ['g1', 'g2'].map((id) =>
      taskInfo(id, undefined, {
        data: encodeLaunchEnvelope({ task: echo.name, taskVersion: 1, attempt: 1, input: { text: id } }),
      }),
    );
    agent.send({ type: 'LAUNCH_GROUP', launch_group: { task_group: { tasks } } });
    expect(result(await agent.waitForUpdate('g1', 'TASK_FINISHED'))).toMatchObject({
      output: { text: 'g1' },
    });
    expect(result(await agent.waitForUpdate('g2', 'TASK_FINISHED'))).toMatchObject({
      output: { text: 'g2' },
    });
  });

  it.each([
    [
      'an Error with a code',
      fail,
      { code: 'E_BROKEN' },
      { name: 'Error', code: 'E_BROKEN', retryable: true },
    ],
    [
      'a synchronous throw',
      failSync,
      {},
      { name: 'TypeError', message: 'thrown synchronously', retryable: true },
    ],
    [
      'a NonRetryableError',
      nonRetryable,
      {},
      { name: 'NonRetryableError', code: 'BAD_INPUT', retryable: false, details: { width: 0 } },
    ],
    ['a string', throwString, {}, { name: 'Error', message: 'just a string', retryable: true }],
  ])('turns %s into TASK_FAILED with its WireFailure', async (_what, def, input, failure) => {
    const { agent } = await start();
    agent.launch('t1', { task: def.name, taskVersion: 1, attempt: 1, input });
    const failed = await agent.waitForUpdate('t1', 'TASK_FAILED');
    expect(agent.states('t1')).toEqual(['TASK_RUNNING', 'TASK_FAILED']);
    const envelope = result(failed);
    expect(envelope.ok).toBe(false);
    expect(envelope.ok === false && envelope.failure).toMatchObject(failure);
    expect(envelope.ok === false && envelope.failure.stack).toBeUndefined();
    expect(failed.message).not.toContain('\n');
    expect(failed.reason).toBeUndefined();
  });

  it('summarises a failure on one line and can include stacks', async () => {
    const { agent } = await start({ includeStack: true });
    agent.launch('t1', { task: fail.name, taskVersion: 1, attempt: 1, input: { code: 'E' } });
    const failed = await agent.waitForUpdate('t1', 'TASK_FAILED');
    expect(failed.message).toBe('Error[E]: it broke on two lines');
    const envelope = result(failed);
    expect(envelope.ok === false && envelope.failure.stack).toContain('it broke');
  });

  it('fails a task whose output cannot be encoded, without retrying it', async () => {
    const { agent } = await start();
    agent.launch('t1', { task: unencodable.name, taskVersion: 1, attempt: 1, input: {} });
    const failed = await agent.waitForUpdate('t1', 'TASK_FAILED');
    const envelope = result(failed);
    expect(envelope.ok === false && envelope.failure).toMatchObject({
      name: 'EnvelopeError',
      retryable: false,
    });
  });

  it.each([
    [
      'an unknown task name',
      { task: 'test.nope', taskVersion: 1 },
      'UNKNOWN_TASK',
      'no handler for task "test.nope"',
    ],
    [
      'a version mismatch',
      { task: v2.name, taskVersion: 1 },
      'TASK_VERSION_MISMATCH',
      'launched at version 1, but this executor handles version 2',
    ],
  ])('rejects %s with a non-retryable TASK_FAILED naming it', async (_what, launch, code, text) => {
    const { agent } = await start();
    agent.launch('t1', { ...launch, attempt: 1, input: {} });
    const failed = await agent.waitForUpdate('t1', 'TASK_FAILED');
    expect(agent.states('t1')).toEqual(['TASK_FAILED']);
    expect(failed.reason).toBe('REASON_TASK_INVALID');
    expect(failed.message).toContain(text);
    const envelope = result(failed);
    expect(envelope.ok === false && envelope.failure).toMatchObject({
      name: 'LaunchError',
      code,
      retryable: false,
    });
  });

  it.each([
    ['no data', undefined, 'has no launch envelope'],
    ['JSON instead of an envelope', Buffer.from('{"mode":"finish"}'), 'bad launch envelope'],
    [
      'a future envelope version',
      Uint8Array.of(0x95, 0x02, 0xa1, 0x78, 0x01, 0x01, 0xc0),
      'version 2 is not supported',
    ],
  ])('rejects a launch with %s (BAD_LAUNCH_ENVELOPE)', async (_what, data, text) => {
    const { agent } = await start();
    agent.send({ type: 'LAUNCH', launch: { task: taskInfo('t1', data) } });
    const failed = await agent.waitForUpdate('t1', 'TASK_FAILED');
    expect(failed.message).toContain(text);
    const envelope = result(failed);
    expect(envelope.ok === false && envelope.failure).toMatchObject({
      code: 'BAD_LAUNCH_ENVELOPE',
      retryable: false,
    });
  });

  it('ignores a second LAUNCH of a task it already runs', async () => {
    const { agent, logs } = await start();
    agent.launch('t1', { task: block.name, taskVersion: 1, attempt: 1, input: {} });
    await agent.waitForUpdate('t1', 'TASK_RUNNING');
    agent.launch('t1', { task: block.name, taskVersion: 1, attempt: 1, input: {} });
    agent.launch('probe', { task: 'test.nope', taskVersion: 1, attempt: 1, input: {} });
    await agent.waitForUpdate('probe', 'TASK_FAILED'); // so the second LAUNCH was handled
    gates.open('t1');
    await agent.waitForUpdate('t1', 'TASK_FINISHED');
    expect(agent.states('t1')).toEqual(['TASK_RUNNING', 'TASK_FINISHED']);
    expect(logs.some((l) => l.message === 'ignored a second LAUNCH of a known task')).toBe(true);
  });
});

describe('concurrency', () => {
  it('runs at most `concurrency` tasks and queues the rest in order', async () => {
    const { agent, executor } = await start({ concurrency: 2 });
    const ids = ['c1', 'c2', 'c3', 'c4'];
    for (const id of ids) agent.launch(id, { task: block.name, taskVersion: 1, attempt: 1, input: {} });
    await agent.waitForUpdate(ids[0]!, 'TASK_RUNNING');
    await agent.waitForUpdate(ids[1]!, 'TASK_RUNNING');
    // A rejected launch needs no slot; once it is reported, the LAUNCHes before it were handled.
    agent.launch('probe', { task: 'test.nope', taskVersion: 1, attempt: 1, input: {} });
    await agent.waitForUpdate('probe', 'TASK_FAILED');
    expect(executor.stats()).toMatchObject({ running: 2, queued: 2, launched: 5 });
    expect(agent.states(ids[2]!)).toEqual([]);
    gates.open(ids[1]!);
    await agent.waitForUpdate(ids[2]!, 'TASK_RUNNING');
    expect(agent.states(ids[3]!)).toEqual([]);
    gates.open(ids[0]!);
    await agent.waitForUpdate(ids[3]!, 'TASK_RUNNING');
    gates.open(ids[2]!);
    gates.open(ids[3]!);
    for (const id of ids) await agent.waitForUpdate(id, 'TASK_FINISHED');
    expect(executor.stats()).toMatchObject({ running: 0, queued: 0 });
  });

  it('honours a per-handler limit while other handlers run', async () => {
    const { agent, executor } = await start({ concurrency: 10 });
    agent.launch('l1', { task: limited.name, taskVersion: 1, attempt: 1, input: {} });
    agent.launch('l2', { task: limited.name, taskVersion: 1, attempt: 1, input: {} });
    agent.launch('e1', { task: echo.name, taskVersion: 1, attempt: 1, input: { text: 'x' } });
    await agent.waitForUpdate('e1', 'TASK_FINISHED');
    await agent.waitForUpdate('l1', 'TASK_RUNNING');
    expect(agent.states('l2')).toEqual([]);
    expect(executor.stats().queued).toBe(1);
    gates.open('l1');
    await agent.waitForUpdate('l2', 'TASK_RUNNING');
    gates.open('l2');
    await agent.waitForUpdate('l2', 'TASK_FINISHED');
  });
});

describe('framework messages', () => {
  it('delivers scheduler messages (binary-safe) to the task they name, in order', async () => {
    const { agent, logs } = await start();
    agent.launch('m1', { task: listen.name, taskVersion: 1, attempt: 1, input: { until: 'stop' } });
    agent.launch('m2', { task: listen.name, taskVersion: 1, attempt: 1, input: { until: 'stop' } });
    await agent.waitForUpdate('m2', 'TASK_RUNNING');
    const send = (taskId: string | undefined, data: unknown) =>
      agent.send({
        type: 'MESSAGE',
        message: { data: encodeMessageEnvelope({ kind: 'message', ...(taskId && { taskId }), data }) },
      });
    send('m1', Uint8Array.of(0, 0xff, 10));
    send('m2', 'for m2');
    send(undefined, 'for nobody');
    send('gone', 'for an unknown task');
    agent.send({ type: 'MESSAGE', message: { data: Buffer.from('raw bytes, not an envelope') } });
    send('m1', { nested: [1, 2n] });
    send('m1', 'stop');
    send('m2', 'stop');
    const m1 = result(await agent.waitForUpdate('m1', 'TASK_FINISHED'));
    expect(m1).toEqual({ v: 1, ok: true, output: [Uint8Array.of(0, 0xff, 10), { nested: [1, 2n] }, 'stop'] });
    const m2 = result(await agent.waitForUpdate('m2', 'TASK_FINISHED'));
    expect(m2).toEqual({ v: 1, ok: true, output: ['for m2', 'stop'] });
    expect(
      logs.some((l) => l.message === 'dropped a framework message that is not a mesoskit message envelope'),
    ).toBe(true);
  });

  it('ctx.send() posts a message envelope; ctx.progress() is throttled and coalesced', async () => {
    const { agent } = await start({ progressIntervalMs: 100_000 });
    agent.launch('s1', { task: chatty.name, taskVersion: 1, attempt: 3, input: { progress: [1, 2, 3, 4] } });
    await agent.waitForCall('two MESSAGE calls', () => agent.messages().length >= 2);
    const [sent, progress] = agent.messages().map((d) => decodeMessageEnvelope(d));
    expect(sent).toEqual({
      v: 1,
      kind: 'message',
      taskId: 's1',
      data: { hello: 's1', attempt: 3, agentId: AGENT_ID, sandbox: '/tmp/sandbox' },
    });
    expect(progress).toEqual({ v: 1, kind: 'progress', taskId: 's1', data: 1 });
    gates.open('s1');
    await agent.waitForUpdate('s1', 'TASK_FINISHED');
    // 2, 3 and 4 were coalesced behind the interval and dropped when the run settled.
    expect(agent.messages()).toHaveLength(2);
  });

  it('sends the coalesced latest progress value when the interval ends', async () => {
    const { agent } = await start({ progressIntervalMs: 30 });
    agent.launch('s2', { task: chatty.name, taskVersion: 1, attempt: 1, input: { progress: [1, 2, 3] } });
    await agent.waitForCall('three MESSAGE calls', () => agent.messages().length >= 3);
    const data = agent.messages().map((d) => decodeMessageEnvelope(d).data);
    expect(data.slice(1)).toEqual([1, 3]);
    gates.open('s2');
    await agent.waitForUpdate('s2', 'TASK_FINISHED');
  });
});
