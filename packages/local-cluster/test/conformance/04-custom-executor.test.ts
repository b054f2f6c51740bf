/**
 * Capture 04: a custom executor (our stand-in for the capture executor) runs e1 (finish), e2
 * (run, same executor process), gets a scheduler MESSAGE and answers, e3 sends a MESSAGE, e2 is
 * killed, TEARDOWN ends the stream and the executor gets SHUTDOWN. Scheduler and executor
 * sides are both compared with the capture.
 */
import { lstatSync, readdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { type LocalCluster, startLocalCluster } from '../../src/index.js';
import {
  CAPTURE_EXECUTOR,
  capturedEnv,
  capturedRuns,
  compareExecutorRun,
  executorRewrites,
  tempOut,
} from './executor-side.js';
import { Replay, runScenario } from './replay.js';

const SCENARIO = '04-custom-executor';
let cluster: LocalCluster | undefined;
let replay: Replay | undefined;
const out = tempOut();
afterEach(async () => {
  replay?.closeAll();
  await cluster?.stop();
  cluster = replay = undefined;
  out.remove();
});

it(`conformance: ${SCENARIO}`, async () => {
  cluster = await startLocalCluster();
  replay = new Replay(SCENARIO, cluster.masterUrl, { rewrite: executorRewrites(SCENARIO, out.dir) });
  await runScenario(replay, {
    // TEARDOWN: the subscription ends before (or as) the 202 arrives.
    '12-teardown': { after: async (r) => void (await r.stream('subscribe').end()) },
  });
  const [dir] = capturedRuns(SCENARIO);
  const run = await compareExecutorRun(replay, dir!, out.dir);
  // Environment: exactly the variables Mesos gives (values that vary are compared by shape).
  const captured = capturedEnv(SCENARIO, dir!);
  expect(Object.keys(run.env).sort()).toEqual(Object.keys(captured.env).sort());
  expect(run.cwd).toBe(run.env.MESOS_SANDBOX);
  expect(run.argv.at(-1)).toBe(CAPTURE_EXECUTOR);
  // Sandbox layout: executors/<executorId>/runs/<containerId>/{stdout,stderr}, runs/latest → it.
  const agent = cluster.agents[0]!;
  const fw = replay.stream('subscribe').events[0]!.subscribed!.framework_id.value;
  const runs = join(agent.workDir, 'slaves', agent.id, 'frameworks', fw, 'executors', 'cap-exec', 'runs');
  expect(lstatSync(join(runs, 'latest')).isSymbolicLink()).toBe(true);
  expect(realpathSync(join(runs, 'latest'))).toBe(realpathSync(run.env.MESOS_SANDBOX!));
  expect(readdirSync(run.env.MESOS_SANDBOX!).sort()).toEqual(['stderr', 'stdout']);
});
