import { describe, expect, it } from 'vitest';
import { AsyncQueue } from './async-queue.js';

describe('AsyncQueue', () => {
  it('yields every pushed item in order across buffer compactions, and counts size and takes', async () => {
    let takes = 0;
    const queue = new AsyncQueue<number>(() => {
      takes++;
    });
    const n = 5000;
    for (let i = 0; i < n; i++) queue.push(i);
    expect(queue.size).toBe(n);
    const it = queue[Symbol.asyncIterator]();
    const got: number[] = [];
    // take most, push more in between: the head index passes the compaction threshold
    for (let i = 0; i < 3000; i++) got.push((await it.next()).value as number);
    for (let i = n; i < n + 100; i++) queue.push(i);
    expect(queue.size).toBe(n + 100 - 3000);
    queue.end();
    for (;;) {
      const r = await it.next();
      if (r.done) break;
      got.push(r.value);
    }
    expect(got).toEqual(Array.from({ length: n + 100 }, (_, i) => i));
    expect(takes).toBe(n + 100);
    expect(queue.size).toBe(0);
  });

  it('hands a push straight to a waiting consumer; return() empties, ends and reports a take', async () => {
    let takes = 0;
    const queue = new AsyncQueue<string>(() => {
      takes++;
    });
    const it = queue[Symbol.asyncIterator]();
    const next = it.next();
    queue.push('a');
    expect(await next).toEqual({ value: 'a', done: false });
    expect(queue.size).toBe(0);
    queue.push('b');
    queue.push('c');
    await it.return?.();
    expect(queue.size).toBe(0);
    expect(queue.ended).toBe(true);
    expect(takes).toBe(1);
    queue.push('d'); // ignored once ended
    expect(await it.next()).toEqual({ value: undefined, done: true });
    expect(() => queue[Symbol.asyncIterator]()).toThrow(/single consumer/);
  });
});
