/**
 * `startLocalCluster()`: one master and N agents in this process, on loopback, on ports the OS
 * chooses. It resolves once every agent is registered, so a scheduler can subscribe and get
 * offers at once.
 *
 * ```ts
 * await using cluster = await startLocalCluster({ agents: 2 });
 * // point any Mesos scheduler at cluster.masterUrl (e.g. http://127.0.0.1:40123)
 * ```
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  InvalidOptionsError,
  type Logger,
  type mesos,
  parseResources,
  silentLogger,
} from '@mesoskit/protocol';
import { DEFAULT_AGENT_RESOURCES, LocalAgent, type RetryPolicy } from './agent/index.js';
import { LocalMaster } from './master/index.js';

export interface LocalClusterOptions {
  /**
   * How many agents to start.
   * @default 1
   */
  agents?: number;
  /**
   * Each agent's resources, in Mesos' text form or as `Resource`s.
   * @default 'cpus:2;mem:2048;disk:4096;ports:[31000-32000]'
   */
  resources?: string | mesos.v1.Resource[];
  /**
   * Interface the master and agents listen on.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * The master's port; 0 lets the OS choose (read it back from `masterUrl`).
   * @default 0
   */
  port?: number;
  /**
   * Root of the agents' work dirs (sandboxes). By default a fresh temporary directory, removed
   * by `stop()`; a directory given here is kept.
   */
  workDir?: string;
  /**
   * Minimum time between allocation cycles. Mesos uses 1 s; the short default makes tests and
   * demos fast.
   * @default 50
   */
  allocationIntervalMs?: number;
  /** Offers not used within this time are rescinded. Default: never, as in Mesos. */
  offerTimeoutMs?: number;
  /**
   * The scheduler heartbeat interval. Mesos' is fixed at 15 s; shorten it only in tests.
   * @default 15000
   */
  heartbeatIntervalMs?: number;
  /** HTTP Basic credentials for schedulers; when set, every scheduler call must authenticate. */
  credentials?: { principal: string; secret: string }[];
  /**
   * Time an executor has to SUBSCRIBE after it is launched.
   * @default 60000
   */
  executorRegistrationTimeoutMs?: number;
  /**
   * Time an executor has to exit after SHUTDOWN before its process group is killed.
   * @default 5000
   */
  executorShutdownGracePeriodMs?: number;
  /** Status update resends to the master (default: Mesos' 10 s doubling up to 10 min). */
  statusUpdateRetryMs?: RetryPolicy;
  /** Extra environment for every executor (the agent's own environment is not inherited). */
  executorEnvironment?: Record<string, string>;
  /**
   * Executor authentication (Mesos' `--authenticate_http_executors`): each custom executor gets
   * a token (an HS256 JWT with claims `fid`, `eid`, `cid`, signed with a random secret of its
   * agent) in `MESOS_EXECUTOR_AUTHENTICATION_TOKEN`, and every executor call must send it as
   * `Authorization: Bearer <token>`; a call without it, or with another executor's token, gets
   * `401`.
   * @default false
   */
  executorAuthentication?: boolean;
  logger?: Logger;
}

/** One agent of a local cluster. */
export interface LocalClusterAgent {
  /** The agent id, `<masterId>-S<n>`. */
  readonly id: string;
  /** The agent's base URL (executor API at `/api/v1/executor`). */
  readonly url: string;
  /** This agent's work dir (sandboxes under `slaves/<id>/…`). */
  readonly workDir: string;
}

/** Faults a test can inject. */
export interface LocalClusterFaults {
  /** SIGKILLs an executor's process group; returns false if it does not run on any agent. */
  killExecutor(frameworkId: string, executorId: string): boolean;
  /**
   * Cuts a framework's subscription connection as a network failure would (no end of stream);
   * the master then treats the framework as disconnected (`failover_timeout` starts). Returns
   * false if the framework has no subscription.
   */
  dropSubscription(frameworkId: string): boolean;
}

export interface LocalCluster {
  /** The master's base URL, e.g. `http://127.0.0.1:40123`. */
  readonly masterUrl: string;
  readonly agents: readonly LocalClusterAgent[];
  /** The master's `/master/state`, as JSON. */
  state(): Promise<Record<string, unknown>>;
  readonly faults: LocalClusterFaults;
  /** Stops every agent (killing every executor process group) and the master. Idempotent. */
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts a master and `agents` agents; resolves once every agent is registered. */
export async function startLocalCluster(options: LocalClusterOptions = {}): Promise<LocalCluster> {
  const count = options.agents ?? 1;
  if (!Number.isSafeInteger(count) || count < 1) {
    throw new InvalidOptionsError(`agents must be a positive integer, got ${String(options.agents)}`);
  }
  const resources =
    typeof options.resources === 'string'
      ? parseResources(options.resources)
      : (options.resources ?? parseResources(DEFAULT_AGENT_RESOURCES));
  const logger = options.logger ?? silentLogger;
  const ownWorkDir = options.workDir === undefined;
  const workDir = options.workDir ?? (await mkdtemp(join(tmpdir(), 'mesoskit-local-')));

  const master = await LocalMaster.start({
    ...(options.host !== undefined && { host: options.host }),
    ...(options.port !== undefined && { port: options.port }),
    ...(options.allocationIntervalMs !== undefined && { allocationIntervalMs: options.allocationIntervalMs }),
    ...(options.offerTimeoutMs !== undefined && { offerTimeoutMs: options.offerTimeoutMs }),
    ...(options.heartbeatIntervalMs !== undefined && { heartbeatIntervalMs: options.heartbeatIntervalMs }),
    ...(options.credentials !== undefined && { credentials: options.credentials }),
    logger,
  });
  const agents: LocalAgent[] = [];
  try {
    for (let i = 0; i < count; i++) {
      agents.push(
        await LocalAgent.start({
          master,
          ...(options.host !== undefined && { host: options.host }),
          workDir: join(workDir, `agent-${i}`),
          resources,
          ...(options.executorRegistrationTimeoutMs !== undefined && {
            executorRegistrationTimeoutMs: options.executorRegistrationTimeoutMs,
          }),
          ...(options.executorShutdownGracePeriodMs !== undefined && {
            executorShutdownGracePeriodMs: options.executorShutdownGracePeriodMs,
          }),
          ...(options.statusUpdateRetryMs !== undefined && {
            statusUpdateRetryMs: options.statusUpdateRetryMs,
          }),
          ...(options.executorEnvironment !== undefined && {
            executorEnvironment: options.executorEnvironment,
          }),
          ...(options.executorAuthentication !== undefined && {
            executorAuthentication: options.executorAuthentication,
          }),
          logger,
        }),
      );
    }
  } catch (err) {
    await Promise.allSettled(agents.map((a) => a.stop()));
    await master.stop();
    if (ownWorkDir) await rm(workDir, { recursive: true, force: true });
    throw err;
  }

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await Promise.allSettled(agents.map((a) => a.stop()));
      await master.stop();
      if (ownWorkDir) await rm(workDir, { recursive: true, force: true });
    })();
    return stopping;
  };

  return {
    masterUrl: master.url,
    agents: agents.map((a, i) => ({ id: a.agentId, url: a.url, workDir: join(workDir, `agent-${i}`) })),
    async state() {
      const res = await fetch(`${master.url}/master/state`);
      return (await res.json()) as Record<string, unknown>;
    },
    faults: {
      killExecutor: (frameworkId, executorId) =>
        agents.some((a) => a.killExecutorProcess(frameworkId, executorId)),
      dropSubscription: (frameworkId) => master.dropSubscription(frameworkId),
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
