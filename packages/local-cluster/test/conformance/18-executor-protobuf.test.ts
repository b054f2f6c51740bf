/**
 * Capture 18: the executor API in protobuf: SUBSCRIBE (head without stream id), an UPDATE with
 * SOURCE_AGENT (400), UPDATE/MESSAGE/UPDATE with data (202), a 3-byte uuid (400), HEARTBEAT
 * (202); SUBSCRIBED, LAUNCH, ACKNOWLEDGED and SHUTDOWN events compared field by field.
 */
import { it } from 'vitest';
import { capturedRuns, compareExecutorRun } from './executor-side.js';
import { conformance } from './harness.js';
import { runScenario } from './replay.js';

const setup = conformance();

it('conformance: 18-executor-protobuf', async () => {
  const { replay, out } = await setup('18-executor-protobuf');
  await runScenario(replay);
  // The scheduler closed its connection (failover_timeout 0): the executor gets SHUTDOWN.
  replay.stream('subscribe').close();
  await compareExecutorRun(replay, capturedRuns('18-executor-protobuf')[0]!, out);
});
