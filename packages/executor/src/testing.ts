/**
 * `@mesoskit/executor/testing`: run a handler without a cluster.
 *
 * ```ts
 * import { runHandler } from '@mesoskit/executor/testing';
 * const sent: unknown[] = [];
 * const out = await runHandler(resizeHandler, { url, width: 64 }, { onSend: (m) => sent.push(m) });
 * ```
 *
 * @module
 */
import {
  childLogger,
  decodeLaunchEnvelope,
  decodeMessageEnvelope,
  decodeResultEnvelope,
  encodeLaunchEnvelope,
  encodeMessageEnvelope,
  encodeResultEnvelope,
  InvalidOptionsError,
  type Logger,
  silentLogger,
} from '@mesoskit/protocol';
import { MessageQueue, type TaskContext } from './context.js';
import type { HandlerBinding } from './handlers.js';

/** Options of {@link runHandler}. */
export interface RunHandlerOptions {
  /** Aborting it aborts `ctx.signal`, as a KILL would. */
  signal?: AbortSignal;
  /** Called with every `ctx.send(data)` (after a MessagePack round trip, as the scheduler would see it). */
  onSend?: (data: unknown) => void;
  /** Called with every `ctx.progress(value)` (round-tripped; not throttled here). */
  onProgress?: (value: unknown) => void;
  /** What `ctx.messages` yields (each round-tripped), then it ends when the run settles. */
  messages?: Iterable<unknown> | AsyncIterable<unknown>;
  /** @default 'test-task-1' */
  taskId?: string;
  /** @default 1 */
  attempt?: number;
  /** @default process.cwd() */
  sandbox?: string;
  /** @default 'test-executor' */
  executorId?: string;
  /** @default 'test-framework' */
  frameworkId?: string;
  /** @default 'test-agent' */
  agentId?: string;
  /** Receives `ctx.log` entries. @default discards them */
  logger?: Logger;
}

/**
 * Runs a handler (from `handle(def, fn)`) the way the executor would, without a cluster: the
 * input goes through a launch envelope and the output through a result envelope (so values
 * MessagePack cannot carry fail here as on a cluster), with a real `TaskContext`.
 *
 * @returns the handler's output after its round trip.
 * @throws whatever the handler throws, unchanged, or an `EnvelopeError` for an input or output
 *   that cannot cross the wire.
 */
export async function runHandler<I, O>(
  handler: HandlerBinding<I, O>,
  input: NoInfer<I>,
  options: RunHandlerOptions = {},
): Promise<O> {
  if (handler === null || typeof handler !== 'object' || typeof handler.fn !== 'function') {
    throw new InvalidOptionsError('runHandler(handler, …): handler must come from handle(definition, fn)');
  }
  const taskId = options.taskId ?? 'test-task-1';
  const attempt = options.attempt ?? 1;
  const launch = decodeLaunchEnvelope(
    encodeLaunchEnvelope({ task: handler.name, taskVersion: handler.version, attempt, input }),
  );
  const controller = new AbortController();
  const outer = options.signal;
  const onAbort = (): void => controller.abort(outer?.reason);
  if (outer?.aborted) onAbort();
  else outer?.addEventListener('abort', onAbort, { once: true });

  const messages = new MessageQueue<unknown>(Number.MAX_SAFE_INTEGER);
  let done = false;
  if (options.messages !== undefined) {
    const source = options.messages;
    void (async () => {
      for await (const m of source as AsyncIterable<unknown>) {
        if (done) break;
        messages.push(
          decodeMessageEnvelope(encodeMessageEnvelope({ kind: 'message', taskId, data: m })).data,
        );
      }
    })().catch(() => {});
  }
  const ctx: TaskContext = {
    taskId,
    task: handler.name,
    attempt,
    sandbox: options.sandbox ?? process.cwd(),
    executorId: options.executorId ?? 'test-executor',
    frameworkId: options.frameworkId ?? 'test-framework',
    agentId: options.agentId ?? 'test-agent',
    signal: controller.signal,
    log: childLogger(options.logger ?? silentLogger, { taskId, task: handler.name, attempt }),
    send(data) {
      if (done) return;
      const back = decodeMessageEnvelope(encodeMessageEnvelope({ kind: 'message', taskId, data })).data;
      options.onSend?.(back);
    },
    progress(value) {
      if (done) return;
      const back = decodeMessageEnvelope(
        encodeMessageEnvelope({ kind: 'progress', taskId, data: value }),
      ).data;
      options.onProgress?.(back);
    },
    messages,
  };
  try {
    const output = await handler.fn(launch.input as I, ctx);
    const result = decodeResultEnvelope(encodeResultEnvelope({ ok: true, output }));
    return (result as { output: unknown }).output as O;
  } finally {
    done = true;
    messages.close();
    outer?.removeEventListener('abort', onAbort);
  }
}
