import { fileURLToPath } from 'node:url';
import { decodeMessageEnvelope, decodeResultEnvelope, encodeMessageEnvelope } from '@mesoskit/protocol';
import { describe, expect, it } from 'vitest';
import { handle, handlers, loadHandlers, resolveExecutorOptions } from '../../src/index.js';
import { echo } from '../helpers/tasks.js';
import { start } from './setup.js';

const MODULE = fileURLToPath(new URL('../fixtures/handlers/worker-handlers.mjs', import.meta.url));
const launch = (task: string, input: unknown = {}) => ({ task, taskVersion: 1, attempt: 1, input });
const result = (data: Uint8Array | undefined) => decodeResultEnvelope(data!);

describe("isolation: 'worker'", () => {
  it('runs CPU-bound handlers in worker threads while the event loop keeps answering', async () => {
    const { agent } = await start({ handlers: await loadHandlers(MODULE), workerThreads: 2 });
    agent.launch('cpu', launch('w.cpu', { ms: 400 }));
    agent.launch('inline', launch('w.inline', 1));
    // The inline task finishes while the worker is still busy.
    const inline = await agent.waitForUpdate('inline', 'TASK_FINISHED');
    expect(agent.states('cpu')).toEqual(['TASK_RUNNING']);
    expect(result(inline.data)).toMatchObject({ ok: true, output: { inline: true, threadId: 0 } });
    const cpu = await agent.waitForUpdate('cpu', 'TASK_FINISHED');
    const out = result(cpu.data);
    expect(out.ok && (out.output as { threadId: number }).threadId).toBeGreaterThan(0);
  });

  it('reports a worker handler failure with its WireFailure (code, retryable, cause)', async () => {
    const { agent } = await start({ handlers: await loadHandlers(MODULE) });
    agent.launch('f', launch('w.fail'));
    const failed = await agent.waitForUpdate('f', 'TASK_FAILED');
    expect(failed.message).toBe('Error[W_FAIL]: failed in a worker');
    const envelope = result(failed.data);
    expect(envelope.ok === false && envelope.failure).toEqual({
      name: 'Error',
      code: 'W_FAIL',
      message: 'failed in a worker',
      retryable: false,
      cause: { name: 'TypeError', message: 'the cause', retryable: true },
    });
  });

  it('relays send, progress, log and scheduler messages across the thread', async () => {
    const { agent, logs } = await start({ handlers: await loadHandlers(MODULE) });
    agent.launch('c', launch('w.chat'));
    await agent.waitForCall('two MESSAGE calls', () => agent.messages().length >= 2);
    const [sent, progress] = agent.messages().map((d) => decodeMessageEnvelope(d));
    expect(sent).toMatchObject({ kind: 'message', taskId: 'c', data: { from: 'c' } });
    expect(progress).toMatchObject({ kind: 'progress', taskId: 'c', data: 0.5 });
    for (const data of ['one', Uint8Array.of(7)]) {
      agent.send({
        type: 'MESSAGE',
        message: { data: encodeMessageEnvelope({ kind: 'message', taskId: 'c', data }) },
      });
    }
    const finished = await agent.waitForUpdate('c', 'TASK_FINISHED');
    expect(result(finished.data)).toMatchObject({
      ok: true,
      output: { got: ['one', Uint8Array.of(7)], attempt: 1, sandbox: '/tmp/sandbox' },
    });
    expect(logs.find((l) => l.message === 'hello from a worker')?.meta).toMatchObject({ taskId: 'c' });
  });

  it('KILL aborts the signal inside the worker; a worker that never yields is terminated and replaced', async () => {
    const { agent } = await start({
      handlers: await loadHandlers(MODULE),
      workerThreads: 1,
      killGracePeriodMs: 300,
    });
    agent.launch('w', launch('w.wait'));
    await agent.waitForUpdate('w', 'TASK_RUNNING');
    agent.send({ type: 'KILL', kill: { task_id: { value: 'w' } } });
    expect((await agent.waitForUpdate('w', 'TASK_KILLED')).message).toBe('Task killed');

    agent.launch('spin', launch('w.spin'));
    await agent.waitForUpdate('spin', 'TASK_RUNNING');
    agent.send({ type: 'KILL', kill: { task_id: { value: 'spin' } } });
    expect((await agent.waitForUpdate('spin', 'TASK_KILLED')).message).toContain(
      'did not stop within 300 ms',
    );
    // The one worker was replaced: the next worker task runs.
    agent.launch('next', launch('w.cpu', { ms: 1 }));
    expect(result((await agent.waitForUpdate('next', 'TASK_FINISHED')).data).ok).toBe(true);
  });

  it('needs the handler module URL for worker handlers', () => {
    const env = { MESOS_AGENT_ENDPOINT: '127.0.0.1:1', MESOS_FRAMEWORK_ID: 'f', MESOS_EXECUTOR_ID: 'e' };
    const registry = handlers(handle(echo, (x) => x, { isolation: 'worker' }));
    expect(() => resolveExecutorOptions({ handlers: registry, env })).toThrow(
      `task "test.echo" uses isolation 'worker', which needs the handler module's URL`,
    );
    expect(resolveExecutorOptions({ handlers: registry, env, handlersModule: MODULE }).handlers.source).toBe(
      `file://${MODULE}`,
    );
    expect(() => handle(echo, (x) => x, { isolation: 'fork' as never })).toThrow(
      "must be 'inline' or 'worker'",
    );
  });
});
