/**
 * `nodeExecutor()`: describes the mesoskit executor as Mesos runs it on an agent — the command
 * line, what the fetcher downloads first, the executor's own resources — and which task
 * definitions it serves. The scheduler turns it into an `ExecutorInfo` and starts at most one
 * per agent, reused by every task routed to it.
 *
 * @module
 */
import {
  type ExecutorInfo,
  InvalidOptionsError,
  type LogLevel,
  type MesosEncoding,
  type mesos,
  type TaskDefinition,
} from '@mesoskit/protocol';
import { fromMillis, type Scalars, validScalar } from './resources.js';

/** Options of {@link nodeExecutor}. */
export interface NodeExecutorOptions {
  /**
   * The executor's name: its `ExecutorInfo.name` and the base of its `executor_id`. A dotted id.
   * @default 'mesoskit'
   */
  name?: string;
  /**
   * The handler module on the agent, as `mesoskit-executor --handlers` takes it: an absolute
   * path, a `file:` URL, or a path relative to the sandbox (for a module fetched with `uris`).
   */
  handlers: string;
  /**
   * The task definitions this executor runs. Leave it out on (at most) one executor: that one
   * runs every task no other executor lists.
   */
  tasks?: readonly TaskDefinition<unknown, unknown>[];
  /**
   * The shell command that starts the executor, before its flags. The default expects
   * `npm i -g @mesoskit/executor` on every agent.
   * @default 'mesoskit-executor'
   */
  command?: string;
  /** Extra flags appended to the command line, e.g. `['--kill-grace', '5s']`. */
  args?: readonly string[];
  /** What the Mesos fetcher downloads into the sandbox first (a tarball is extracted). */
  uris?: readonly (string | mesos.v1.CommandInfo.URI)[];
  /**
   * The executor's own resources, charged once per agent on top of its tasks'.
   * @default { cpus: 0.1, memMb: 64 }
   */
  resources?: { cpus?: number; memMb?: number; diskMb?: number };
  /** Tasks one executor runs at once (`--concurrency`); more wait in its queue. @default the executor's (16) */
  concurrency?: number;
  /** The executor's encoding toward the agent (`--encoding`). @default the executor's (protobuf) */
  encoding?: MesosEncoding;
  /** `--log-level` of the executor's stderr log (kept in the sandbox). */
  logLevel?: LogLevel;
  /** Environment variables for the executor process. */
  environment?: Readonly<Record<string, string>>;
}

/** What the scheduler needs of an executor definition. */
export interface NodeExecutor {
  readonly kind: 'node-executor';
  readonly name: string;
  /** Task names it serves; `undefined` means "every task no other executor claims". */
  readonly taskNames: ReadonlySet<string> | undefined;
  /** Its own resources, in thousandths (internal). */
  readonly resources: Scalars;
  /** The `ExecutorInfo` for `executorId`, without resources (the scheduler adds them from an offer). */
  executorInfo(executorId: string): ExecutorInfo;
}

/** Default resources of an executor: 0.1 CPU and 64 MiB. */
export const DEFAULT_EXECUTOR_RESOURCES = Object.freeze({ cpus: 0.1, memMb: 64 });

const NAME = /^[A-Za-z][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$/;

/** Quotes one word for `sh -c`. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Describes a mesoskit executor for a {@link TaskScheduler}. Validates eagerly. */
export function nodeExecutor(options: NodeExecutorOptions): NodeExecutor {
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionsError('nodeExecutor: options must be an object');
  }
  const name = options.name ?? 'mesoskit';
  if (typeof name !== 'string' || name.length > 100 || !NAME.test(name)) {
    throw new InvalidOptionsError(`nodeExecutor: name must be a dotted id, got ${JSON.stringify(name)}`);
  }
  if (typeof options.handlers !== 'string' || options.handlers === '') {
    throw new InvalidOptionsError(`nodeExecutor(${name}): handlers must be the handler module's path or URL`);
  }
  const command = options.command ?? 'mesoskit-executor';
  if (typeof command !== 'string' || command.trim() === '') {
    throw new InvalidOptionsError(`nodeExecutor(${name}): command must be a non-empty string`);
  }
  const given = options.resources ?? {};
  const resources: Scalars = {
    cpus: validScalar(`nodeExecutor(${name}): resources.cpus`, given.cpus ?? DEFAULT_EXECUTOR_RESOURCES.cpus),
    mem: validScalar(
      `nodeExecutor(${name}): resources.memMb`,
      given.memMb ?? DEFAULT_EXECUTOR_RESOURCES.memMb,
    ),
    disk: validScalar(`nodeExecutor(${name}): resources.diskMb`, given.diskMb ?? 0, true),
    gpus: 0,
  };
  const flags = ['--handlers', options.handlers];
  if (options.concurrency !== undefined) {
    if (!Number.isSafeInteger(options.concurrency) || options.concurrency < 1) {
      throw new InvalidOptionsError(
        `nodeExecutor(${name}): concurrency must be a positive integer, got ${String(options.concurrency)}`,
      );
    }
    flags.push('--concurrency', String(options.concurrency));
  }
  if (options.encoding !== undefined) flags.push('--encoding', options.encoding);
  if (options.logLevel !== undefined) flags.push('--log-level', options.logLevel);
  flags.push(...(options.args ?? []));
  const commandLine = `${command} ${flags.map(shellQuote).join(' ')}`;
  const uris = (options.uris ?? []).map((u) => (typeof u === 'string' ? { value: u, extract: true } : u));
  const variables = Object.entries(options.environment ?? {}).map(([n, value]) => ({
    name: n,
    type: 'VALUE' as const,
    value,
  }));
  const taskNames = options.tasks === undefined ? undefined : new Set(options.tasks.map((t) => t.name));
  return Object.freeze({
    kind: 'node-executor' as const,
    name,
    taskNames,
    resources,
    executorInfo(executorId: string): ExecutorInfo {
      return {
        type: 'CUSTOM',
        executor_id: { value: executorId },
        name,
        command: {
          shell: true,
          value: commandLine,
          ...(uris.length > 0 && { uris }),
          ...(variables.length > 0 && { environment: { variables } }),
        },
      };
    },
  });
}

/** The executor's resources for display, in Mesos units. */
export function executorResourcesOf(e: NodeExecutor): { cpus: number; memMb: number; diskMb: number } {
  return {
    cpus: fromMillis(e.resources.cpus),
    memMb: fromMillis(e.resources.mem),
    diskMb: fromMillis(e.resources.disk),
  };
}
