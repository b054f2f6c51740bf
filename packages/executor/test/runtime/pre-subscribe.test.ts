/**
 * The CLI's early SUBSCRIBE (cold start): sent before the runtime loads, adopted by the
 * runtime's first subscription when it is byte for byte the request the runtime would send.
 */
import { executorCall } from '@mesoskit/protocol';
import { describe, expect, it } from 'vitest';
import { subscribeBody, subscribeEarly, takeEarlySubscription } from '../../src/pre-subscribe.js';
import { echo } from '../helpers/tasks.js';
import { start } from './setup.js';

describe('early SUBSCRIBE', () => {
  for (const encoding of ['json', 'protobuf'] as const) {
    it(`encodes the same bytes as the general codec (${encoding})`, () => {
      const ids = { executor_id: { value: 'exé-1' }, framework_id: { value: 'fw-0000' } };
      const general = executorCall.encode({ ...ids, type: 'SUBSCRIBE', subscribe: {} }, encoding);
      expect(Buffer.from(subscribeBody(encoding, 'exé-1', 'fw-0000')).equals(Buffer.from(general))).toBe(
        true,
      );
    });
  }

  it('is adopted by the runtime: one SUBSCRIBE stream, events sent before adoption are not lost', async () => {
    let launched = false;
    const { agent } = await start({
      encoding: 'protobuf',
      beforeRun: (agent) => {
        subscribeEarly({ env: agent.env(), encoding: 'protobuf' });
        // The agent answers the early SUBSCRIBE, and sends a task, before the runtime exists.
        return agent
          .waitForCall('the early SUBSCRIBE', (c) => c.type === 'SUBSCRIBE')
          .then(() => {
            agent.launch('early', { task: echo.name, taskVersion: 1, attempt: 1, input: { text: 'hi' } });
            launched = true;
          });
      },
    });
    expect(launched).toBe(true);
    await agent.waitForUpdate('early', 'TASK_FINISHED');
    expect(agent.streams).toBe(1);
    expect(agent.calls.filter((c) => c.call.type === 'SUBSCRIBE')).toHaveLength(1);
  });

  it('is closed, not adopted, when the runtime would send another request', async () => {
    const { agent } = await start({
      encoding: 'json',
      beforeRun: async (agent) => {
        subscribeEarly({ env: agent.env(), encoding: 'protobuf' }); // not what the runtime sends
        await agent.waitForCall('the early SUBSCRIBE', (c) => c.type === 'SUBSCRIBE');
      },
    });
    expect(agent.streams).toBe(2);
    expect(agent.calls[1]!.headers['content-type']).toBe('application/json');
    expect(takeEarlySubscription('', Buffer.alloc(0))).toBeUndefined();
  });
});
