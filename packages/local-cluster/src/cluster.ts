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
import { join } from 'node:path';
import {
  InvalidOptionsError,
  type Logger,
  type mesos,
  parseResources,
  silentLogger,
} from '@mesoskit/protocol';
import {
  type AgentExecutorSnapshot,
  DEFAULT_AGENT_RESOURCES,
  LocalAgent,
  type LocalAgentOptions,
  type RetryPolicy,
} from './agent/index.js';
import { LocalMaster, type LocalMasterOptions } from './master/index.js';
import { tempRoot } from './temp-dir.js';

export interface LocalClusterOptions {
  /**
   * How many agents to start in this process; 0 starts only the master (agents in their own
   * processes register with `mesoskit-local agent --master URL`).
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
  /**
   * After an agent restart, the time executors of checkpointing frameworks have to SUBSCRIBE
   * again before they are killed (Mesos' `--executor_reregistration_timeout`); executors get it
   * as `MESOS_SUBSCRIPTION_BACKOFF_MAX`.
   * @default 2000
   */
  executorReregistrationTimeoutMs?: number;
  /**
   * The master pings each agent this often (Mesos' `--agent_ping_timeout`); an agent that
   * missed `maxAgentPingTimeouts` pongs in a row is unreachable. Shorten it in partition tests.
   * @default 15000
   */
  agentPingTimeoutMs?: number;
  /**
   * Mesos' `--max_agent_ping_timeouts`.
   * @default 5
   */
  maxAgentPingTimeouts?: number;
  /**
   * An agent whose connection broke (it stopped or crashed) and that has not registered again
   * within this time is marked unreachable (Mesos' `--agent_reregister_timeout`).
   * @default 600000
   */
  agentReregisterTimeoutMs?: number;
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
  /** This agent's work dir (sandboxes under `slaves/<id>/…`, the checkpoint under `meta/`). */
  readonly workDir: string;
  /** What runs on the agent now (the current agent, after restarts). */
  executors(): AgentExecutorSnapshot[];
}

