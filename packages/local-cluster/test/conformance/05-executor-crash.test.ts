/**
 * Capture 05: the custom executor exits 1 with a running task → FAILURE {status: 256}, then
 * TASK_FAILED `Executor terminated` (SOURCE_AGENT, REASON_EXECUTOR_TERMINATED, with uuid).
 */
import { it } from 'vitest';
import { capturedRuns, compareExecutorRun } from './executor-side.js';
import { conformance } from './harness.js';
import { runScenario } from './replay.js';

const setup = conformance();

it('conformance: 05-executor-crash', async () => {
  const { replay, out } = await setup('05-executor-crash');
  await runScenario(replay);
  await compareExecutorRun(replay, capturedRuns('05-executor-crash')[0]!, out);
});
