/**
 * `startLocalCluster({ executorAuthentication: true })` end to end: a scheduler over raw HTTP,
 * the agent's test executor as a real process sending its token as `Authorization: Bearer`.
 */
import { type mesos, parseResources } from '@mesoskit/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { type LocalCluster, startLocalCluster } from '../../src/index.js';
import { FIXTURE, request } from '../agent/helpers.js';
import { frameworkInfo, type Session, session } from '../master/helpers.js';

let cluster: LocalCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

async function ack(s: Session, status: mesos.v1.TaskStatus): Promise<void> {
  const res = await s.call({
    type: 'ACKNOWLEDGE',
    acknowledge: { agent_id: status.agent_id!, task_id: status.task_id, uuid: status.uuid! },
  });
  expect(res.status).toBe(202);
}

function executorTask(
  id: string,
  offer: mesos.v1.Offer,
  frameworkId: string,
  executorId: string,
  environment?: mesos.v1.Environment,
): mesos.v1.TaskInfo {
  return {
    name: id,
    task_id: { value: id },
    agent_id: offer.agent_id,
    resources: parseResources('cpus:0.1;mem:32'),
    data: Buffer.from(JSON.stringify({ mode: 'finish' })),
    executor: {
      executor_id: { value: executorId },
      framework_id: { value: frameworkId },
      command: { value: `exec node ${FIXTURE}`, ...(environment ? { environment } : {}) },
      resources: parseResources('cpus:0.1;mem:32'),
    },
  };
}

describe('the local cluster with executor authentication', () => {
  it('runs a custom executor task to TASK_FINISHED; an executor without its token cannot subscribe', async () => {
    cluster = await startLocalCluster({
      executorAuthentication: true,
      executorShutdownGracePeriodMs: 1000,
      statusUpdateRetryMs: { initialMs: 200, maxMs: 1000 },
    });
    const s = await session(cluster.masterUrl, frameworkInfo({ name: 'executor-auth' }));
    const [offer] = await s.stream.offers();
    await s.launch(offer!.id.value, [
      executorTask('good', offer!, s.frameworkId, 'with-token'),
      // The framework overrides the variable: the executor sends a token that does not verify.
      executorTask('bad', offer!, s.frameworkId, 'bad-token', {
        variables: [{ name: 'MESOS_EXECUTOR_AUTHENTICATION_TOKEN', type: 'VALUE', value: 'not.a.token' }],
      }),
    ]);
    const states = new Map<string, mesos.v1.TaskStatus[]>();
    const terminal = new Set(['TASK_FINISHED', 'TASK_FAILED']);
    const done = (): number => [...states.values()].filter((l) => terminal.has(l.at(-1)!.state)).length;
    while (done() < 2) {
      const status = (await s.stream.next('UPDATE', 15_000)).update!.status;
      states.set(status.task_id.value, [...(states.get(status.task_id.value) ?? []), status]);
      await ack(s, status);
    }
    expect(states.get('good')!.map((u) => u.state)).toEqual(['TASK_RUNNING', 'TASK_FINISHED']);
    expect(states.get('bad')!.map((u) => [u.state, u.reason, u.source])).toEqual([
      ['TASK_FAILED', 'REASON_EXECUTOR_TERMINATED', 'SOURCE_AGENT'],
    ]);

    // Anyone else calling the agent's executor endpoint is turned away.
    const res = await request(cluster.agents[0]!.url, {
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        type: 'MESSAGE',
        framework_id: { value: s.frameworkId },
        executor_id: { value: 'with-token' },
        message: { data: Buffer.from('x').toString('base64') },
      }),
    });
    expect([res.status, res.headers['www-authenticate'], res.body]).toEqual([
      401,
      'Bearer realm="mesos-agent-executor"',
      '401 Unauthorized.',
    ]);
    s.stream.close();
  });
});
