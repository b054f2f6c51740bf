/**
 * The code samples of docs/writing-tasks.md, compiled against the real packages (the typecheck
 * covers this file) and run: the handlers through `runHandler`, the scheduler-side samples
 * type-checked only (they need a cluster and a built handler module; the demos and
 * packages/packaging-test run that path). Keep the two in step: a sample changed here is
 * changed in the doc.
 */
import { handle, handlers, NonRetryableError } from '@mesoskit/executor';
import { runHandler } from '@mesoskit/executor/testing';
import { defineTask, type TaskInput, type TaskOutput } from '@mesoskit/protocol';
import { defaultRetryOn, nodeExecutor, type RemoteTaskError, TaskScheduler } from '@mesoskit/scheduler';
import { describe, expect, expectTypeOf, it } from 'vitest';

// ---------------------------------------------------------------- tasks.ts (doc: "Defining a task")

export const countWords = defineTask<{ text: string; word: string }, { count: number; lines: number }>(
  'text.count-words',
  { version: 2, resources: { cpus: 0.25, memMb: 64 } },
);

export const chat = defineTask<{ greeting: string }, { heard: string[] }>('demo.chat');

export const countPrimes = defineTask<{ below: number }, { primes: number }>('math.count-primes', {
  resources: { cpus: 1, memMb: 64 },
});

// ---------------------------------------------------------------- handlers.ts (doc: "Writing handlers")

const countWordsHandler = handle(countWords, async ({ text, word }, ctx) => {
  if (word.trim() === '') {
    throw new NonRetryableError('word must not be empty', { code: 'BAD_INPUT', details: { word } });
  }
  const lines = text.split('\n');
  let count = 0;
  for (const [i, line] of lines.entries()) {
    ctx.signal.throwIfAborted(); // stop early on KILL, SHUTDOWN or a lost agent
    count += line.split(/\s+/).filter((w) => w === word).length;
    ctx.progress({ done: i + 1, of: lines.length }); // throttled; best effort
  }
  ctx.log.info('counted', { word, count });
  return { count, lines: lines.length };
});

const chatHandler = handle(chat, async ({ greeting }, ctx) => {
  ctx.send(greeting); // a framework message to the scheduler: run.events() sees it
  const heard: string[] = [];
  for await (const message of ctx.messages) {
    // what the scheduler sent with run.send(...)
    if (message === 'bye') break;
    heard.push(String(message));
  }
  return { heard };
});

function primesBelow(n: number): number {
  let primes = 0;
  for (let i = 2; i < n; i++) {
    let prime = true;
    for (let d = 2; d * d <= i; d++) {
      if (i % d === 0) {
        prime = false;
        break;
      }
    }
    if (prime) primes++;
  }
  return primes;
}

const countPrimesHandler = handle(countPrimes, ({ below }) => ({ primes: primesBelow(below) }), {
  isolation: 'worker', // CPU-bound: run it in the executor's worker-thread pool
  concurrency: 2, // at most two at once in one executor
});

export default handlers(countWordsHandler, chatHandler, countPrimesHandler);

// ---------------------------------------------------------------- the tests (doc: "Testing handlers")

describe('docs/writing-tasks.md: definitions', () => {
  it('defineTask carries name, version and resources, and the types', () => {
    expect(countWords).toEqual({
      name: 'text.count-words',
      version: 2,
      resources: { cpus: 0.25, memMb: 64 },
    });
    expect(chat).toEqual({ name: 'demo.chat', version: 1, resources: { cpus: 0.1, memMb: 32 } });
    expectTypeOf<TaskInput<typeof countWords>>().toEqualTypeOf<{ text: string; word: string }>();
    expectTypeOf<TaskOutput<typeof countWords>>().toEqualTypeOf<{ count: number; lines: number }>();
  });

  it('rejects a malformed name with InvalidOptionsError', () => {
    expect(() => defineTask('not a name')).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTIONS', message: expect.stringContaining('dotted id') }),
    );
  });
});

