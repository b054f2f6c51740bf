/**
 * Capture 03: a command task `echo hi; exit 0` (STARTING, RUNNING, FINISHED, each acked), then
 * `exit 3` (TASK_FAILED with no reason); every update compared field by field.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { type LocalCluster, startLocalCluster } from '../../src/index.js';
import { Replay, runScenario } from './replay.js';

let cluster: LocalCluster | undefined;
let replay: Replay | undefined;
afterEach(async () => {
  replay?.closeAll();
  await cluster?.stop();
  cluster = replay = undefined;
});

it('conformance: 03-command-task', async () => {
  cluster = await startLocalCluster();
  replay = new Replay('03-command-task', cluster.masterUrl);
  await runScenario(replay);
  // The sandbox of the command executor: executors/<taskId>/runs/latest/{stdout,stderr}.
  const agent = cluster.agents[0]!;
  const fw = replay.stream('subscribe').events[0]!.subscribed!.framework_id.value;
  const sandbox = join(
    agent.workDir,
    'slaves',
    agent.id,
    'frameworks',
    fw,
    'executors',
    't1',
    'runs',
    'latest',
  );
  expect(readFileSync(join(sandbox, 'stdout'), 'utf8')).toBe('hi\n');
});
