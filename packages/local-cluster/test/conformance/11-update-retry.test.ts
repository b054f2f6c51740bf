/**
 * Capture 11: an unacknowledged TASK_RUNNING is re-sent byte for byte (Mesos: after 10 s, 20 s,
 * 40 s; here 150 ms, doubling), the executor's TASK_FINISHED is held back until the scheduler
 * acks, the executor gets ACKNOWLEDGED at once for both, and the master's task stays
 * TASK_RUNNING meanwhile. The replay sends the late ACK after the third resend, as captured.
 */
import { expect, it } from 'vitest';
import { capturedRuns, compareExecutorRun } from './executor-side.js';
import { conformance } from './harness.js';
import { runScenario } from './replay.js';

const setup = conformance();

it('conformance: 11-update-retry', async () => {
  // Real value: 10 s initial, doubling (Mesos' status update retry); here 150 ms.
  const { cluster, replay, out } = await setup('11-update-retry', {
    statusUpdateRetryMs: { initialMs: 150, maxMs: 5000 },
  });
  await runScenario(replay, {
    '03-ack-u1-TASK_RUNNING-late': {
      before: async (r) => {
        const live = r.stream('subscribe');
        // While the update is pending the master shows the last update it forwarded.
        const state = (await cluster.state()) as {
          frameworks: { tasks: { id: string; state: string; statuses: { state: string }[] }[] }[];
        };
        const task = state.frameworks[0]!.tasks.find((t) => t.id === 'u1')!;
        expect(task.state).toBe('TASK_RUNNING');
        expect(task.statuses.map((s) => s.state)).toEqual(['TASK_RUNNING']);
        // Every resend is byte-identical to the first delivery; nothing of TASK_FINISHED yet.
        const updates = live.records.filter((_, i) => live.events[i]!.type === 'UPDATE');
        expect(updates).toHaveLength(4);
        for (const u of updates) expect(Buffer.from(u)).toEqual(Buffer.from(updates[0]!));
      },
    },
  });
  // The framework goes away (failover_timeout 0): only now does the executor get SHUTDOWN.
  replay.stream('subscribe').close();
  await compareExecutorRun(replay, capturedRuns('11-update-retry')[0]!, out);
});
