import type { mesos } from '@mesoskit/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AGENT_ID,
  FRAMEWORK_ID,
  frameworkInfo,
  type Harness,
  postCall,
  type Subscription,
  startAgent,
  subscribe,
  task,
  testExecutor,
  uuidBytes,
  waitFor,
} from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.cleanup();
  h = undefined;
});

const silent = (id: string) => testExecutor(id, { TEST_EXECUTOR_NEVER_SUBSCRIBE: '1' });

/** Launches `taskIds` on executor e1 and subscribes as that executor. */
async function asExecutor(
  taskIds: string[],
  options: Parameters<typeof startAgent>[0] = {},
): Promise<Subscription> {
  h = await startAgent(options);
  for (const id of taskIds)
    h.agent.runTask({ framework: frameworkInfo(), task: task(id, 'run', silent('e1')) });
  await waitFor('executor process started', () => h!.agent.pidOf(FRAMEWORK_ID, 'e1'));
  const sub = await subscribe(h.agent.url, FRAMEWORK_ID, 'e1');
  await sub.waitEvent('LAUNCH', taskIds.length);
  return sub;
}

async function sendUpdate(
  taskId: string,
  state: mesos.v1.TaskState,
  extra: Partial<mesos.v1.TaskStatus> = {},
): Promise<Uint8Array> {
  const uuid = extra.uuid ?? uuidBytes();
  const res = await postCall(h!.agent.url, {
    executor_id: { value: 'e1' },
    framework_id: { value: FRAMEWORK_ID },
    type: 'UPDATE',
    update: { status: { task_id: { value: taskId }, state, source: 'SOURCE_EXECUTOR', ...extra, uuid } },
  });
  expect(res.status).toBe(202);
  return uuid;
}

const acks = (sub: Subscription) => sub.events.filter((e) => e.type === 'ACKNOWLEDGED');

