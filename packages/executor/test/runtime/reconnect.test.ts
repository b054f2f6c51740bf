import { describe, expect, it } from 'vitest';
import { AgentConnectionError, ExecutorEnvironmentError, runExecutor } from '../../src/index.js';
import { FakeAgent } from '../helpers/fake-agent.js';
import { block, echo, gates, testHandlers } from '../helpers/tasks.js';
import { closedWithin, start } from './setup.js';

const hex = (u: Uint8Array | undefined) => Buffer.from(u!).toString('hex');

describe('the agent going away', () => {
  it('without checkpointing: aborts every task and exits (agent-lost)', async () => {
    const { agent, executor } = await start();
    agent.launch('a1', { task: block.name, taskVersion: 1, attempt: 1, input: {} });
    await agent.waitForUpdate('a1', 'TASK_RUNNING');
    agent.endStream();
    const exit = await closedWithin(executor);
    expect(exit.reason).toBe('agent-lost');
    expect(exit.exitCode).toBe(1);
    expect(gates.aborted).toContain('a1');
    expect(agent.streams).toBe(1);
  });

  for (const encoding of ['json', 'protobuf'] as const) {
    it(`with checkpointing: re-subscribes with the unacknowledged tasks and updates (${encoding})`, async () => {
      const { agent, executor } = await start({
        encoding,
        agentOptions: { autoAck: false },
        env: {
          MESOS_CHECKPOINT: '1',
          MESOS_SUBSCRIPTION_BACKOFF_MAX: '20ms',
          MESOS_RECOVERY_TIMEOUT: '1mins',
        },
      });
      const t1 = agent.launch('r1', { task: echo.name, taskVersion: 1, attempt: 1, input: { text: 'x' } });
      const t2 = agent.launch('r2', { task: block.name, taskVersion: 1, attempt: 1, input: {} });
      const sent = [
        await agent.waitForUpdate('r1', 'TASK_RUNNING'),
        await agent.waitForUpdate('r1', 'TASK_FINISHED'),
        await agent.waitForUpdate('r2', 'TASK_RUNNING'),
      ];
      agent.endStream();
      const resubscribe = await agent.waitForCall(
        'a second SUBSCRIBE',
        (c, r) => c.type === 'SUBSCRIBE' && r.stream === 2,
      );
      const updates = resubscribe.subscribe?.unacknowledged_updates ?? [];
      expect(updates.map((u) => hex(u.status.uuid)).sort()).toEqual(sent.map((s) => hex(s.uuid)).sort());
      expect(updates.find((u) => u.status.state === 'TASK_FINISHED')?.status.data).toEqual(sent[1]!.data);
      expect(resubscribe.subscribe?.unacknowledged_tasks?.map((t) => t.task_id.value).sort()).toEqual([
        'r1',
        'r2',
      ]);
      expect(resubscribe.subscribe?.unacknowledged_tasks?.[0]?.data).toEqual(t1.data);
      // The whole TaskInfo, as launched (in protobuf it is kept as bytes and decoded only now).
      expect(
        resubscribe.subscribe?.unacknowledged_tasks?.find((t) => t.task_id.value === 'r2'),
      ).toMatchObject(t2);
      expect(t2.task_id.value).toBe('r2');

      // The agent takes custody of them (as if processing the replayed UPDATEs) and work goes on.
      for (const u of updates) agent.ack(u.status);
      agent.autoAck = true;
      gates.open('r2');
      await agent.waitForCall('r2 TASK_FINISHED on the new stream', (c, r) => {
        return (
          r.stream === 2 &&
          c.update?.status.task_id.value === 'r2' &&
          c.update.status.state === 'TASK_FINISHED'
        );
      });
      expect((await executor.stop()).reason).toBe('stopped');
      expect(executor.stats().unacknowledgedUpdates).toBe(0);
    });
  }

  it('with checkpointing: survives an agent restart and replays an update made while it was down', async () => {
    const first = await FakeAgent.start({ autoAck: false });
    const port = first.port;
    const executor = await runExecutor({
      handlers: testHandlers,
      encoding: 'protobuf',
      env: first.env({
        MESOS_CHECKPOINT: '1',
        MESOS_SUBSCRIPTION_BACKOFF_MAX: '20ms',
        MESOS_RECOVERY_TIMEOUT: '1mins',
      }),
      logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {} },
    });
    let second: FakeAgent | undefined;
    try {
      first.launch('r3', { task: block.name, taskVersion: 1, attempt: 1, input: {} });
      const running = await first.waitForUpdate('r3', 'TASK_RUNNING');
      await first.close();
      gates.open('r3'); // finishes while the agent is down: the update cannot be sent now
      second = await FakeAgent.start({ autoAck: true }, port);
      const resubscribe = await second.waitForCall(
        'SUBSCRIBE after the restart',
        (c) => c.type === 'SUBSCRIBE',
      );
      const states = resubscribe.subscribe?.unacknowledged_updates?.map((u) => u.status.state);
      expect(states).toEqual(['TASK_RUNNING', 'TASK_FINISHED']);
      expect(hex(resubscribe.subscribe?.unacknowledged_updates?.[0]?.status.uuid)).toBe(hex(running.uuid));
      for (const u of resubscribe.subscribe?.unacknowledged_updates ?? []) second.ack(u.status);
      second.launch('r4', { task: echo.name, taskVersion: 1, attempt: 1, input: { text: 'after' } });
      await second.waitForUpdate('r4', 'TASK_FINISHED');
      expect((await executor.stop()).reason).toBe('stopped');
      expect(executor.stats().unacknowledgedUpdates).toBe(0);
    } finally {
      await executor.stop();
      await second?.close();
    }
  });

  it('with checkpointing (protobuf): lists a task intact on re-subscription after many later reads', async () => {
    const { agent } = await start({
      encoding: 'protobuf',
      agentOptions: { autoAck: false },
      env: { MESOS_CHECKPOINT: '1', MESOS_SUBSCRIPTION_BACKOFF_MAX: '20ms', MESOS_RECOVERY_TIMEOUT: '1mins' },
    });
    const kept = agent.launch('kept', {
      task: block.name,
      taskVersion: 1,
      attempt: 1,
      input: { pad: 'k'.repeat(500) },
    });
    await agent.waitForUpdate('kept', 'TASK_RUNNING');
    // Later events are read into the same read buffer the LAUNCH was read from.
    for (let i = 0; i < 20; i++) {
      agent.send({ type: 'HEARTBEAT' });
      agent.launch(`later-${i}`, {
        task: echo.name,
        taskVersion: 1,
        attempt: 1,
        input: { text: 'x'.repeat(i * 50) },
      });
      await agent.waitForUpdate(`later-${i}`, 'TASK_FINISHED');
    }
    agent.endStream();
    const resubscribe = await agent.waitForCall(
      'a second SUBSCRIBE',
      (c, r) => c.type === 'SUBSCRIBE' && r.stream === 2,
    );
    expect(resubscribe.subscribe?.unacknowledged_tasks?.find((t) => t.task_id.value === 'kept')).toEqual(
      kept,
    );
    gates.open('kept');
  });

  it('with checkpointing: gives up after MESOS_RECOVERY_TIMEOUT', async () => {
    const { agent, executor } = await start({
      env: { MESOS_CHECKPOINT: '1', MESOS_SUBSCRIPTION_BACKOFF_MAX: '20ms', MESOS_RECOVERY_TIMEOUT: '150ms' },
    });
    await agent.close();
    const exit = await closedWithin(executor);
    expect(exit.reason).toBe('recovery-timeout');
    expect(exit.exitCode).toBe(1);
    expect(exit.error?.message).toContain('MESOS_RECOVERY_TIMEOUT');
  });

  it('treats MESOS_CHECKPOINT=0 as no checkpointing (not as a truthy string)', async () => {
    const { agent, executor } = await start({
      env: { MESOS_CHECKPOINT: '0', MESOS_SUBSCRIPTION_BACKOFF_MAX: '1ms' },
    });
    agent.endStream();
    expect((await closedWithin(executor)).reason).toBe('agent-lost');
  });
});

