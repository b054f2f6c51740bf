/**
 * Capture 15: LAUNCH_GROUP to a custom executor, a LAUNCH to the same executor, KILL with a
 * kill_policy, a command task killed with TASK_KILLING_STATE (TASK_KILLING, then TASK_KILLED),
 * KILL of unknown tasks, bad ACKNOWLEDGEs, the SHUTDOWN call (a stubborn executor killed after
 * its grace period: FAILURE status 9 and TASK_FAILED; an idle one exits: FAILURE status 0),
 * and UPDATE_FRAMEWORK (200; changing `user` is 400).
 */
import { it } from 'vitest';
import { capturedRuns, compareExecutorRun } from './executor-side.js';
import { conformance } from './harness.js';
import { runScenario } from './replay.js';

const setup = conformance();

it('conformance: 15-more-task-lifecycle', async () => {
  const { replay, out } = await setup(
    '15-more-task-lifecycle',
    {},
    {
      patchRequest: (name, body) => {
        // Real value: the stubborn executor's shutdown_grace_period is 2 s; here 300 ms.
        if (name !== '22-i-accept-launch-stubborn-task') return;
        const accept = body.accept as {
          operations: { launch: { task_infos: { executor: { shutdown_grace_period: unknown } }[] } }[];
        };
        accept.operations[0]!.launch.task_infos[0]!.executor.shutdown_grace_period = {
          nanoseconds: 300_000_000,
        };
      },
    },
  );
  await runScenario(replay);
  const [grp, stub] = capturedRuns('15-more-task-lifecycle');
  await compareExecutorRun(replay, grp!, out);
  await compareExecutorRun(replay, stub!, out, {
    // The grace period shortened above shows in the executor's ExecutorInfo.
    patch: (e) => {
      const text = JSON.stringify(e);
      if (text.includes('"shutdown_grace_period"')) {
        Object.assign(
          e,
          JSON.parse(text.replace(/"shutdown_grace_period":\{[^}]*\}/g, '"shutdown_grace_period":{}')),
        );
      }
    },
  });
});