describe('status update manager', () => {
  it('ACKNOWLEDGED at once, forwarded at once, resent with backoff until acknowledged, then not again', async () => {
    const sub = await asExecutor(['t1'], { statusUpdateRetryMs: { initialMs: 100, maxMs: 200 } });
    const { master, agent } = h!;
    master.autoAck = false;
    const uuid = await sendUpdate('t1', 'TASK_RUNNING', { timestamp: 1234.5 });
    const ack = await sub.waitEvent('ACKNOWLEDGED');
    expect(ack.acknowledged).toEqual({ task_id: { value: 't1' }, uuid });
    expect(master.updates).toHaveLength(1);
    expect(master.updates[0]!.status.timestamp).toBe(1234.5);
    await waitFor('three resends', () => master.updates.length >= 4);
    const gaps = master.updates.slice(1, 4).map((u, i) => u.at - master.updates[i]!.at);
    expect(gaps[0]).toBeGreaterThanOrEqual(90);
    expect(gaps[1]).toBeGreaterThanOrEqual(190); // doubled
    expect(gaps[2]).toBeGreaterThanOrEqual(190); // capped at max
    for (const u of master.updates) expect(Buffer.from(u.status.uuid!)).toEqual(Buffer.from(uuid));
    agent.acknowledge(FRAMEWORK_ID, 't1', uuid);
    const count = master.updates.length;
    // The next update is resent twice (≥ 300 ms): the acknowledged one never came back meanwhile.
    await sendUpdate('t1', 'TASK_FINISHED');
    await waitFor(
      'two resends of TASK_FINISHED',
      () => master.statesOf('t1').filter((s) => s === 'TASK_FINISHED').length === 3,
    );
    expect(master.updates.slice(count).map((u) => u.status.state)).toEqual([
      'TASK_FINISHED',
      'TASK_FINISHED',
      'TASK_FINISHED',
    ]);
  });

  it('holds the next update back until the head is acknowledged; latestState runs ahead', async () => {
    const sub = await asExecutor(['t1']);
    const { master, agent } = h!;
    master.autoAck = false;
    const running = await sendUpdate('t1', 'TASK_RUNNING');
    const finished = await sendUpdate('t1', 'TASK_FINISHED');
    await sub.waitEvent('ACKNOWLEDGED', 2); // the executor hears back regardless of the scheduler
    expect(master.statesOf('t1')).toEqual(['TASK_RUNNING']);
    agent.acknowledge(FRAMEWORK_ID, 't1', finished); // not the head: ignored
    agent.acknowledge(FRAMEWORK_ID, 't1', running);
    await master.waitUpdate('t1', 'TASK_FINISHED');
    expect(master.statesOf('t1')).toEqual(['TASK_RUNNING', 'TASK_FINISHED']);
    expect(master.updates[1]!.latestState).toBe('TASK_FINISHED');
  });

  it('updateFramework resends every pending head of the framework at once', async () => {
    await asExecutor(['t1', 't2']);
    const { master, agent } = h!;
    master.autoAck = false;
    await sendUpdate('t1', 'TASK_RUNNING');
    await sendUpdate('t2', 'TASK_RUNNING');
    await waitFor('two updates', () => master.updates.length === 2);
    agent.updateFramework(frameworkInfo({ name: 'renamed' }));
    expect(master.updates.map((u) => u.status.task_id.value)).toEqual(['t1', 't2', 't1', 't2']);
  });

  it('duplicates are re-acknowledged but not forwarded; updates after a terminal one are acknowledged and dropped', async () => {
    const sub = await asExecutor(['t1']);
    const { master } = h!;
    const uuid = await sendUpdate('t1', 'TASK_RUNNING');
    await sendUpdate('t1', 'TASK_RUNNING', { uuid });
    await sub.waitEvent('ACKNOWLEDGED', 2);
    await sendUpdate('t1', 'TASK_FAILED');
    await master.waitUpdate('t1', 'TASK_FAILED');
    await sendUpdate('t1', 'TASK_RUNNING');
    await sub.waitEvent('ACKNOWLEDGED', 4);
    expect(master.statesOf('t1')).toEqual(['TASK_RUNNING', 'TASK_FAILED']);
  });

  it('an update naming another agent is dropped without ACKNOWLEDGED', async () => {
    const sub = await asExecutor(['t1']);
    await sendUpdate('t1', 'TASK_RUNNING', { agent_id: { value: 'someone-else-S9' } });
    await sendUpdate('t1', 'TASK_RUNNING', { agent_id: { value: AGENT_ID } });
    await sub.waitEvent('ACKNOWLEDGED');
    expect(acks(sub)).toHaveLength(1);
    expect(h!.master.updates).toHaveLength(1);
  });

  it('keeps executor fields and fills container_status', async () => {
    await asExecutor(['t1']);
    await sendUpdate('t1', 'TASK_RUNNING', {
      executor_id: { value: 'e1' },
      message: 'hi',
      reason: 'REASON_TASK_CHECK_STATUS_UPDATED',
    });
    const status = await h!.master.waitUpdate('t1', 'TASK_RUNNING');
    expect(status).toMatchObject({
      executor_id: { value: 'e1' },
      message: 'hi',
      reason: 'REASON_TASK_CHECK_STATUS_UPDATED',
      source: 'SOURCE_EXECUTOR',
      agent_id: { value: AGENT_ID },
    });
    expect(status.container_status?.executor_pid).toBe(h!.agent.pidOf(FRAMEWORK_ID, 'e1'));
  });
});

