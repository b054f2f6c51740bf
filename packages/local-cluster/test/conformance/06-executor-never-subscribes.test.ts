/**
 * Capture 06: an executor (`sleep 600`) that never subscribes → FAILURE, then TASK_FAILED
 * `Executor did not register within …` (REASON_EXECUTOR_REGISTRATION_TIMEOUT). Mesos ran with
 * `--executor_registration_timeout=5secs`; the local cluster runs with 500 ms, so the expected
 * message is the captured one with the duration rewritten.
 */
import { it } from 'vitest';
import { conformance } from './harness.js';
import { runScenario } from './replay.js';

const setup = conformance();

it('conformance: 06-executor-never-subscribes', async () => {
  // Real value: 5 s (`--executor_registration_timeout=5secs`); here 500 ms.
  const { replay } = await setup(
    '06-executor-never-subscribes',
    { executorRegistrationTimeoutMs: 500 },
    {
      rewrite: [['Executor did not register within 5secs', 'Executor did not register within 500ms']],
    },
  );
  await runScenario(replay);
});
