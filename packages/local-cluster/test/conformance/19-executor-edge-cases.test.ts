/**
 * Capture 19: executor calls before SUBSCRIBE (403 `Executor is not subscribed`), a second
 * executor SUBSCRIBE that ends the first stream (no LAUNCH replayed for an acknowledged task),
 * and an executor exiting 0 with a running task (FAILURE status 0, then TASK_FAILED).
 */
import { it } from 'vitest';
import { capturedRuns, compareExecutorRun } from './executor-side.js';
import { conformance } from './harness.js';
import { runScenario } from './replay.js';

const setup = conformance();

it('conformance: 19-executor-edge-cases', async () => {
  const { replay, out } = await setup('19-executor-edge-cases');
  await runScenario(replay);
  // The capture's scheduler went away at the end (failover_timeout 0): live executors get SHUTDOWN.
  replay.stream('subscribe').close();
  for (const dir of capturedRuns('19-executor-edge-cases')) await compareExecutorRun(replay, dir, out);
});
