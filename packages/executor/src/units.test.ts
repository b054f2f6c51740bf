import { childLogger, createLogger, defineTask, parseDuration } from '@mesoskit/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MessageQueue, Throttle } from './context.js';
import { handle, handlers, isHandlerRegistry } from './handlers.js';
import {
  DEFAULT_CONCURRENCY,
  DEFAULT_ENCODING,
  DEFAULT_KILL_GRACE_PERIOD_MS,
  readExecutorEnvironment,
  resolveExecutorOptions,
} from './options.js';

const a = defineTask<{ x: number }, number>('test.a');
const b = defineTask<string, string>('test.b', { version: 3 });
const ENV = { MESOS_AGENT_ENDPOINT: '10.0.0.5:5051', MESOS_FRAMEWORK_ID: 'fw-1', MESOS_EXECUTOR_ID: 'ex-1' };

describe('parseDuration', () => {
  it.each([
    ['5secs', 5000],
    ['1500ms', 1500],
    ['15mins', 900_000],
    ['1mins', 60_000],
    ['2hrs', 7_200_000],
    ['60s', 60_000],
    ['2m', 120_000],
    ['1.5secs', 1500],
    ['250', 250],
    ['100us', 0.1],
  ])('%s = %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
  it.each(['', 'soon', '5 parsecs', '-1s', 'secs'])('rejects %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('handle and handlers', () => {
  it('binds handlers by task name and finds them by name or definition', () => {
    const registry = handlers(
      handle(a, ({ x }) => x * 2),
      handle(b, (s) => s.toUpperCase(), { concurrency: 2 }),
    );
    expect(isHandlerRegistry(registry)).toBe(true);
    expect(registry.list.map((h) => [h.name, h.version])).toEqual([
      ['test.a', 1],
      ['test.b', 3],
    ]);
    expect(registry.get(b)?.options).toEqual({ concurrency: 2 });
    expect(registry.get('test.a')?.definition).toBe(a);
    expect(registry.get('nope')).toBeUndefined();
  });

  it('recognises a registry from another copy of the package (Symbol.for brand)', () => {
    const foreign = { [Symbol.for('mesoskit.executor.handlers')]: 1, list: [], get: () => undefined };
    expect(isHandlerRegistry(foreign)).toBe(true);
    expect(isHandlerRegistry({ list: [] })).toBe(false);
    expect(isHandlerRegistry(null)).toBe(false);
  });

  it('rejects duplicates, non-definitions, non-functions and bad options, naming them', () => {
    expect(() =>
      handlers(
        handle(a, () => 1),
        handle(a, () => 2),
      ),
    ).toThrow('task "test.a" has more than one handler');
    expect(() => handle({} as never, () => 1)).toThrow('definition must be a task definition');
    expect(() => handle(a, 'fn' as never)).toThrow('handle(test.a, fn): fn must be a function');
    expect(() => handle(a, () => 1, { concurrency: 0 })).toThrow(
      'options.concurrency must be a positive integer',
    );
    expect(() => handlers({} as never)).toThrow('argument 1 is not a handler');
  });
});

describe('resolveExecutorOptions', () => {
  const registry = handlers(handle(a, ({ x }) => x));

  it('applies the defaults and reads the environment', () => {
    const o = resolveExecutorOptions({ handlers: registry, env: ENV });
    expect(o).toMatchObject({
      concurrency: DEFAULT_CONCURRENCY,
      encoding: DEFAULT_ENCODING,
      killGracePeriodMs: DEFAULT_KILL_GRACE_PERIOD_MS,
      idleTimeoutMs: 0,
      includeStack: false,
      catchProcessErrors: false,
    });
    expect(o.environment).toEqual({
      agentUrl: 'http://10.0.0.5:5051/api/v1/executor',
      frameworkId: 'fw-1',
      executorId: 'ex-1',
      agentId: undefined,
      sandbox: process.cwd(),
      checkpoint: false,
      recoveryTimeoutMs: 900_000,
      subscriptionBackoffMaxMs: 2000,
      shutdownGracePeriodMs: 5000,
      authToken: undefined,
    });
  });

  it('reads the optional variables (a checkpointing agent with auth)', () => {
    const env = readExecutorEnvironment({
      ...ENV,
      MESOS_SLAVE_ID: 'ag-S0',
      MESOS_SANDBOX: '/mnt/mesos/sandbox',
      MESOS_DIRECTORY: '/var/lib/mesos/x',
      MESOS_CHECKPOINT: '1',
      MESOS_RECOVERY_TIMEOUT: '15mins',
      MESOS_SUBSCRIPTION_BACKOFF_MAX: '2secs',
      MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD: '1500ms',
      MESOS_EXECUTOR_AUTHENTICATION_TOKEN: 'tok',
    });
    expect(env).toMatchObject({
      agentId: 'ag-S0',
      sandbox: '/mnt/mesos/sandbox',
      checkpoint: true,
      recoveryTimeoutMs: 900_000,
      subscriptionBackoffMaxMs: 2000,
      shutdownGracePeriodMs: 1500,
      authToken: 'tok',
    });
  });

  it('accepts a list of bindings instead of a registry', () => {
    expect(
      resolveExecutorOptions({ handlers: [handle(a, ({ x }) => x)], env: ENV }).handlers.list,
    ).toHaveLength(1);
  });

  it.each([
    [{ concurrency: 0 }, 'options.concurrency must be a positive integer, got 0'],
    [{ concurrency: 1.5 }, 'options.concurrency must be a positive integer'],
    [{ encoding: 'xml' }, `options.encoding must be 'json' or 'protobuf', got "xml"`],
    [{ idleTimeoutMs: -1 }, 'options.idleTimeoutMs must be a finite number >= 0'],
    [{ killGracePeriodMs: Number.NaN }, 'options.killGracePeriodMs must be a finite number >= 0'],
    [{ includeStack: 'yes' }, 'options.includeStack must be a boolean'],
    [{ handlers: {} }, 'options.handlers must be the registry from handlers(...)'],
  ])('rejects %j naming the option', (bad, message) => {
    expect(() => resolveExecutorOptions({ handlers: registry, env: ENV, ...(bad as object) })).toThrow(
      message,
    );
  });
});

describe('logger', () => {
  it('writes JSON lines at the level and above, with composed context', () => {
    const lines: string[] = [];
    const log = childLogger(createLogger({ level: 'info', write: (l) => lines.push(l) }), { taskId: 't1' });
    log.debug('hidden');
    log.info('shown', { n: 1n, bytes: Uint8Array.of(1) });
    expect(lines).toHaveLength(1);
    expect(lines[0]!.endsWith('\n')).toBe(true);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 'info',
      message: 'shown',
      taskId: 't1',
      n: '1n',
      bytes: '<1 bytes>',
    });
  });

  it('writes one readable line in pretty format', () => {
    const lines: string[] = [];
    createLogger({ level: 'trace', format: 'pretty', write: (l) => lines.push(l) }).warn('task failed', {
      taskId: 't 1',
      why: 'a\nb',
    });
    expect(lines[0]).toMatch(/^\S+ WARN {2}task failed taskId="t 1" why="a\\nb"\n$/);
  });

  it('a throwing logger does not throw through childLogger', () => {
    const bad = createLogger({
      level: 'trace',
      write: () => {
        throw new Error('disk full');
      },
    });
    expect(() => childLogger(bad, {}).error('x')).not.toThrow();
  });
});

