/** The per-task event queue: lifecycle events kept, messages bounded with a drop count. */
import { describe, expect, it } from 'vitest';
import { RunEventQueue, type TaskRunEvent } from '../src/tasks/run-events.js';

const msg = (i: number): TaskRunEvent => ({ type: 'message', attempt: 1, data: i, dropped: 0 });

describe('RunEventQueue', () => {
  it('keeps every lifecycle event and the newest messages, reporting how many were dropped', async () => {
    const q = new RunEventQueue(2);
    q.push({ type: 'queued', attempt: 1 });
    for (let i = 0; i < 5; i++) q.push(msg(i));
    q.push({ type: 'running', attempt: 1, mesosTaskId: 't.1' });
    q.push({ type: 'succeeded', attempts: 1 });
    q.end();
    const got: TaskRunEvent[] = [];
    for await (const e of q) got.push(e);
    expect(got).toEqual([
      { type: 'queued', attempt: 1 },
      { type: 'message', attempt: 1, data: 3, dropped: 3 },
      { type: 'message', attempt: 1, data: 4, dropped: 0 },
      { type: 'running', attempt: 1, mesosTaskId: 't.1' },
      { type: 'succeeded', attempts: 1 },
    ]);
  });

  it('hands events straight to a waiting consumer and has a single consumer', async () => {
    const q = new RunEventQueue(1);
    const it = q[Symbol.asyncIterator]();
    const next = it.next();
    q.push(msg(7));
    expect((await next).value).toEqual(msg(7));
    expect(() => q[Symbol.asyncIterator]()).toThrow(/single consumer/);
    q.end();
    expect((await it.next()).done).toBe(true);
  });
});
