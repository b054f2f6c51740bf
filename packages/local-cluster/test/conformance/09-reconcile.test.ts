/**
 * Capture 09: explicit and implicit reconciliation (known/unknown task, with/without/unknown
 * agent), RECONCILE without `reconcile`, and two executor-endpoint calls.
 */
import { it } from 'vitest';
import { conformance } from './harness.js';
import { runScenario } from './replay.js';

const setup = conformance();

it('conformance: 09-reconcile', async () => {
  const { replay } = await setup('09-reconcile');
  await runScenario(
    replay,
    {},
    // Captured while scenario 11 ran on the same agent (its executor and task held cpus 0.2 and
    // mem 96): the captured offer is the agent minus those. The offer shape is checked in 01/03.
    { offers: { '01-subscribe': false } },
  );
});
