/**
 * The executor on the local cluster: a real master and agent in this process, the executor as a
 * real process the agent starts from `ExecutorInfo.command` (the CLI, from source through tsx),
 * and a scheduler speaking raw HTTP (the local cluster's own test helpers).
 */
import { join } from 'node:path';
import {
  decodeMessageEnvelope,
  decodeResultEnvelope,
  encodeLaunchEnvelope,
  encodeMessageEnvelope,
  type mesos,
  parseResources,
  type TaskDefinition,
} from '@mesoskit/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalCluster, startLocalCluster } from '../../../local-cluster/src/index.js';
import { frameworkInfo, type Session, session } from '../../../local-cluster/test/master/helpers.js';
import { bad, chat, crash, echo, sleep, stubborn, waitKill } from '../fixtures/handlers/cluster-handlers.js';
import { CLUSTER_HANDLERS, cliCommand, FIXTURE_DIR } from '../helpers/cli.js';

const EXECUTOR_ID = 'mesoskit';
const UPDATE_TIMEOUT = 15_000;

let cluster: LocalCluster;
beforeAll(async () => {
  cluster = await startLocalCluster({
    agents: 1,
    executorShutdownGracePeriodMs: 3000,
    // Mesos' own 10 s resend: a shorter one could deliver a duplicate update (at-least-once)
    // before a slow acknowledgement lands, and these tests read updates in sequence.
  });
});
afterAll(async () => {
  await cluster?.stop();
});

function executorInfo(frameworkId: string, flags = ''): mesos.v1.ExecutorInfo {
  return {
    executor_id: { value: EXECUTOR_ID },
    framework_id: { value: frameworkId },
    command: { value: cliCommand(`--handlers ${CLUSTER_HANDLERS} --log-level debug ${flags}`) },
    resources: parseResources('cpus:0.1;mem:32'),
  };
}

function task<I>(
  s: Session,
  offer: mesos.v1.Offer,
  id: string,
  def: TaskDefinition<I, unknown>,
  input: I,
  extra: Partial<mesos.v1.TaskInfo> = {},
  flags = '',
): mesos.v1.TaskInfo {
  return {
    name: id,
    task_id: { value: id },
    agent_id: offer.agent_id,
    resources: parseResources('cpus:0.1;mem:32'),
    executor: executorInfo(s.frameworkId, flags),
    data: encodeLaunchEnvelope({ task: def.name, taskVersion: def.version, attempt: 1, input }),
    ...extra,
  };
}

async function ack(s: Session, status: mesos.v1.TaskStatus): Promise<void> {
  if (!status.uuid) return;
  const res = await s.call({
    type: 'ACKNOWLEDGE',
    acknowledge: { agent_id: status.agent_id!, task_id: status.task_id, uuid: status.uuid },
  });
  expect(res.status).toBe(202);
}

const TERMINAL = new Set([
  'TASK_FINISHED',
  'TASK_FAILED',
  'TASK_KILLED',
  'TASK_ERROR',
  'TASK_LOST',
  'TASK_DROPPED',
]);

/** Acknowledges a task's updates until a terminal one; returns every state seen and the terminal status. */
async function untilTerminal(
  s: Session,
  taskId: string,
): Promise<{ states: string[]; status: mesos.v1.TaskStatus }> {
  const states: string[] = [];
  for (;;) {
    const status = await s.stream.update(taskId, UPDATE_TIMEOUT);
    states.push(status.state);
    await ack(s, status);
    if (TERMINAL.has(status.state)) return { states, status };
  }
}

async function nextState(s: Session, taskId: string, state: string): Promise<mesos.v1.TaskStatus> {
  const status = await s.stream.update(taskId, UPDATE_TIMEOUT);
  expect(status.state).toBe(state);
  await ack(s, status);
  return status;
}

function output(status: mesos.v1.TaskStatus): unknown {
  const envelope = decodeResultEnvelope(status.data!);
  if (!envelope.ok) throw new Error(`task failed: ${JSON.stringify(envelope.failure)}`);
  return envelope.output;
}

async function shutdownExecutor(s: Session, offer: mesos.v1.Offer): Promise<mesos.v1.scheduler.Event> {
  const res = await s.call({
    type: 'SHUTDOWN',
    shutdown: { executor_id: { value: EXECUTOR_ID }, agent_id: offer.agent_id },
  });
  expect(res.status).toBe(202);
  return s.stream.next('FAILURE', UPDATE_TIMEOUT);
}

