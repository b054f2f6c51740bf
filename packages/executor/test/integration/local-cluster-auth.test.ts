/**
 * The executor on a local cluster with executor authentication on: the agent gives each executor
 * its own token in MESOS_EXECUTOR_AUTHENTICATION_TOKEN and refuses calls without it, so a task
 * only finishes if mesoskit-executor sends `Authorization: Bearer <token>` on every call.
 */
import { decodeResultEnvelope, encodeLaunchEnvelope, type mesos, parseResources } from '@mesoskit/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalCluster, startLocalCluster } from '../../../local-cluster/src/index.js';
import { frameworkInfo, session } from '../../../local-cluster/test/master/helpers.js';
import { echo } from '../fixtures/handlers/cluster-handlers.js';
import { CLUSTER_HANDLERS, cliCommand } from '../helpers/cli.js';

let cluster: LocalCluster;
beforeAll(async () => {
  cluster = await startLocalCluster({ agents: 1, executorAuthentication: true });
});
afterAll(async () => {
  await cluster?.stop();
});

describe('the executor with executor authentication on', () => {
  it('subscribes, updates and finishes a task with its Bearer token', async () => {
    const s = await session(cluster.masterUrl, frameworkInfo({ name: 'it-auth' }));
    const [offer] = await s.stream.offers();
    const taskInfo: mesos.v1.TaskInfo = {
      name: 'auth',
      task_id: { value: 'auth' },
      agent_id: offer!.agent_id,
      resources: parseResources('cpus:0.1;mem:32'),
      executor: {
        executor_id: { value: 'mesoskit' },
        framework_id: { value: s.frameworkId },
        command: { value: cliCommand(`--handlers ${CLUSTER_HANDLERS}`) },
        resources: parseResources('cpus:0.1;mem:32'),
      },
      data: encodeLaunchEnvelope({
        task: echo.name,
        taskVersion: echo.version,
        attempt: 1,
        input: { text: 'hi' },
      }),
    };
    expect((await s.launch(offer!.id.value, [taskInfo])).status).toBe(202);
    const states: string[] = [];
    let status: mesos.v1.TaskStatus;
    do {
      status = await s.stream.update('auth', 15_000);
      states.push(status.state);
      await s.call({
        type: 'ACKNOWLEDGE',
        acknowledge: { agent_id: status.agent_id!, task_id: status.task_id, uuid: status.uuid! },
      });
    } while (status.state === 'TASK_RUNNING');
    // A short task goes straight to its terminal update (the default --running-update-delay).
    expect(states).toEqual(['TASK_FINISHED']);
    const result = decodeResultEnvelope(status.data!);
    expect(result).toMatchObject({ ok: true, output: { text: 'hi' } });
    s.stream.close();
  });
});
