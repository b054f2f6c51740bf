/**
 * Capture 16: the command-task flow in protobuf (hand-encoded ACCEPT/ACKNOWLEDGE replayed with
 * the local ids), a 5-byte uuid ACK (400) and a RECONCILE of an unknown task.
 */
import { it } from 'vitest';
import { conformance } from './harness.js';
import { runScenario } from './replay.js';

const setup = conformance();

it('conformance: 16-protobuf-task-flow', async () => {
  const { replay } = await setup('16-protobuf-task-flow');
  await runScenario(replay);
});