describe('subscribing', () => {
  it('rejects with SUBSCRIBE_REFUSED when the agent answers an HTTP error', async () => {
    const agent = await FakeAgent.start({
      refuse: () => ({ status: 400, body: 'Framework cannot be found' }),
    });
    try {
      const err = await runExecutor({ handlers: testHandlers, env: agent.env() }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AgentConnectionError);
      expect(err).toMatchObject({
        code: 'SUBSCRIBE_REFUSED',
        status: 400,
        body: 'Framework cannot be found',
      });
      expect((err as Error).message).toBe('the agent refused SUBSCRIBE: 400 Framework cannot be found');
    } finally {
      await agent.close();
    }
  });

  it('retries while the agent answers 503 (still recovering)', async () => {
    let refusals = 2;
    const agent = await FakeAgent.start({
      refuse: (c) =>
        c.type === 'SUBSCRIBE' && refusals-- > 0
          ? { status: 503, body: 'Agent has not finished recovery' }
          : undefined,
    });
    const executor = await runExecutor({
      handlers: testHandlers,
      env: agent.env(),
      subscribeTimeoutMs: 5000,
    });
    try {
      expect(agent.calls.filter((c) => c.call.type === 'SUBSCRIBE')).toHaveLength(3);
    } finally {
      await executor.stop();
      await agent.close();
    }
  });

  it('rejects with AGENT_UNREACHABLE when nothing listens within subscribeTimeoutMs', async () => {
    const agent = await FakeAgent.start();
    const env = agent.env();
    await agent.close();
    const err = await runExecutor({ handlers: testHandlers, env, subscribeTimeoutMs: 100 }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ name: 'AgentConnectionError', code: 'AGENT_UNREACHABLE' });
  });

  it.each([
    ['MESOS_AGENT_ENDPOINT', undefined, 'MESOS_AGENT_ENDPOINT is not set'],
    ['MESOS_FRAMEWORK_ID', '', 'MESOS_FRAMEWORK_ID is not set'],
    ['MESOS_EXECUTOR_ID', undefined, 'MESOS_EXECUTOR_ID is not set'],
    [
      'MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD',
      'soon',
      'MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD must be a duration',
    ],
    ['MESOS_AGENT_ENDPOINT', 'http://x:1/api', 'MESOS_AGENT_ENDPOINT must be <host>:<port>'],
  ])('fails with one line naming %s when it is %s', async (name, value, text) => {
    const env: Record<string, string | undefined> = {
      MESOS_AGENT_ENDPOINT: '127.0.0.1:1',
      MESOS_FRAMEWORK_ID: 'f',
      MESOS_EXECUTOR_ID: 'e',
      [name]: value,
    };
    const err = await runExecutor({ handlers: testHandlers, env }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExecutorEnvironmentError);
    expect(err).toMatchObject({ variable: name });
    expect((err as Error).message).toContain(text);
    expect((err as Error).message).not.toContain('\n');
  });
});
