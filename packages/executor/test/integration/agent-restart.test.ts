/**
 * mesoskit-executor across an agent restart: a checkpointing framework, a real master and agent
 * in this process (the local cluster), the executor as a real process (the CLI from source), a
 * raw-HTTP scheduler. The agent crashes and comes back on the same port and work dir while
 * tasks run; the executor re-subscribes with its unacknowledged tasks and updates, and each
 * task's terminal update reaches the scheduler exactly once (updates are at-least-once on the
 * wire: duplicates are recognised by uuid), with the task's result.
 */
import {
  decodeMessageEnvelope,
  decodeResultEnvelope,
  encodeLaunchEnvelope,
  encodeMessageEnvelope,
  isTerminalTaskState,
  type mesos,
  parseResources,
  type TaskDefinition,
} from '@mesoskit/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalCluster, startLocalCluster } from '../../../local-cluster/src/index.js';
import { waitFor } from '../../../local-cluster/test/agent/helpers.js';
import { frameworkInfo, type Session, session } from '../../../local-cluster/test/master/helpers.js';
import { chat, sleep } from '../fixtures/handlers/cluster-handlers.js';
import { CLUSTER_HANDLERS, cliCommand } from '../helpers/cli.js';

const EXECUTOR_ID = 'mesoskit';
const WAIT = 20_000;

let cluster: LocalCluster;
beforeAll(async () => {
  cluster = await startLocalCluster({
    agents: 1,
    executorShutdownGracePeriodMs: 3000,
    // The agent waits 10 s for executors to come back; the executor retries every ≤ 200 ms
    // (Mesos ties both to one flag; split here so the test cannot race the deadline).
    executorReregistrationTimeoutMs: 10_000,
    executorEnvironment: { MESOS_SUBSCRIPTION_BACKOFF_MAX: '200ms' },
    // Mesos' own 10 s status update resend (the default).
  });
});
afterAll(async () => {
  await cluster?.stop();
});

function task<I>(s: Session, offer: mesos.v1.Offer, id: string, def: TaskDefinition<I, unknown>, input: I) {
  return {
    name: id,
    task_id: { value: id },
    agent_id: offer.agent_id,
    resources: parseResources('cpus:0.1;mem:32'),
    executor: {
      executor_id: { value: EXECUTOR_ID },
      framework_id: { value: s.frameworkId },
      command: { value: cliCommand(`--handlers ${CLUSTER_HANDLERS} --encoding json --log-level debug`) },
      resources: parseResources('cpus:0.1;mem:32'),
    },
    data: encodeLaunchEnvelope({ task: def.name, taskVersion: def.version, attempt: 1, input }),
  } satisfies mesos.v1.TaskInfo;
}

const hex = (uuid: Uint8Array): string => Buffer.from(uuid).toString('hex');

/** Reads a task's updates once each (by uuid), acknowledging every one. */
async function nextUpdate(s: Session, taskId: string, seen: Set<string>): Promise<mesos.v1.TaskStatus> {
  for (;;) {
    const status = await s.stream.update(taskId, WAIT);
    if (status.uuid) {
      const res = await s.call({
        type: 'ACKNOWLEDGE',
        acknowledge: { agent_id: status.agent_id!, task_id: status.task_id, uuid: status.uuid },
      });
      expect(res.status).toBe(202);
      if (seen.has(hex(status.uuid))) continue;
      seen.add(hex(status.uuid));
    }
    return status;
  }
}

/** The executor's pid once it is subscribed to the (current) agent. */
function subscribedPid(what: string): Promise<number> {
  return waitFor(
    what,
    () => {
      const e = cluster.agents[0]!.executors().find((x) => x.executorId === EXECUTOR_ID);
      return e?.state === 'RUNNING' ? e.pid : undefined;
    },
    WAIT,
  );
}

function output(status: mesos.v1.TaskStatus): unknown {
  const envelope = decodeResultEnvelope(status.data!);
  if (!envelope.ok) throw new Error(`task failed: ${JSON.stringify(envelope.failure)}`);
  return envelope.output;
}

describe('mesoskit-executor across an agent restart (checkpointing framework)', () => {
  it('re-subscribes to the restarted agent; tasks finish once each, with their results', async () => {
    const info = frameworkInfo({ name: 'it-agent-restart', checkpoint: true, failover_timeout: 3600 });
    const s = await session(cluster.masterUrl, info);
    const [offer] = await s.stream.offers();
    const seen = new Set<string>();
    // 'slow' ends while the agent is down (its TASK_FINISHED travels in the next SUBSCRIBE);
    // 'talk' waits for two messages that can only come after the restart.
    await s.launch(offer!.id.value, [
      task(s, offer!, 'slow', sleep, { ms: 1500 }),
      task(s, offer!, 'talk', chat, {}),
    ]);
    expect((await nextUpdate(s, 'slow', seen)).state).toBe('TASK_RUNNING');
    expect((await nextUpdate(s, 'talk', seen)).state).toBe('TASK_RUNNING');
    const hello = await s.stream.next('MESSAGE', WAIT);
    expect(decodeMessageEnvelope(hello.message!.data)).toMatchObject({
      taskId: 'talk',
      data: { hello: 'talk' },
    });
    const pid = await subscribedPid('the executor to subscribe');

    await cluster.faults.restartAgent(0, { downMs: 2500 });
    expect(cluster.agents[0]!.id).toBe(offer!.agent_id.value);
    expect(await subscribedPid('the executor to re-subscribe to the restarted agent')).toBe(pid);

    const slow = await nextUpdate(s, 'slow', seen);
    expect(slow).toMatchObject({ state: 'TASK_FINISHED', source: 'SOURCE_EXECUTOR' });
    expect(output(slow)).toMatchObject({ pid });

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
    const talk = await nextUpdate(s, 'talk', seen);
    expect(talk.state).toBe('TASK_FINISHED');
    expect(output(talk)).toEqual(['a', 'b']);

    // Shut the executor down and wait for its FAILURE event: every update it or the agent sent
    // before is on the stream by then. Each task reached a terminal state exactly once.
    const res = await s.call({
      type: 'SHUTDOWN',
      shutdown: { executor_id: { value: EXECUTOR_ID }, agent_id: offer!.agent_id },
    });
    expect(res.status).toBe(202);
    expect((await s.stream.next('FAILURE', WAIT)).failure).toMatchObject({ status: 0 });
    for (const taskId of ['slow', 'talk']) {
      const terminal = new Set(
        s.stream.events
          .map((e) => e.update?.status)
          .filter((st) => st?.task_id.value === taskId && isTerminalTaskState(st.state))
          .map((st) => (st!.uuid ? hex(st!.uuid) : 'no-uuid')),
      );
      expect(terminal.size, `terminal updates of ${taskId}`).toBe(1);
    }
    s.stream.close();
  });
});
