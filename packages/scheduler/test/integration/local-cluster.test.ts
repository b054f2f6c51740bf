/**
 * MesosSchedulerClient against the real local cluster (master + agent + command executor).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Offer, parseResources, type TaskStatus } from '@mesoskit/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalCluster, startLocalCluster } from '../../../local-cluster/src/index.js';
import { fileFrameworkIdStore, MesosSchedulerClient, SubscriptionLostError } from '../../src/index.js';
import { within } from '../fake-master.js';

let cluster: LocalCluster;
beforeAll(async () => {
  cluster = await startLocalCluster({
    agents: 1,
    executorShutdownGracePeriodMs: 1000,
  });
});
afterAll(async () => {
  await cluster?.stop();
});

/** The first offer the client receives. */
function firstOffer(client: MesosSchedulerClient): Promise<Offer> {
  return within(
    'an offer from the local cluster',
    10_000,
    new Promise<Offer>((resolve) =>
      client.on('offers', (offers) => {
        if (offers[0]) resolve(offers[0]);
      }),
    ),
  );
}

describe('MesosSchedulerClient on the local cluster', () => {
  for (const encoding of ['protobuf', 'json'] as const) {
    it(`launches echo hi via accept and sees TASK_FINISHED with auto-ack, then tears down (${encoding})`, async ({
      task,
    }) => {
      await using client = await MesosSchedulerClient.connect({
        master: cluster.masterUrl,
        framework: { name: `${task.name}`, failover_timeout: 60 },
        encoding,
      });
      expect(client.frameworkId).toMatch(/-\d{4}$/);
      // Status updates are at-least-once: under load the agent may resend one (same uuid)
      // before the acknowledgement reaches it. Each distinct update counts once.
      const states: string[] = [];
      const seen = new Map<string, string>();
      const finished = new Promise<TaskStatus>((resolve) =>
        client.on('update', (status) => {
          const uuid = Buffer.from(status.uuid!).toString('hex');
          const earlier = seen.get(uuid);
          if (earlier !== undefined) {
            expect(status.state, 'a resent update keeps its state').toBe(earlier);
            return;
          }
          seen.set(uuid, status.state);
          states.push(status.state);
          if (status.state === 'TASK_FINISHED') resolve(status);
        }),
      );
      const offer = await firstOffer(client);
      await client.launch(
        [offer.id],
        [
          {
            name: 'hi',
            task_id: { value: `hi-${encoding}` },
            agent_id: offer.agent_id,
            resources: parseResources('cpus:0.1;mem:32'),
            command: { value: 'echo hi' },
          },
        ],
        { refuse_seconds: 0 },
      );
      const status = await within('TASK_FINISHED (every earlier update auto-acknowledged)', 15_000, finished);
      expect(status.message).toBe('Command exited with status 0');
      expect(states).toEqual(['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);
      const frameworkId = client.frameworkId;
      await client.teardown();
      await expect(client.closed()).resolves.toBeUndefined();
      const state = (await cluster.state()) as { frameworks?: { id: string }[] };
      expect((state.frameworks ?? []).some((f) => f.id === frameworkId)).toBe(false);
    });
  }

  it('resubscribes with the same framework id after the subscription is cut, and still gets TASK_FINISHED', async ({
    task,
  }) => {
    await using client = await MesosSchedulerClient.connect({
      master: cluster.masterUrl,
      framework: { name: task.name, failover_timeout: 60 },
      reconnect: { initialMs: 50, maxMs: 200 },
    });
    const frameworkId = client.frameworkId!;
    const resubscribed = new Promise<string>((resolve) =>
      client.on('subscribed', (info) => {
        if (info.resubscribed) resolve(info.frameworkId);
      }),
    );
    const running = new Promise<void>((resolve) =>
      client.on('update', (status) => {
        if (status.state === 'TASK_RUNNING') resolve();
      }),
    );
    const finished = new Promise<TaskStatus>((resolve) =>
      client.on('update', (status) => {
        if (status.state === 'TASK_FINISHED') resolve(status);
      }),
    );
    const offer = await firstOffer(client);
    await client.launch(
      [offer.id],
      [
        {
          name: 'slow',
          task_id: { value: 'slow-1' },
          agent_id: offer.agent_id,
          resources: parseResources('cpus:0.1;mem:32'),
          command: { value: 'sleep 1' },
        },
      ],
    );
    await within('TASK_RUNNING', 10_000, running);
    expect(cluster.faults.dropSubscription(frameworkId)).toBe(true);
    expect(await within('a resubscription', 10_000, resubscribed)).toBe(frameworkId);
    const status = await within('TASK_FINISHED after the resubscription', 15_000, finished);
    expect(status.task_id.value).toBe('slow-1');
    await client.teardown();
  });

  it('fails over through a file FrameworkIdStore: a second client gets the same framework id, and its task is still running', async ({
    task,
  }) => {
    const dir = await mkdtemp(join(tmpdir(), 'mesoskit-failover-'));
    try {
      const path = join(dir, 'state', 'framework-id');
      const options = {
        master: cluster.masterUrl,
        framework: { name: task.name, failover_timeout: 60 },
      };
      const first = await MesosSchedulerClient.connect({
        ...options,
        frameworkIdStore: fileFrameworkIdStore(path),
      });
      const frameworkId = first.frameworkId!;
      // Listening before anything else is awaited: callbacks see events from SUBSCRIBED on
      // only when registered right after connect() (the first offer follows within ms).
      const offered = firstOffer(first);
      expect(await fileFrameworkIdStore(path).load()).toBe(frameworkId);
      const running = new Promise<void>((resolve) =>
        first.on('update', (status) => {
          if (status.state === 'TASK_RUNNING') resolve();
        }),
      );
      const offer = await offered;
      await first.launch(
        [offer.id],
        [
          {
            name: 'long',
            task_id: { value: 'long-1' },
            agent_id: offer.agent_id,
            resources: parseResources('cpus:0.1;mem:32'),
            command: { value: 'sleep 30' },
          },
        ],
      );
      await within('TASK_RUNNING on the first client', 10_000, running);

      // A new client object with its own store object on the same file: a restarted scheduler.
      await using second = await MesosSchedulerClient.connect({
        ...options,
        frameworkIdStore: fileFrameworkIdStore(path),
      });
      const reconciled = new Promise<TaskStatus>((resolve) =>
        second.on('update', (status) => {
          if (status.reason === 'REASON_RECONCILIATION') resolve(status);
        }),
      );
      expect(second.frameworkId).toBe(frameworkId);
      // The master told the first subscription it lost; the first client closed.
      const firstClosed = await within('the first client to close', 5000, first.closed());
      expect(firstClosed).toBeInstanceOf(SubscriptionLostError);
      expect(firstClosed?.message).toContain('Framework failed over');
      // reconcileOnResubscribe 'implicit' (the default): the master reports the task, still running.
      const status = await within('the implicit reconciliation answer', 10_000, reconciled);
      expect(status.task_id.value).toBe('long-1');
      expect(status.state).toBe('TASK_RUNNING');
      expect(status.uuid).toBeUndefined();

      await second.teardown();
      expect(await fileFrameworkIdStore(path).load()).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
