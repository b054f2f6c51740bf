/**
 * Binding handlers to task definitions. `handle(def, fn)` pairs a definition with the function
 * that runs it; `handlers(...)` collects them into the registry a handler module exports by
 * default and `runExecutor({ handlers })` runs.
 *
 * The registry is plain data branded with `Symbol.for(...)`, so a handler module built against
 * one copy of `@mesoskit/executor` works with a CLI installed from another.
 *
 * @module
 */
import { InvalidOptionsError, type TaskDefinition } from '@mesoskit/protocol';
import type { TaskContext } from './context.js';

/** The function that runs one task: typed by its definition's input and output. */
export type TaskHandler<I, O> = (input: I, ctx: TaskContext) => O | Promise<O>;

/** Per-handler options of {@link handle}. */
export interface HandleOptions {
  /**
   * How many runs of this handler may be in flight at once in one executor, on top of the
   * executor-wide `concurrency`. A positive integer.
   * @default unlimited (only the executor-wide limit applies)
   */
  concurrency?: number;
  /**
   * Where runs execute: `inline` on the executor's event loop (async, I/O-bound handlers), or
   * `worker` in the executor's worker-thread pool (CPU-bound handlers), so the event loop keeps
   * answering the agent. A worker imports the handler module itself, so worker handlers need
   * the module's URL (the CLI and `loadHandlers()` know it); their input, output and messages
   * cross threads by structured clone.
   * @default 'inline'
   */
  isolation?: 'inline' | 'worker';
}

/** A handler bound to its task definition, as returned by {@link handle}. */
export interface HandlerBinding<I = unknown, O = unknown> {
  /** The definition's name, e.g. `thumbs.resize`. */
  readonly name: string;
  /** The definition's payload version. */
  readonly version: number;
  /** The definition itself. */
  readonly definition: TaskDefinition<I, O>;
  /** The handler function. */
  readonly fn: TaskHandler<I, O>;
  /** Resolved per-handler options. */
  readonly options: Readonly<HandleOptions>;
}

/** A binding of any task types: what registries hold. */
// biome-ignore lint/suspicious/noExplicitAny: a binding's types are erased once registered
export type AnyHandlerBinding = HandlerBinding<any, any>;

const REGISTRY = Symbol.for('mesoskit.executor.handlers');

/** The handlers an executor runs, as returned by {@link handlers}. */
export interface HandlerRegistry {
  /** Brand (`Symbol.for('mesoskit.executor.handlers')`), so copies of this package agree. */
  readonly [REGISTRY]: 1;
  /** The bindings, in registration order. */
  readonly list: readonly HandlerBinding[];
  /** The binding of a task name or definition, or `undefined`. */
  get(task: string | { readonly name: string }): HandlerBinding | undefined;
  /** The URL of the module this registry was loaded from (set by `loadHandlers()`). */
  readonly source?: string;
}

/**
 * Binds a handler to a task definition.
 *
 * ```ts
 * export default handlers(
 *   handle(resize, async ({ url, width }, ctx) => ({ bytes: await shrink(url, width, ctx.signal) })),
 * );
 * ```
 *
 * @throws {InvalidOptionsError} for something that is not a task definition or a function, or a
 *   bad option.
 */
export function handle<I, O>(
  definition: TaskDefinition<I, O>,
  fn: TaskHandler<I, O>,
  options: HandleOptions = {},
): HandlerBinding<I, O> {
  if (
    definition === null ||
    typeof definition !== 'object' ||
    typeof definition.name !== 'string' ||
    !Number.isSafeInteger(definition.version)
  ) {
    throw new InvalidOptionsError(
      'handle(definition, fn): definition must be a task definition (defineTask)',
    );
  }
  if (typeof fn !== 'function') {
    throw new InvalidOptionsError(`handle(${definition.name}, fn): fn must be a function, got ${typeof fn}`);
  }
  const concurrency = options.concurrency;
  if (concurrency !== undefined && !(Number.isSafeInteger(concurrency) && concurrency > 0)) {
    throw new InvalidOptionsError(
      `handle(${definition.name}): options.concurrency must be a positive integer, got ${String(concurrency)}`,
    );
  }
  const isolation = options.isolation;
  if (isolation !== undefined && isolation !== 'inline' && isolation !== 'worker') {
    throw new InvalidOptionsError(
      `handle(${definition.name}): options.isolation must be 'inline' or 'worker', got ${JSON.stringify(isolation)}`,
    );
  }
  return Object.freeze({
    name: definition.name,
    version: definition.version,
    definition,
    fn,
    options: Object.freeze({
      ...(concurrency !== undefined && { concurrency }),
      ...(isolation !== undefined && { isolation }),
    }),
  });
}

/**
 * Collects handler bindings into the registry an executor runs. A handler module's default
 * export is one of these.
 *
 * @throws {InvalidOptionsError} for anything that is not a binding from {@link handle}, or two
 *   bindings of the same task name.
 */
export function handlers(...bindings: AnyHandlerBinding[]): HandlerRegistry {
  const byName = new Map<string, HandlerBinding>();
  for (const [i, b] of bindings.entries()) {
    if (b === null || typeof b !== 'object' || typeof b.name !== 'string' || typeof b.fn !== 'function') {
      throw new InvalidOptionsError(
        `handlers(...): argument ${i + 1} is not a handler from handle(definition, fn)`,
      );
    }
    if (byName.has(b.name)) {
      throw new InvalidOptionsError(
        `handlers(...): task ${JSON.stringify(b.name)} has more than one handler`,
      );
    }
    byName.set(b.name, b);
  }
  const list = Object.freeze([...byName.values()]);
  return Object.freeze({
    [REGISTRY]: 1 as const,
    list,
    get: (task: string | { readonly name: string }) =>
      byName.get(typeof task === 'string' ? task : task?.name),
  });
}

/** The same registry, remembering the module URL it was loaded from (for worker threads). */
export function withSource(registry: HandlerRegistry, source: string): HandlerRegistry {
  return Object.freeze({ [REGISTRY]: 1 as const, list: registry.list, get: registry.get, source });
}

/** True for a registry made by {@link handlers} (of any copy of this package). */
export function isHandlerRegistry(value: unknown): value is HandlerRegistry {
  return (
    value !== null &&
    typeof value === 'object' &&
    (value as Record<symbol, unknown>)[REGISTRY] === 1 &&
    Array.isArray((value as HandlerRegistry).list) &&
    typeof (value as HandlerRegistry).get === 'function'
  );
}
