/** Task definitions and handlers for the unit tests; each handler has one behaviour. */
import { defineTask } from '@mesoskit/protocol';
import { handle, handlers, NonRetryableError } from '../../src/index.js';

/** Gates the tests open to let a blocked handler finish. */
export class Gates {
  readonly #gates = new Map<string, { promise: Promise<unknown>; open: (v: unknown) => void }>();
  readonly started: string[] = [];
  readonly aborted: string[] = [];

  #get(id: string) {
    let g = this.#gates.get(id);
    if (!g) {
      let open!: (v: unknown) => void;
      const promise = new Promise((resolve) => {
        open = resolve;
      });
      g = { promise, open };
      this.#gates.set(id, g);
    }
    return g;
  }
  readonly #startWaiters = new Map<string, () => void>();
  wait(id: string): Promise<unknown> {
    this.started.push(id);
    this.#startWaiters.get(id)?.();
    return this.#get(id).promise;
  }
  /** Resolves once a handler waits on gate `id` (it has started), or rejects after `timeoutMs`. */
  whenStarted(id: string, timeoutMs = 5000): Promise<void> {
    if (this.started.includes(id)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`handler ${id} did not start within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#startWaiters.set(id, () => {
        clearTimeout(timer);
        this.#startWaiters.delete(id);
        resolve();
      });
    });
  }
  /** Forgets every gate (between tests, so task ids can be reused). */
  reset(): void {
    this.#gates.clear();
    this.#startWaiters.clear();
    this.started.length = 0;
    this.aborted.length = 0;
  }
  open(id: string, value: unknown = 'released'): void {
    this.#get(id).open(value);
  }
}

export const gates = new Gates();

export const echo = defineTask<{ text: string; bytes?: Uint8Array }, { text: string; bytes?: Uint8Array }>(
  'test.echo',
);
export const fail = defineTask<{ code?: string }, never>('test.fail');
export const failSync = defineTask<Record<string, never>, never>('test.fail-sync');
export const nonRetryable = defineTask<Record<string, never>, never>('test.non-retryable');
export const throwString = defineTask<Record<string, never>, never>('test.throw-string');
export const block = defineTask<Record<string, never>, string>('test.block');
export const stubborn = defineTask<Record<string, never>, string>('test.stubborn');
export const listen = defineTask<{ until: string }, unknown[]>('test.listen');
export const chatty = defineTask<{ progress: number[] }, string>('test.chatty');
export const v2 = defineTask<Record<string, never>, string>('test.v2', { version: 2 });
export const unencodable = defineTask<Record<string, never>, unknown>('test.unencodable');
export const limited = defineTask<Record<string, never>, string>('test.limited');

export const testHandlers = handlers(
  handle(echo, (input) => input),
  handle(fail, async ({ code }) => {
    const err = new Error('it broke\non two lines') as Error & { code?: string };
    if (code) err.code = code;
    throw err;
  }),
  handle(failSync, () => {
    throw new TypeError('thrown synchronously');
  }),
  handle(nonRetryable, () => {
    throw new NonRetryableError('width must be positive', { code: 'BAD_INPUT', details: { width: 0 } });
  }),
  handle(throwString, () => {
    throw 'just a string';
  }),
  handle(block, async (_input, ctx) => {
    ctx.signal.addEventListener('abort', () => gates.open(ctx.taskId, 'aborted'));
    const value = await gates.wait(ctx.taskId);
    if (ctx.signal.aborted) {
      gates.aborted.push(ctx.taskId);
      throw ctx.signal.reason;
    }
    return String(value);
  }),
  handle(stubborn, async (_input, ctx) => String(await gates.wait(ctx.taskId))),
  handle(listen, async ({ until }, ctx) => {
    const got: unknown[] = [];
    gates.started.push(ctx.taskId);
    for await (const m of ctx.messages) {
      got.push(m);
      if (m === until) break;
    }
    return got;
  }),
  handle(chatty, async ({ progress }, ctx) => {
    ctx.send({ hello: ctx.taskId, attempt: ctx.attempt, agentId: ctx.agentId, sandbox: ctx.sandbox });
    for (const p of progress) ctx.progress(p);
    return String(await gates.wait(ctx.taskId));
  }),
  handle(v2, () => 'v2'),
  handle(unencodable, () => ({ fn: () => 1 })),
  handle(limited, async (_input, ctx) => String(await gates.wait(ctx.taskId)), { concurrency: 1 }),
);