describe('the executor on the local cluster', () => {
  it('runs N tasks on one executor process with the concurrency limit honoured; SHUTDOWN exits 0', async () => {
    const s = await session(cluster.masterUrl, frameworkInfo({ name: 'it-concurrency' }));
    const [offer] = await s.stream.offers();
    const ids = ['n1', 'n2', 'n3', 'n4', 'n5', 'n6'];
    const tasks = ids.map((id) => task(s, offer!, id, sleep, { ms: 150 }, {}, '--concurrency 2'));
    expect((await s.launch(offer!.id.value, tasks)).status).toBe(202);
    const results = await Promise.all(ids.map((id) => untilTerminal(s, id)));
    for (const r of results) expect(r.states).toEqual(['TASK_RUNNING', 'TASK_FINISHED']);
    const outputs = results.map((r) => output(r.status) as { pid: number; maxInFlight: number });
    expect(new Set(outputs.map((o) => o.pid)).size).toBe(1);
    expect(Math.max(...outputs.map((o) => o.maxInFlight))).toBe(2);
    for (const r of results) {
      expect(r.status).toMatchObject({ source: 'SOURCE_EXECUTOR', message: 'Task finished' });
    }
    const failure = await shutdownExecutor(s, offer!);
    expect(failure.failure).toMatchObject({ executor_id: { value: EXECUTOR_ID }, status: 0 });
    s.stream.close();
  });

  it('with --running-update-delay, short tasks go from launch straight to TASK_FINISHED', async () => {
    const s = await session(cluster.masterUrl, frameworkInfo({ name: 'it-running-delay' }));
    const [offer] = await s.stream.offers();
    const flags = '--running-update-delay 300ms';
    await s.launch(offer!.id.value, [
      task(s, offer!, 'short', echo, { text: 'quick' }, {}, flags),
      task(s, offer!, 'longer', waitKill, {}, {}, flags),
    ]);
    const short = await untilTerminal(s, 'short');
    expect(short.states).toEqual(['TASK_FINISHED']);
    expect(output(short.status)).toMatchObject({ text: 'quick' });
    await nextState(s, 'longer', 'TASK_RUNNING'); // after 300 ms
    await s.call({ type: 'KILL', kill: { task_id: { value: 'longer' }, agent_id: offer!.agent_id } });
    await nextState(s, 'longer', 'TASK_KILLED');
    await shutdownExecutor(s, offer!);
    s.stream.close();
  });

  it('reports a crashing handler as TASK_FAILED with its WireFailure, and launch mismatches as non-retryable', async () => {
    const s = await session(cluster.masterUrl, frameworkInfo({ name: 'it-crash' }));
    const [offer] = await s.stream.offers();
    const versioned = { ...echo, version: 7 } as typeof echo;
    await s.launch(offer!.id.value, [
      task(s, offer!, 'boom', crash, {}),
      task(s, offer!, 'bad', bad, {}),
      task(s, offer!, 'v7', versioned, { text: 'x' }),
      task(s, offer!, 'after', echo, { text: 'still alive' }),
    ]);
    const boom = await untilTerminal(s, 'boom');
    // It fails at once: straight to the terminal update (no TASK_RUNNING within --running-update-delay).
    expect(boom.states).toEqual(['TASK_FAILED']);
    expect(boom.status.message).toBe('Error[BOOM]: the handler crashed');
    expect(decodeResultEnvelope(boom.status.data!)).toEqual({
      v: 1,
      ok: false,
      failure: { name: 'Error', code: 'BOOM', message: 'the handler crashed', retryable: true },
    });
    const badResult = decodeResultEnvelope((await untilTerminal(s, 'bad')).status.data!);
    expect(badResult.ok === false && badResult.failure).toMatchObject({
      code: 'BAD_INPUT',
      retryable: false,
    });
    const v7 = await untilTerminal(s, 'v7');
    expect(v7.states).toEqual(['TASK_FAILED']);
    expect(v7.status).toMatchObject({ reason: 'REASON_TASK_INVALID', source: 'SOURCE_EXECUTOR' });
    expect(v7.status.message).toContain('launched at version 7, but this executor handles version 1');
    // The process survived all of it.
    expect(output((await untilTerminal(s, 'after')).status)).toMatchObject({ text: 'still alive' });
    await shutdownExecutor(s, offer!);
    s.stream.close();
  });

  it('KILL: a cooperative handler and one that ignores its signal both end TASK_KILLED', async () => {
    const s = await session(cluster.masterUrl, frameworkInfo({ name: 'it-kill' }));
    const [offer] = await s.stream.offers();
    const grace = { kill_policy: { grace_period: { nanoseconds: 200e6 } } };
    await s.launch(offer!.id.value, [
      task(s, offer!, 'coop', waitKill, {}),
      task(s, offer!, 'deaf', stubborn, {}, grace),
    ]);
    await nextState(s, 'coop', 'TASK_RUNNING');
    await nextState(s, 'deaf', 'TASK_RUNNING');
    for (const id of ['coop', 'deaf']) {
      const res = await s.call({ type: 'KILL', kill: { task_id: { value: id }, agent_id: offer!.agent_id } });
      expect(res.status).toBe(202);
    }
    const coop = await nextState(s, 'coop', 'TASK_KILLED');
    expect(coop).toMatchObject({ source: 'SOURCE_EXECUTOR', message: 'Task killed' });
    const deaf = await nextState(s, 'deaf', 'TASK_KILLED');
    expect(deaf.message).toBe('Task killed; the handler did not stop within 200 ms');
    await shutdownExecutor(s, offer!);
    s.stream.close();
  });

  it('LAUNCH_GROUP: a KILL of one member kills the group, with TASK_KILLING for a TASK_KILLING_STATE framework', async () => {
    const s = await session(
      cluster.masterUrl,
      frameworkInfo({ name: 'it-group', capabilities: [{ type: 'TASK_KILLING_STATE' }] }),
    );
    const [offer] = await s.stream.offers();
    const member = (id: string): mesos.v1.TaskInfo => {
      const { executor: _, ...info } = task(s, offer!, id, waitKill, {});
      return info;
    };
    const res = await s.accept(
      [offer!.id.value],
      [
        {
          type: 'LAUNCH_GROUP',
          launch_group: {
            executor: {
              ...executorInfo(s.frameworkId),
              type: 'CUSTOM',
              resources: parseResources('cpus:0.1;mem:32;disk:10'),
            },
            task_group: { tasks: [member('m1'), member('m2')] },
          },
        },
      ],
    );
    expect(res.status).toBe(202);
    await nextState(s, 'm1', 'TASK_RUNNING');
    await nextState(s, 'm2', 'TASK_RUNNING');
    await s.call({ type: 'KILL', kill: { task_id: { value: 'm1' }, agent_id: offer!.agent_id } });
    const m1 = await untilTerminal(s, 'm1');
    const m2 = await untilTerminal(s, 'm2');
    expect(m1.states).toEqual(['TASK_KILLING', 'TASK_KILLED']);
    expect(m2.states).toEqual(['TASK_KILLING', 'TASK_KILLED']);
    expect(m2.status).toMatchObject({
      source: 'SOURCE_EXECUTOR',
      message: 'Task killed: task m1 of its task group ended in TASK_KILLED',
    });
    await shutdownExecutor(s, offer!);
    s.stream.close();
  });

  it('LAUNCH_GROUP: a member that fails gets the others killed (no TASK_KILLING without the capability)', async () => {
    const s = await session(cluster.masterUrl, frameworkInfo({ name: 'it-group-fail' }));
    const [offer] = await s.stream.offers();
    const member = <I>(id: string, def: TaskDefinition<I, unknown>, input: I): mesos.v1.TaskInfo => {
      const { executor: _, ...info } = task(s, offer!, id, def, input);
      return info;
    };
    const res = await s.accept(
      [offer!.id.value],
      [
        {
          type: 'LAUNCH_GROUP',
          launch_group: {
            executor: {
              ...executorInfo(s.frameworkId),
              type: 'CUSTOM',
              resources: parseResources('cpus:0.1;mem:32;disk:10'),
            },
            task_group: { tasks: [member('w1', waitKill, {}), member('c1', crash, {})] },
          },
        },
      ],
    );
    expect(res.status).toBe(202);
    const c1 = await untilTerminal(s, 'c1');
    const w1 = await untilTerminal(s, 'w1');
    expect(c1.states).toEqual(['TASK_FAILED']);
    expect(w1.states).toEqual(['TASK_KILLED']);
    expect(w1.status).toMatchObject({
      source: 'SOURCE_EXECUTOR',
      message: 'Task killed: task c1 of its task group ended in TASK_FAILED',
    });
    expect(w1.status.reason).toBeUndefined();
    await shutdownExecutor(s, offer!);
    s.stream.close();
  });

  it('SHUTDOWN kills running tasks with TASK_KILLED from the executor, which then exits 0', async () => {
    const s = await session(cluster.masterUrl, frameworkInfo({ name: 'it-shutdown' }));
    const [offer] = await s.stream.offers();
    await s.launch(offer!.id.value, [task(s, offer!, 'long', waitKill, {})]);
    await nextState(s, 'long', 'TASK_RUNNING');
    const res = await s.call({
      type: 'SHUTDOWN',
      shutdown: { executor_id: { value: EXECUTOR_ID }, agent_id: offer!.agent_id },
    });
    expect(res.status).toBe(202);
    const killed = await nextState(s, 'long', 'TASK_KILLED');
    expect(killed.source).toBe('SOURCE_EXECUTOR');
    expect(killed.message).toBe('Task killed: the executor is shutting down');
    const failure = await s.stream.next('FAILURE', UPDATE_TIMEOUT);
    expect(failure.failure?.status).toBe(0);
    s.stream.close();
  });

  it('the executor process killed: the agent reports TASK_FAILED (REASON_EXECUTOR_TERMINATED)', async () => {
    const s = await session(cluster.masterUrl, frameworkInfo({ name: 'it-killed-process' }));
    const [offer] = await s.stream.offers();
    await s.launch(offer!.id.value, [task(s, offer!, 'victim', waitKill, {})]);
    await nextState(s, 'victim', 'TASK_RUNNING');
    expect(cluster.faults.killExecutor(s.frameworkId, EXECUTOR_ID)).toBe(true);
    const failure = await s.stream.next('FAILURE', UPDATE_TIMEOUT);
    expect(failure.failure?.status).toBe(9);
    const failed = await nextState(s, 'victim', 'TASK_FAILED');
    expect(failed).toMatchObject({ source: 'SOURCE_AGENT', reason: 'REASON_EXECUTOR_TERMINATED' });
    s.stream.close();
  });

  it("runs isolation: 'worker' handlers in worker threads of the executor process", async () => {
    const s = await session(cluster.masterUrl, frameworkInfo({ name: 'it-worker' }));
    const [offer] = await s.stream.offers();
    const module = join(FIXTURE_DIR, 'worker-handlers.mjs');
    const info = (id: string, name: string, input: unknown): mesos.v1.TaskInfo => ({
      ...task(s, offer!, id, echo, { text: '' }),
      executor: { ...executorInfo(s.frameworkId), command: { value: cliCommand(`--handlers ${module}`) } },
      data: encodeLaunchEnvelope({ task: name, taskVersion: 1, attempt: 1, input }),
    });
    await s.launch(offer!.id.value, [info('cpu', 'w.cpu', { ms: 200 }), info('spin', 'w.spin', {})]);
    const cpu = await untilTerminal(s, 'cpu');
    expect((output(cpu.status) as { threadId: number }).threadId).toBeGreaterThan(0);
    await nextState(s, 'spin', 'TASK_RUNNING');
    await s.call({
      type: 'KILL',
      kill: {
        task_id: { value: 'spin' },
        agent_id: offer!.agent_id,
        kill_policy: { grace_period: { nanoseconds: 100e6 } },
      },
    });
    expect((await nextState(s, 'spin', 'TASK_KILLED')).message).toContain('did not stop within 100 ms');
    await shutdownExecutor(s, offer!);
    s.stream.close();
  });

  it('framework messages both ways, routed to the task they name', async () => {
    const s = await session(cluster.masterUrl, frameworkInfo({ name: 'it-messages' }));
    const [offer] = await s.stream.offers();
    await s.launch(offer!.id.value, [task(s, offer!, 'talk', chat, {}, {}, '--encoding json')]);
    await nextState(s, 'talk', 'TASK_RUNNING');
    const hello = await s.stream.next('MESSAGE', UPDATE_TIMEOUT);
    expect(decodeMessageEnvelope(hello.message!.data)).toEqual({
      v: 1,
      kind: 'message',
      taskId: 'talk',
      data: { hello: 'talk' },
    });
    for (const text of ['a', 'b']) {
      const res = await s.call({
        type: 'MESSAGE',
        message: {
          agent_id: offer!.agent_id,
          executor_id: { value: EXECUTOR_ID },
          data: encodeMessageEnvelope({ kind: 'message', taskId: 'talk', data: text }),
        },
      });
      expect(res.status).toBe(202);
    }
    expect(output(await nextState(s, 'talk', 'TASK_FINISHED'))).toEqual(['a', 'b']);
    await shutdownExecutor(s, offer!);
    s.stream.close();
  });
});
