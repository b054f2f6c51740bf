/**
 * The Task contract: a task is *defined* once, as data plus types, in a module that both the
 * scheduler and the executor import. The definition carries the task's stable name, its payload
 * version and its default resources; the input and output types ride along as a compile-time
 * brand only, so the definition stays a plain, frozen, serialisable object at run time.
 *
 * ```ts
 * import { defineTask, type TaskInput, type TaskOutput } from '@mesoskit/protocol';
 *
 * export const resize = defineTask<{ url: string; width: number }, { bytes: number }>('thumbs.resize', {
 *   resources: { cpus: 0.5, memMb: 256 },
 * });
 * type In = TaskInput<typeof resize>; // { url: string; width: number }
 * type Out = TaskOutput<typeof resize>; // { bytes: number }
 * ```
 *
 * @module
 */

import { InvalidOptionsError } from './errors.js';

/** The type-only key of a definition's input/output brand. It never exists at run time. */
declare const io: unique symbol;

/** The resources one run of a task asks for. Mesos names: `cpus`, `mem`, `disk`, `gpus`. */
export interface TaskResources {
  /** CPU shares, e.g. `0.1`. Positive and finite. */
  readonly cpus: number;
  /** Memory in MiB. Positive and finite. */
  readonly memMb: number;
  /** Scratch disk in MiB. Zero or more; omitted means none asked for. */
  readonly diskMb?: number;
  /** Whole GPUs. A non-negative integer; omitted means none asked for. */
  readonly gpus?: number;
}

/**
 * A task definition: a stable name, a payload version and default resources, branded at compile
 * time with the input type `I` and the output type `O`. Create one with {@link defineTask}.
 */
export interface TaskDefinition<I, O, N extends string = string> {
  /** The stable dotted id both sides agree on, e.g. `thumbs.resize`. */
  readonly name: N;
  /** The payload version: bump it on a breaking change of `I` or `O`. A positive integer. */
  readonly version: number;
  /** The default resources of one run; a submit may override them. */
  readonly resources: TaskResources;
  /** Compile-time brand carrying `I` and `O`. Never present at run time. */
  readonly [io]?: { input: I; output: O };
}

/** The input type of a task definition: `TaskInput<typeof resize>`. */
export type TaskInput<D> = D extends TaskDefinition<infer I, unknown, string> ? I : never;

/** The output type of a task definition: `TaskOutput<typeof resize>`. */
export type TaskOutput<D> = D extends TaskDefinition<unknown, infer O, string> ? O : never;

/** Options of {@link defineTask}. */
export interface DefineTaskOptions {
  /**
   * The payload version, a positive safe integer.
   *
   * @default 1 (`DEFAULT_TASK_VERSION`)
   */
  version?: number;
  /**
   * Default resources of one run; missing fields take `DEFAULT_TASK_RESOURCES`.
   *
   * @default `{ cpus: 0.1, memMb: 32 }`
   */
  resources?: Partial<TaskResources>;
}

/** The version a task gets when {@link defineTask} is not given one. */
export const DEFAULT_TASK_VERSION = 1;

/** The resources a task gets when {@link defineTask} is not given them: 0.1 CPU and 32 MiB. */
export const DEFAULT_TASK_RESOURCES: TaskResources = Object.freeze({ cpus: 0.1, memMb: 32 });

/** The longest task name accepted, in characters. */
export const MAX_TASK_NAME_LENGTH = 200;

/** A stable dotted id: a letter first, then segments of letters, digits, `_` and `-` joined by dots. */
const TASK_NAME = /^[A-Za-z][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$/;

/**
 * Defines a task: its stable `name` (a dotted id such as `pinspider.profile`, at most 200
 * characters), its payload `version` and its default `resources`. Returns a frozen plain object;
 * `I` and `O` exist only in the type.
 *
 * @throws {InvalidOptionsError} naming the field, for a malformed name, a version that is not a
 *   positive safe integer, `cpus` or `memMb` that is not a positive finite number, a negative or
 *   non-finite `diskMb`, or a `gpus` that is not a non-negative integer.
 */
export function defineTask<I, O, N extends string = string>(
  name: N,
  options?: DefineTaskOptions,
): TaskDefinition<I, O, N> {
  if (typeof name !== 'string' || name.length > MAX_TASK_NAME_LENGTH || !TASK_NAME.test(name)) {
    throw new InvalidOptionsError(
      `defineTask: name ${describe(name)} is not a dotted id of at most ${MAX_TASK_NAME_LENGTH} characters ` +
        '(a letter first, then letters, digits, "_" or "-", segments joined by ".")',
    );
  }
  const version = options?.version ?? DEFAULT_TASK_VERSION;
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new InvalidOptionsError(
      `defineTask(${name}): version must be a positive integer, got ${describe(version)}`,
    );
  }
  const given = options?.resources ?? {};
  const cpus = given.cpus ?? DEFAULT_TASK_RESOURCES.cpus;
  const memMb = given.memMb ?? DEFAULT_TASK_RESOURCES.memMb;
  if (typeof cpus !== 'number' || !Number.isFinite(cpus) || cpus <= 0) {
    throw new InvalidOptionsError(
      `defineTask(${name}): resources.cpus must be a positive finite number, got ${describe(cpus)}`,
    );
  }
  if (typeof memMb !== 'number' || !Number.isFinite(memMb) || memMb <= 0) {
    throw new InvalidOptionsError(
      `defineTask(${name}): resources.memMb must be a positive finite number, got ${describe(memMb)}`,
    );
  }
  const resources: { cpus: number; memMb: number; diskMb?: number; gpus?: number } = { cpus, memMb };
  if (given.diskMb !== undefined) {
    const diskMb = given.diskMb;
    if (typeof diskMb !== 'number' || !Number.isFinite(diskMb) || diskMb < 0) {
      throw new InvalidOptionsError(
        `defineTask(${name}): resources.diskMb must be a finite number >= 0, got ${describe(diskMb)}`,
      );
    }
    resources.diskMb = diskMb;
  }
  if (given.gpus !== undefined) {
    const gpus = given.gpus;
    if (!Number.isSafeInteger(gpus) || gpus < 0) {
      throw new InvalidOptionsError(
        `defineTask(${name}): resources.gpus must be an integer >= 0, got ${describe(gpus)}`,
      );
    }
    resources.gpus = gpus;
  }
  return Object.freeze({ name, version, resources: Object.freeze(resources) });
}

function describe(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}...` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  return typeof value;
}
