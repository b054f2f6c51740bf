import { defineTask } from '@mesoskit/protocol';
import { describe, expect, it } from 'vitest';
import { handle, NonRetryableError } from './index.js';
import { runHandler } from './testing.js';

const resize = defineTask<{ url: string; width: number }, { bytes: number; at: Date }>('thumbs.resize');

const resizeHandler = handle(resize, async ({ url, width }, ctx) => {
  if (width <= 0) throw new NonRetryableError('width must be positive', { code: 'BAD_INPUT' });
  ctx.send({ step: 'download', url });
  ctx.progress(0.5);
  ctx.log.info('resized', { width });
  return { bytes: width * 10, at: new Date(0) };
});

describe('runHandler', () => {
  it('runs a handler with a real context and returns its output after a wire round trip', async () => {
    const sent: unknown[] = [];
    const progress: unknown[] = [];
    const out = await runHandler(
      resizeHandler,
      { url: 'http://x/a.png', width: 64 },
      { onSend: (m) => sent.push(m), onProgress: (p) => progress.push(p) },
    );
    expect(out).toEqual({ bytes: 640, at: new Date(0) });
    expect(sent).toEqual([{ step: 'download', url: 'http://x/a.png' }]);
    expect(progress).toEqual([0.5]);
  });

  it('rejects with what the handler threw', async () => {
    const err = await runHandler(resizeHandler, { url: 'u', width: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NonRetryableError);
    expect(err).toMatchObject({ code: 'BAD_INPUT', retryable: false });
  });

  it('aborts ctx.signal when the given signal aborts', async () => {
    const slow = handle(defineTask<Record<string, never>, string>('test.slow'), (_input, ctx) => {
      return new Promise<string>((_resolve, reject) => {
        if (ctx.signal.aborted) reject(ctx.signal.reason);
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
      });
    });
    const controller = new AbortController();
    const run = runHandler(slow, {}, { signal: controller.signal });
    controller.abort(new Error('stop'));
    await expect(run).rejects.toThrow('stop');
    // An already aborted signal is seen at once.
    await expect(runHandler(slow, {}, { signal: AbortSignal.abort(new Error('early')) })).rejects.toThrow(
      'early',
    );
  });

  it('feeds ctx.messages and sets the context fields', async () => {
    const echoCtx = handle(defineTask<Record<string, never>, unknown>('test.ctx'), async (_input, ctx) => {
      const got: unknown[] = [];
      for await (const m of ctx.messages) {
        got.push(m);
        if (got.length === 2) break;
      }
      return { got, taskId: ctx.taskId, attempt: ctx.attempt, agentId: ctx.agentId, sandbox: ctx.sandbox };
    });
    async function* messages() {
      yield 'a';
      yield Uint8Array.of(1, 2);
    }
    const out = await runHandler(
      echoCtx,
      {},
      { messages: messages(), taskId: 't-9', attempt: 3, sandbox: '/sb' },
    );
    expect(out).toEqual({
      got: ['a', Uint8Array.of(1, 2)],
      taskId: 't-9',
      attempt: 3,
      agentId: 'test-agent',
      sandbox: '/sb',
    });
  });

  it('fails like the executor would for output MessagePack cannot carry', async () => {
    const bad = handle(defineTask<Record<string, never>, unknown>('test.bad'), () => ({ f: () => 1 }));
    await expect(runHandler(bad, {})).rejects.toMatchObject({
      name: 'EnvelopeError',
      code: 'ENVELOPE_ENCODE',
    });
  });

  it('rejects something that is not a handler binding', async () => {
    await expect(runHandler(resize as never, {} as never)).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
  });
});