describe('MessageQueue', () => {
  it('delivers in order, drops the oldest beyond capacity, ends on close', async () => {
    const q = new MessageQueue<number>(2);
    q.push(1);
    q.push(2);
    q.push(3);
    expect(q.dropped).toBe(1);
    const it = q[Symbol.asyncIterator]();
    expect(await it.next()).toEqual({ value: 2, done: false });
    expect(await it.next()).toEqual({ value: 3, done: false });
    const pending = it.next();
    q.push(4);
    expect(await pending).toEqual({ value: 4, done: false });
    const last = it.next();
    q.close();
    expect(await last).toEqual({ value: undefined, done: true });
    expect(() => q[Symbol.asyncIterator]()).toThrow('single consumer');
  });
});

describe('Throttle', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('emits the first value at once, then the latest value once per interval', async () => {
    vi.useFakeTimers();
    const out: number[] = [];
    const t = new Throttle<number>(1000, (v) => out.push(v));
    t.push(1);
    t.push(2);
    t.push(3);
    expect(out).toEqual([1]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(out).toEqual([1, 3]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(out).toEqual([1, 3]);
    t.push(4);
    expect(out).toEqual([1, 3, 4]);
    t.push(5);
    t.stop();
    await vi.advanceTimersByTimeAsync(5000);
    expect(out).toEqual([1, 3, 4]);
  });
});
