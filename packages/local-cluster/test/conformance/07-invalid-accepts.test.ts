/**
 * Capture 07: invalid ACCEPTs (too many cpus, duplicate id, `/` in id, stale and unknown offer
 * ids, LAUNCH_GROUP executors too small or without disk, no command) answered 202 with
 * master-generated updates (no uuid), TASK_DROPPED for a PARTITION_AWARE framework, then a KILL
 * of the running command task.
 */
import { it } from 'vitest';
import { conformance } from './harness.js';
import { runScenario } from './replay.js';

const setup = conformance();

it('conformance: 07-invalid-accepts', async () => {
  const { replay } = await setup('07-invalid-accepts');
  await runScenario(
    replay,
    {},
    {
      // Mesos offered the second framework what x1 left free (cpus 1.9) on its 1 s tick, before
      // the first framework got it back; with the local 50 ms cycle the first framework holds
      // that offer, so the second one's first offer comes later and differs. Pacing, not behaviour.
      offers: { '13-subscribe-partition-aware': false },
    },
  );
});