describe('kills and shutdowns', () => {
  it('KILL of a delivered task → KILL event with the kill policy; of a queued task → TASK_KILLED during launch', async () => {
    const sub = await asExecutor(['t1']);
    const { agent, master } = h!;
    agent.killTask(FRAMEWORK_ID, 't1', { grace_period: { nanoseconds: 5 } });
    const kill = await sub.waitEvent('KILL');
    expect(kill.kill).toEqual({
      task_id: { value: 't1' },
      kill_policy: { grace_period: { nanoseconds: 5 } },
    });

    agent.runTask({ framework: frameworkInfo(), task: task('q1', 'run', silent('e2')) });
    agent.killTask(FRAMEWORK_ID, 'q1');
    const killed = await master.waitUpdate('q1', 'TASK_KILLED');
    expect(killed).toMatchObject({
      source: 'SOURCE_AGENT',
      reason: 'REASON_TASK_KILLED_DURING_LAUNCH',
      message: 'Killed before delivery to the executor',
      executor_id: { value: 'e2' },
    });
    // MESOS-8411: the executor whose every task was killed before delivery is shut down on SUBSCRIBE.
    await waitFor('e2 process', () => agent.pidOf(FRAMEWORK_ID, 'e2'));
    const sub2 = await subscribe(agent.url, FRAMEWORK_ID, 'e2');
    await sub2.waitEvent('SHUTDOWN');
    expect(sub2.events.map((e) => e.type)).toEqual(['SHUTDOWN']);
  });

  it('a queued task group is killed as a whole', async () => {
    h = await startAgent();
    h.agent.runTask({
      framework: frameworkInfo(),
      executor: silent('eg'),
      taskGroup: { tasks: [task('g1'), task('g2')] },
    });
    h.agent.killTask(FRAMEWORK_ID, 'g2');
    for (const id of ['g1', 'g2']) {
      expect(await h.master.waitUpdate(id, 'TASK_KILLED')).toMatchObject({
        reason: 'REASON_TASK_KILLED_DURING_LAUNCH',
        message: 'A task within the task group was killed before delivery to the executor',
      });
    }
  });

  it('KILL of an unknown task → TASK_LOST Cannot find executor (TASK_DROPPED when PARTITION_AWARE)', async () => {
    h = await startAgent();
    h.agent.runTask({ framework: frameworkInfo(), task: task('t1', 'run', silent('e1')) });
    h.agent.killTask(FRAMEWORK_ID, 'ghost');
    expect(await h.master.waitUpdate('ghost', 'TASK_LOST')).toMatchObject({
      source: 'SOURCE_AGENT',
      reason: 'REASON_EXECUTOR_TERMINATED',
      message: 'Cannot find executor',
    });
    h.agent.updateFramework(frameworkInfo({ capabilities: [{ type: 'PARTITION_AWARE' }] }));
    h.agent.killTask(FRAMEWORK_ID, 'ghost2');
    await h.master.waitUpdate('ghost2', 'TASK_DROPPED');
  });

  it('a task for a terminating executor → TASK_LOST Executor terminating', async () => {
    h = await startAgent();
    h.agent.runTask({ framework: frameworkInfo(), task: task('t1', 'run', silent('e1')) });
    h.agent.shutdownExecutor(FRAMEWORK_ID, 'e1');
    h.agent.runTask({ framework: frameworkInfo(), task: task('t2', 'run', silent('e1')) });
    expect(await h.master.waitUpdate('t2', 'TASK_LOST')).toMatchObject({
      reason: 'REASON_EXECUTOR_TERMINATED',
      message: 'Executor terminating',
      source: 'SOURCE_AGENT',
    });
  });

  it('shutdownFramework sends SHUTDOWN and produces no agent updates for the torn-down framework', async () => {
    const sub = await asExecutor(['t1'], { executorShutdownGracePeriodMs: 200 });
    const { agent, master } = h!;
    await sendUpdate('t1', 'TASK_RUNNING');
    await master.waitUpdate('t1', 'TASK_RUNNING');
    agent.shutdownFramework(FRAMEWORK_ID);
    await sub.waitEvent('SHUTDOWN');
    await waitFor('executor killed after the grace period', () => master.exited[0]);
    expect(master.exited[0]!.status).toBe(9);
    expect(master.statesOf('t1')).toEqual(['TASK_RUNNING']);
    const res = await postCall(agent.url, {
      executor_id: { value: 'e1' },
      framework_id: { value: FRAMEWORK_ID },
      type: 'MESSAGE',
      message: { data: Buffer.from('x') },
    });
    expect(res.body).toBe('Framework cannot be found');
  });
});