describe('docs/writing-tasks.md: handlers through runHandler', () => {
  it('counts words and reports progress', async () => {
    const progress: unknown[] = [];
    const out = await runHandler(
      countWordsHandler,
      { text: 'a b a\nb a', word: 'a' },
      { onProgress: (p) => progress.push(p) },
    );
    expect(out).toEqual({ count: 3, lines: 2 });
    expect(progress).toEqual([
      { done: 1, of: 2 },
      { done: 2, of: 2 },
    ]);
  });

  it('throws NonRetryableError with its code for bad input', async () => {
    await expect(runHandler(countWordsHandler, { text: 'x', word: ' ' })).rejects.toMatchObject({
      name: 'NonRetryableError',
      code: 'BAD_INPUT',
      retryable: false,
      details: { word: ' ' },
    });
  });

  it('stops when the signal is aborted, as on KILL', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      runHandler(countWordsHandler, { text: 'a', word: 'a' }, { signal: controller.signal }),
    ).rejects.toThrow();
  });

  it('sends messages and reads the scheduler’s', async () => {
    const sent: unknown[] = [];
    const out = await runHandler(
      chatHandler,
      { greeting: 'hello' },
      { onSend: (m) => sent.push(m), messages: ['one', 'two', 'bye', 'never'] },
    );
    expect(sent).toEqual(['hello']);
    expect(out).toEqual({ heard: ['one', 'two'] });
  });

  it('runs a worker handler inline under runHandler', async () => {
    await expect(runHandler(countPrimesHandler, { below: 100 })).resolves.toEqual({ primes: 25 });
    expect(countPrimesHandler.options).toEqual({ isolation: 'worker', concurrency: 2 });
  });

  it('rejects output that cannot cross the wire, as the executor would', async () => {
    const bad = handle(defineTask<void, unknown>('demo.bad'), () => ({ f: () => 1 }));
    await expect(runHandler(bad, undefined)).rejects.toMatchObject({
      code: expect.stringMatching(/^ENVELOPE_/),
    });
  });
});

// ---------------------------------------------------------------- scheduler side (doc: "Submitting"), type-checked

export async function submitting(master: string): Promise<void> {
  const scheduler = await TaskScheduler.connect({
    master,
    framework: { name: 'words' },
    executors: nodeExecutor({ handlers: '/opt/words/handlers.mjs' }),
  });

  // run(): the typed output, or a rejection
  const { count } = await scheduler.run(countWords, { text: 'a b a', word: 'a' });
  console.log(count);

  // submit(): a handle with events, cancel() and send()
  const run = scheduler.submit(chat, { greeting: 'hi' }, { timeoutMs: 30_000 });
  for await (const ev of run.events()) {
    if (ev.type === 'message') await run.send('bye'); // answer the handler's ctx.send
    if (ev.type === 'retrying') console.log(`attempt ${ev.attempt} failed, retry in ${ev.delayMs} ms`);
  }
  console.log((await run.result()).heard);

  // map(): many inputs, at most `concurrency` in flight
  const texts = ['a', 'b a', 'a a a'];
  for await (const { index, output } of scheduler.map(
    countWords,
    texts.map((text) => ({ text, word: 'a' })),
    { concurrency: 100, retry: { maxAttempts: 5 } },
  )) {
    console.log(index, output.count);
  }

  // errors: branch on err.code and err.cause.code
  try {
    await scheduler.run(countWords, { text: 'x', word: '' });
  } catch (err) {
    const e = err as { code?: string; cause?: RemoteTaskError };
    if (e.code === 'TASK_FAILED' && e.cause?.code === 'BAD_INPUT') console.log('bad input:', e.cause.message);
    else if (e.code === 'TASK_TIMEOUT') console.log('too slow');
    else throw err;
  }

  // retries: a policy per submit (or for every submit in TaskScheduler.connect({ retry }))
  await scheduler.run(
    countWords,
    { text: 'a', word: 'a' },
    {
      retry: {
        maxAttempts: 4,
        backoff: { initialMs: 500, maxMs: 5_000 },
        // not when the executor died (out of memory, say), else the default policy
        retryOn: (failure) => failure.reason !== 'REASON_EXECUTOR_TERMINATED' && defaultRetryOn(failure),
      },
    },
  );

  scheduler.on('task', (ev) => {
    if (ev.type === 'failed') console.log(`${ev.taskId} (${ev.task}) failed: ${ev.error.message}`);
  });
  await scheduler.stop(); // drains: waits for every submitted task to settle
}

it('the scheduler-side samples type-check (never called here)', () => {
  expect(typeof submitting).toBe('function');
});
