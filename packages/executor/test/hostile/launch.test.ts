/**
 * Hostile launch data (issue: chaos and hostile input): random bytes, random MessagePack,
 * `__proto__` keys, deep nesting, huge strings, wrong versions and unknown tasks in
 * `TaskInfo.data`. Every such task ends `TASK_FAILED` with a reason and a non-retryable failure;
 * the executor process keeps serving, and a good task after them still finishes.
 *
 * `MESOSKIT_PROPERTY_RUNS` scales the number of cases (default 200 → 600 launches).
 */
import { decodeResultEnvelope, encodeLaunchEnvelope } from '@mesoskit/protocol';
import { encode as msgpack } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { taskInfo } from '../helpers/fake-agent.js';
import { start } from '../runtime/setup.js';

const RUNS = (() => {
  const n = Number(process.env.MESOSKIT_PROPERTY_RUNS);
  return Number.isSafeInteger(n) && n > 0 ? n : 200;
})();

/** Launch data that must not run a handler: each case says what it is. */
/** Hostile launches of the first test: 600 by default. */
const LAUNCHES = Math.max(1, Math.round((3 * 200 * RUNS) / 200));
const BATCH = 10;

const hostileData: fc.Arbitrary<{ what: string; data: Uint8Array }> = fc.oneof(
  fc.uint8Array({ maxLength: 256 }).map((data) => ({ what: 'random bytes', data })),
  fc.anything({ maxDepth: 3 }).map((v) => {
    try {
      return { what: 'random MessagePack', data: msgpack(v) };
    } catch {
      return { what: 'random MessagePack (unencodable → bytes)', data: new Uint8Array([0xc1]) };
    }
  }),
  fc.constantFrom(
    // fixed-order array envelope [v, task, taskVersion, attempt, input], corrupted
    { what: 'wrong envelope version', data: msgpack([99, 'test.echo', 1, 1, { text: 'x' }]) },
    { what: 'unknown task', data: msgpack([1, 'no.such.task', 1, 1, null]) },
    { what: 'wrong task version', data: msgpack([1, 'test.echo', 7, 1, { text: 'x' }]) },
    { what: 'an object, not the envelope', data: msgpack({ v: 1, task: 'test.echo' }) },
    {
      what: '__proto__ key in the input',
      data: Buffer.from('9501a9746573742e6563686f010181a95f5f70726f746f5f5f81a178c3', 'hex'),
    },
    { what: 'empty data', data: new Uint8Array(0) },
    {
      what: 'trailing bytes',
      data: new Uint8Array([
        ...encodeLaunchEnvelope({ task: 'test.echo', taskVersion: 1, attempt: 1, input: { text: 'x' } }),
        0x00,
      ]),
    },
  ),
  fc.integer({ min: 1000, max: 5000 }).map((depth) => ({
    what: 'deep nesting',
    data: new Uint8Array([
      0x95,
      0x01,
      0xa9,
      ...Buffer.from('test.echo'),
      0x01,
      0x01,
      ...new Array(depth).fill(0x91),
      0xc0,
    ]),
  })),
);

describe('hostile launch data', () => {
  it(
    'every hostile LAUNCH ends TASK_FAILED with a reason; the executor keeps serving',
    async () => {
      const { agent, executor } = await start();
      let n = 0;
      // Ten launches in flight at a time: the executor handles them concurrently, as on an agent.
      await fc.assert(
        fc.asyncProperty(fc.array(hostileData, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
          const from = agent.calls.length;
          const launched = batch.map(({ what, data }) => {
            const id = `h${++n}`;
            agent.send({ type: 'LAUNCH', launch: { task: taskInfo(id, data) } });
            return { what, id };
          });
          for (const { what, id } of launched) {
            const status = await agent.waitForUpdate(id, 'TASK_FAILED', 5000, from);
            expect(status.message, what).toBeTruthy();
            expect(status.reason, what).toBeDefined();
            const env = decodeResultEnvelope(status.data!);
            expect(env.ok, what).toBe(false);
            if (!env.ok) expect(env.failure.retryable, what).toBe(false);
            agent.ack(status);
          }
        }),
        { numRuns: Math.ceil(LAUNCHES / BATCH) },
      );
      // Still alive and serving: a good task finishes.
      agent.launch('good', { task: 'test.echo', taskVersion: 1, attempt: 1, input: { text: 'still here' } });
      const ok = await agent.waitForUpdate('good', 'TASK_FINISHED');
      expect(decodeResultEnvelope(ok.data!)).toMatchObject({ ok: true, output: { text: 'still here' } });
      expect(executor.stats().running).toBe(0);
    },
    30_000 + LAUNCHES * 5,
  );

  it('a huge string input within the limit runs; over the executor limit it fails with a reason', async () => {
    const { agent } = await start({ maxLaunchBytes: 1024 * 1024 });
    agent.launch('big-ok', {
      task: 'test.echo',
      taskVersion: 1,
      attempt: 1,
      input: { text: 'x'.repeat(512 * 1024) },
    });
    await agent.waitForUpdate('big-ok', 'TASK_FINISHED');
    agent.launch('big-no', {
      task: 'test.echo',
      taskVersion: 1,
      attempt: 1,
      input: { text: 'x'.repeat(2 * 1024 * 1024) },
    });
    const failed = await agent.waitForUpdate('big-no', 'TASK_FAILED');
    expect(failed.message).toMatch(/large|bytes|limit/i);
  }, 60_000);
});