/** An agent, by its id or its index in `agents`. */
export type AgentRef = string | number;

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
  /**
   * Restarts an agent as a crash and restart of a Mesos agent with checkpointing: its HTTP
   * server closes; executors of frameworks with `checkpoint: true` keep running, the others are
   * killed (the master reports their tasks TASK_LOST). After `downMs` a new agent starts on the
   * same port and work dir, recovers from its checkpoint (same agent id), re-registers with its
   * tasks, resends unacknowledged status updates, and gives executors
   * `executorReregistrationTimeoutMs` to SUBSCRIBE again; the others are killed and their tasks
   * become TASK_GONE (TASK_LOST without PARTITION_AWARE), `REASON_EXECUTOR_REREGISTRATION_TIMEOUT`.
   * Resolves once the new agent is registered; rejects with `InvalidOptionsError` for an
   * unknown agent. Restarts and re-registrations run one after the other.
   */
  restartAgent(agent: AgentRef, options?: { downMs?: number }): Promise<void>;
  /**
   * Restarts the master as a Mesos master failover without a registry: subscription streams
   * end, calls are refused while it is down (`downMs`), and it comes back on the same port
   * knowing nothing. Agents re-register with their frameworks, executors and tasks and resend
   * unacknowledged updates; schedulers re-subscribe with their framework id and keep their
   * tasks. Resolves once every agent re-registered.
   */
  restartMaster(options?: { downMs?: number }): Promise<void>;
  /**
   * Cuts an agent off from the master (a network partition): no messages either way; its
   * executors keep running. After `agentPingTimeoutMs` × `maxAgentPingTimeouts` the master marks
   * it unreachable: its tasks become TASK_UNREACHABLE (PARTITION_AWARE frameworks) or TASK_LOST.
   * @throws {InvalidOptionsError} for an unknown agent.
   */
  pauseAgent(agent: AgentRef): void;
  /**
   * Heals the partition: the agent re-registers with its tasks and resends pending updates; the
   * master reports the tasks of an agent it had marked unreachable with their current state
   * (`REASON_AGENT_REREGISTERED`). Resolves once it is registered; rejects with
   * `InvalidOptionsError` for an unknown agent.
   */
  resumeAgent(agent: AgentRef): Promise<void>;
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
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new InvalidOptionsError(`agents must be a non-negative integer, got ${String(options.agents)}`);
  }
  const resources =
    typeof options.resources === 'string'
      ? parseResources(options.resources)
      : (options.resources ?? parseResources(DEFAULT_AGENT_RESOURCES));
  const reregistration = options.executorReregistrationTimeoutMs;
  if (reregistration !== undefined && !(Number.isFinite(reregistration) && reregistration > 0)) {
    throw new InvalidOptionsError(
      `executorReregistrationTimeoutMs must be a positive number, got ${String(reregistration)}`,
    );
  }
  const logger = options.logger ?? silentLogger;
  const ownWorkDir = options.workDir === undefined;
  const workDir = options.workDir ?? (await mkdtemp(join(tempRoot(), 'mesoskit-local-')));

  const masterOptions: LocalMasterOptions = {
    ...(options.host !== undefined && { host: options.host }),
    ...(options.port !== undefined && { port: options.port }),
    ...(options.allocationIntervalMs !== undefined && { allocationIntervalMs: options.allocationIntervalMs }),
    ...(options.offerTimeoutMs !== undefined && { offerTimeoutMs: options.offerTimeoutMs }),
    ...(options.heartbeatIntervalMs !== undefined && { heartbeatIntervalMs: options.heartbeatIntervalMs }),
    ...(options.credentials !== undefined && { credentials: options.credentials }),
    ...(options.agentPingTimeoutMs !== undefined && { agentPingTimeoutMs: options.agentPingTimeoutMs }),
    ...(options.maxAgentPingTimeouts !== undefined && { maxAgentPingTimeouts: options.maxAgentPingTimeouts }),
    ...(options.agentReregisterTimeoutMs !== undefined && {
      agentReregisterTimeoutMs: options.agentReregisterTimeoutMs,
    }),
    logger,
  };
  let master: LocalMaster;
  try {
    master = await LocalMaster.start(masterOptions);
  } catch (err) {
    // E.g. invalid master options or a port in use: the temp dir made above goes too.
    if (ownWorkDir) await rm(workDir, { recursive: true, force: true });
    throw err;
  }
  const masterUrl = master.url;
  const agentOptions = (i: number): Omit<LocalAgentOptions, 'master'> => ({
    ...(options.host !== undefined && { host: options.host }),
    workDir: join(workDir, `agent-${i}`),
    resources,
    ...(options.executorRegistrationTimeoutMs !== undefined && {
      executorRegistrationTimeoutMs: options.executorRegistrationTimeoutMs,
    }),
    ...(options.executorReregistrationTimeoutMs !== undefined && {
      executorReregistrationTimeoutMs: options.executorReregistrationTimeoutMs,
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
  });
  const agents: LocalAgent[] = [];
  try {
    for (let i = 0; i < count; i++) agents.push(await LocalAgent.start({ master, ...agentOptions(i) }));
  } catch (err) {
    await Promise.allSettled(agents.map((a) => a.stop()));
    await master.stop();
    if (ownWorkDir) await rm(workDir, { recursive: true, force: true });
    throw err;
  }
  const ids = agents.map((a) => a.agentId);

  let stopping: Promise<void> | undefined;
  /** Faults in progress, so that `stop()` waits for them. */
  const busy = new Set<Promise<unknown>>();
  const track = <T>(work: Promise<T>): Promise<T> => {
    busy.add(work);
    void work.then(
      () => busy.delete(work),
      () => busy.delete(work),
    );
    return work;
  };
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await Promise.allSettled([...busy]);
      await Promise.allSettled(agents.map((a) => a.stop()));
      await master.stop();
      if (ownWorkDir) await rm(workDir, { recursive: true, force: true });
    })();
    return stopping;
  };
  const indexOf = (ref: AgentRef): number => {
    const i = typeof ref === 'number' ? ref : ids.indexOf(ref);
    if (!Number.isInteger(i) || i < 0 || i >= agents.length) {
      throw new InvalidOptionsError(`no agent ${String(ref)} in this cluster`);
    }
    return i;
  };
  /** Restarts and re-registrations run one at a time, in the order they were asked for. */
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(work: () => Promise<T>): Promise<T> => {
    const run = queue.then(work, work);
    queue = run.catch(() => {});
    return track(run);
  };
  const notStopping = (): void => {
    if (stopping) throw new InvalidOptionsError('the cluster is stopping');
  };
  const pause = (ms: number | undefined): Promise<void> =>
    ms && ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();

  return {
    masterUrl,
    agents: agents.map((a, i) => ({
      id: a.agentId,
      url: a.url,
      workDir: join(workDir, `agent-${i}`),
      executors: () => agents[i]!.executors(),
    })),
    async state() {
      const res = await fetch(`${masterUrl}/master/state`);
      return (await res.json()) as Record<string, unknown>;
    },
    faults: {
      killExecutor: (frameworkId, executorId) =>
        agents.some((a) => a.killExecutorProcess(frameworkId, executorId)),
      dropSubscription: (frameworkId) => master.dropSubscription(frameworkId),
      restartAgent: async (ref, restart = {}) => {
        const i = indexOf(ref);
        notStopping();
        await serial(async () => {
          const old = agents[i]!;
          await old.crash();
          await pause(restart.downMs);
          try {
            agents[i] = await LocalAgent.start({ master, ...agentOptions(i), port: old.port, recover: true });
          } catch (err) {
            old.reap(); // nobody takes its executors over: no process is left behind
            throw err;
          }
        });
      },
      restartMaster: async (restart = {}) => {
        notStopping();
        await serial(async () => {
          const port = master.masterInfo.port;
          await master.stop();
          await pause(restart.downMs);
          master = await LocalMaster.start({ ...masterOptions, port });
          for (const agent of agents) await agent.reregister(master);
        });
      },
      pauseAgent: (ref) => {
        agents[indexOf(ref)]!.partition();
      },
      resumeAgent: async (ref) => {
        const i = indexOf(ref);
        notStopping();
        await serial(() => agents[i]!.reregister());
      },
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
