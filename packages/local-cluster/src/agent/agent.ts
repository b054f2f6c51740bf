/**
 * `LocalAgent`: a single-machine, Mesos-compatible agent. It serves the executor HTTP API,
 * registers with a master through `MasterApi`, and runs real executor processes: custom
 * executors (any Mesos v1 HTTP executor, JSON or protobuf) and command tasks.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  childLogger,
  executorEvent,
  formatDuration,
  isTerminalTaskState,
  type Logger,
  type mesos,
  parseResources,
  silentLogger,
} from '@mesoskit/protocol';
import { coalesceWrites, RecordIOResponse, sendText } from '../http.js';
import { randomId, randomUuidBytes, uuidHex } from '../ids.js';
import type { AgentApi, AgentRegistration, AgentTask, MasterApi, RunTaskRequest } from '../link.js';
import { Checkpoint, type RecoveredState, type RecoveredTask, type TaskCheckpoint } from './checkpoint.js';
import {
  allocationRole,
  COMMAND_KILL_GRACE_MS,
  commandExecutorInfo,
  commandTerminal,
  durationMs,
  hasCapability,
} from './command-executor.js';
import { buildEnvironment } from './environment.js';
import { EXECUTOR_API_PATHS, handleExecutorApi, validateExecutorCall } from './executor-api.js';
import { ExecutorTokens } from './executor-token.js';
import { Executor, type QueuedLaunch, type Termination } from './executors.js';
import { fetchUris } from './fetcher.js';
import { adoptProcess, killGroup, type SpawnedProcess, spawnCommand } from './process.js';
import { createSandbox, sandboxPath } from './sandbox.js';
import { DEFAULT_RETRY, type RetryPolicy, StatusUpdateManager } from './status-updates.js';

export const DEFAULT_AGENT_RESOURCES = 'cpus:2;mem:2048;disk:4096;ports:[31000-32000]';

export interface LocalAgentOptions {
  master: MasterApi;
  /** Address to listen on (default `127.0.0.1`). */
  host?: string;
  /** Port to listen on (default 0: any free port). */
  port?: number;
  /** `AgentInfo.hostname` (default `localhost`, as the captures show). */
  hostname?: string;
  /** Root of the sandboxes (`<workDir>/slaves/<agentId>/…`). */
  workDir: string;
  /** Total resources (default `cpus:2;mem:2048;disk:4096;ports:[31000-32000]`). */
  resources?: mesos.v1.Resource[];
  attributes?: mesos.v1.Attribute[];
  /** `--executor_registration_timeout` (default 1 min). */
  executorRegistrationTimeoutMs?: number;
  /**
   * `--executor_reregistration_timeout`: after a restart, the time executors have to SUBSCRIBE
   * again before they are killed; also `MESOS_SUBSCRIPTION_BACKOFF_MAX` (default 2 s).
   */
  executorReregistrationTimeoutMs?: number;
  /**
   * Recover from the checkpoint in `workDir` (Mesos' `--recover=reconnect`): keep the agent id,
   * reconnect with the executors of checkpointing frameworks, resend unacknowledged updates.
   * Without it (the default) the agent starts fresh.
   * @default false
   */
  recover?: boolean;
  /** `--executor_shutdown_grace_period` (default 5 s). */
  executorShutdownGracePeriodMs?: number;
  /** Status update resend backoff towards the master (default 10 s doubling up to 10 min). */
  statusUpdateRetryMs?: RetryPolicy;
  /** `--executor_environment_variables`: merged over the agent's variables, under CommandInfo's. */
  executorEnvironment?: Record<string, string>;
  /**
   * `--authenticate_http_executors`: each custom executor run gets a token (an HS256 JWT with
   * claims `fid`, `eid`, `cid`, signed with a random secret of this agent) in
   * `MESOS_EXECUTOR_AUTHENTICATION_TOKEN`, and every executor call must carry it as
   * `Authorization: Bearer <token>`; a call without it, or with another executor's, gets `401`.
   * @default false
   */
  executorAuthentication?: boolean;
  logger?: Logger;
}

/** One executor as `LocalAgent.executors()` reports it. */
export interface AgentExecutorSnapshot {
  frameworkId: string;
  executorId: string;
  containerId: string;
  sandbox: string;
  state: 'REGISTERING' | 'RUNNING' | 'TERMINATING' | 'TERMINATED';
  /** The built-in command executor of a command task. */
  command: boolean;
  pid?: number;
  tasks: { taskId: string; state: mesos.v1.TaskState }[];
}

interface FrameworkState {
  info: mesos.v1.FrameworkInfo;
  executors: Map<string, Executor>;
  /** Being torn down: no more tasks, no agent-generated updates. */
  terminating: boolean;
}

const EXECUTOR_TERMINATED: Termination = {
  state: 'TASK_FAILED',
  reason: 'REASON_EXECUTOR_TERMINATED',
  message: 'Executor terminated',
};

/** Mesos' `DEFAULT_EXECUTOR_HEARTBEAT_INTERVAL`: a HEARTBEAT event every 30 minutes. */
const EXECUTOR_HEARTBEAT_MS = 30 * 60_000;

const now = (): number => Date.now() / 1000;

export class LocalAgent implements AgentApi {
  readonly ip: string;
  readonly port: number;
  readonly hostname: string;
  readonly url: string;
  #agentId = '';
  #master: MasterApi;
  readonly #server: Server;
  readonly #workDir: string;
  readonly #resources: mesos.v1.Resource[];
  readonly #attributes: mesos.v1.Attribute[] | undefined;
  readonly #registrationTimeoutMs: number;
  readonly #reregistrationTimeoutMs: number;
  readonly #checkpoint: Checkpoint;
  /** Where the records of each checkpointed task (framework + task) go, until its stream ends. */
  readonly #locations = new Map<string, TaskCheckpoint>();
  #reregistrationTimer: NodeJS.Timeout | undefined;
  #agentIdObject: mesos.v1.AgentID | undefined;
  /** Stopped as by a crash: executors of checkpointing frameworks were left running. */
  #crashed = false;
  /** Cut off from the master (fault injection): nothing goes either way. */
  #partitioned = false;
  readonly #shutdownGraceMs: number;
  readonly #executorEnvironment: Record<string, string> | undefined;
  /** Signs and checks executor tokens; set with executor authentication on. */
  readonly #tokens: ExecutorTokens | undefined;
  readonly #log: Logger;
  readonly #frameworks = new Map<string, FrameworkState>();
  readonly #updates: StatusUpdateManager;
  /** Every executor whose process may still run (for `stop()`). */
  readonly #live = new Set<Executor>();
  #stopping = false;
  #stopped: Promise<void> | undefined;

  private constructor(options: LocalAgentOptions, server: Server, ip: string, port: number) {
    this.#master = options.master;
    this.#server = server;
    this.ip = ip;
    this.port = port;
    this.hostname = options.hostname ?? 'localhost';
    this.url = `http://${ip}:${port}`;
    this.#workDir = options.workDir;
    this.#resources = options.resources ?? parseResources(DEFAULT_AGENT_RESOURCES);
    this.#attributes = options.attributes;
    this.#registrationTimeoutMs = options.executorRegistrationTimeoutMs ?? 60_000;
    this.#reregistrationTimeoutMs = options.executorReregistrationTimeoutMs ?? 2000;
    this.#checkpoint = new Checkpoint(options.workDir);
    this.#tokens = options.executorAuthentication
      ? new ExecutorTokens(this.#checkpoint.tokenSecret(options.recover === true))
      : undefined;
    this.#shutdownGraceMs = options.executorShutdownGracePeriodMs ?? 5000;
    this.#executorEnvironment = options.executorEnvironment;

    this.#log = childLogger(options.logger ?? silentLogger, { component: 'agent' });
    this.#updates = new StatusUpdateManager((frameworkId, status, latestState) => {
      if (!this.#partitioned) this.#master.statusUpdate(this.#agentId, { frameworkId, status, latestState });
    }, options.statusUpdateRetryMs ?? DEFAULT_RETRY);
  }

  /** Starts the HTTP server and registers with the master. */
  static async start(options: LocalAgentOptions): Promise<LocalAgent> {
    const host = options.host ?? '127.0.0.1';
    let agent: LocalAgent | undefined;
    const server = createServer((req, res) => {
      if (!agent) {
        sendText(res, 503, 'Agent has not finished recovery');
        return;
      }
      agent.#route(req, res);
    });
    coalesceWrites(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address() as AddressInfo;
    const created = new LocalAgent(options, server, host, address.port);
    const recovered = options.recover ? created.#checkpoint.recover() : undefined;
    const dead = recovered ? created.#recover(recovered) : [];
    agent = created;
    try {
      const registered = await options.master.registerAgent(created.#registration(), created);
      created.#agentId = registered.agentId;
      created.#checkpoint.agent(registered.agentId, created.agentInfo);
    } catch (err) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      throw err;
    }
    if (recovered) created.#afterRecovery(dead);
    return created;
  }

  /**
   * Rebuilds frameworks, executors and status update streams from the checkpoint (before the
   * agent registers). Returns the executors whose process is gone.
   */
  #recover(state: RecoveredState): Executor[] {
    this.#agentId = state.agentId;
    for (const [frameworkId, info] of state.frameworks) {
      this.#frameworks.set(frameworkId, { info, executors: new Map(), terminating: false });
    }
    const dead: Executor[] = [];
    for (const run of state.executors) {
      const framework = this.#frameworks.get(run.frameworkId);
      if (!framework) continue;
      const checkpointOf = (taskId: string): TaskCheckpoint =>
        this.#checkpoint.taskCheckpoint(
          state.agentId,
          run.frameworkId,
          run.info.executor_id.value,
          run.containerId,
          taskId,
        );
      // A task whose terminal update was acknowledged is completed: only its id is remembered.
      const done = (task: RecoveredTask): boolean => {
        const last = task.updates.at(-1);
        return (
          last !== undefined &&
          isTerminalTaskState(last.state) &&
          last.uuid !== undefined &&
          task.acked.has(uuidHex(last.uuid))
        );
      };
      const live = run.tasks.filter((task) => !done(task));
      const completed = run.tasks.filter(done).map((task) => task.info.task_id.value);
      for (const taskId of completed) this.#checkpoint.completed(checkpointOf(taskId));
      for (const task of live) {
        this.#locations.set(
          streamKeyOf(run.frameworkId, task.info.task_id.value),
          checkpointOf(task.info.task_id.value),
        );
        this.#updates.restore(run.frameworkId, task.updates, task.acked);
      }
      if (run.terminated) continue;
      const executor = new Executor({
        frameworkId: run.frameworkId,
        info: run.info,
        containerId: run.containerId,
        sandbox: sandboxPath(
          this.#workDir,
          state.agentId,
          run.frameworkId,
          run.info.executor_id.value,
          run.containerId,
        ),
        ...(run.commandTask ? { commandTask: run.commandTask } : {}),
      });
      for (const taskId of completed) executor.rememberCompleted(taskId);
      for (const task of live) {
        executor.tasks.set(task.info.task_id.value, {
          info: task.info,
          state: task.updates.at(-1)?.state ?? 'TASK_STAGING',
          launched: true,
        });
      }
      executor.everLaunched = true;
      executor.recovered = !run.commandTask;
      executor.state = run.commandTask ? 'RUNNING' : 'REGISTERING';
      framework.executors.set(executor.executorId, executor);
      this.#live.add(executor);
      const process = run.pid === undefined || state.rebooted ? undefined : adoptProcess(run.pid);
      if (process) {
        executor.process = process;
        void process.exited.then((status) => this.#executorExited(executor, status));
      } else {
        executor.termination = EXECUTOR_TERMINATED;
        dead.push(executor);
      }
    }
    // Frameworks with nothing left (no executor, no pending update) are not recovered: their
    // checkpoint is garbage (Mesos collects it after --gc_delay).
    for (const [frameworkId, framework] of this.#frameworks) {
      if (framework.executors.size > 0 || this.#updates.hasPending(frameworkId)) continue;
      this.#frameworks.delete(frameworkId);
      this.#checkpoint.removeFramework(state.agentId, frameworkId);
    }
    this.#log.info('agent recovered', { agentId: state.agentId, executors: this.#live.size });
    return dead;
  }

  /** Once re-registered: reap what died meanwhile, resend updates, wait for executors. */
  #afterRecovery(dead: Executor[]): void {
    for (const executor of dead) this.#executorExited(executor, -1);
    this.#updates.resendAll();
    if (![...this.#live].some((e) => e.recovered)) return;
    this.#reregistrationTimer = setTimeout(() => {
      this.#reregistrationTimer = undefined;
      for (const executor of [...this.#live]) {
        if (!executor.recovered || executor.state !== 'REGISTERING') continue;
        const framework = this.#frameworks.get(executor.frameworkId);
        executor.termination = {
          state: framework && hasCapability(framework.info, 'PARTITION_AWARE') ? 'TASK_GONE' : 'TASK_LOST',
          reason: 'REASON_EXECUTOR_REREGISTRATION_TIMEOUT',
          message: `Executor did not reregister within ${formatDuration(this.#reregistrationTimeoutMs)}`,
        };
        this.#destroy(executor);
      }
    }, this.#reregistrationTimeoutMs);
  }

  /** What the agent tells the master when it (re-)registers. */
  #registration(): AgentRegistration {
    const registration: AgentRegistration = {
      hostname: this.hostname,
      ip: this.ip,
      port: this.port,
      resources: this.#resources,
      ...(this.#attributes ? { attributes: this.#attributes } : {}),
    };
    if (this.#agentId) registration.agentId = this.#agentId;
    const frameworks: mesos.v1.FrameworkInfo[] = [];
    const executors: { frameworkId: string; info: mesos.v1.ExecutorInfo }[] = [];
    const tasks: AgentTask[] = [];
    for (const [frameworkId, framework] of this.#frameworks) {
      if (framework.terminating) continue;
      frameworks.push(framework.info);
      for (const executor of framework.executors.values()) {
        if (executor.state === 'TERMINATED') continue;
        if (!executor.commandTask) executors.push({ frameworkId, info: executor.info });
        for (const record of executor.tasks.values()) {
          tasks.push({
            frameworkId,
            ...(executor.commandTask ? {} : { executorId: executor.executorId }),
            info: record.info,
            state: record.state,
          });
        }
      }
    }
    if (frameworks.length > 0) registration.frameworks = frameworks;
    if (executors.length > 0) registration.executors = executors;
    if (tasks.length > 0) registration.tasks = tasks;
    return registration;
  }

  /**
   * Registers again, with everything the agent runs, with `master` (a restarted master) or the
   * current one (after a partition healed), then resends the head of every pending status
   * update stream, as a Mesos agent does when it re-registers.
   */
  async reregister(master?: MasterApi): Promise<void> {
    if (this.#stopping) return;
    if (master) {
      this.#master = master;
      // Still cut off: it registers with the new master when the partition heals.
      if (this.#partitioned) return;
    }
    this.#partitioned = false;
    const registered = await this.#master.registerAgent(this.#registration(), this);
    this.#agentId = registered.agentId;
    this.#updates.resendAll();
  }

  /**
   * Fault injection: cuts the agent off from its master, both ways (a network partition). The
   * executors keep running; status updates wait. `reregister()` heals it.
   */
  partition(): void {
    this.#partitioned = true;
    this.#updates.pause();
  }

  get agentId(): string {
    return this.#agentId;
  }

  /** The agent's `AgentInfo`, as executors see it in `SUBSCRIBED`. */
  get agentInfo(): mesos.v1.AgentInfo {
    return {
      hostname: this.hostname,
      port: this.port,
      resources: this.#resources,
      ...(this.#attributes ? { attributes: this.#attributes } : {}),
      id: { value: this.#agentId },
    };
  }

  /** Fault hook: SIGKILLs the process group of an executor. False if there is no such process. */
  killExecutorProcess(frameworkId: string, executorId: string): boolean {
    const executor = this.#frameworks.get(frameworkId)?.executors.get(executorId);
    if (!executor?.process) return false;
    executor.termination ??= EXECUTOR_TERMINATED;
    return killGroup(executor.pid, 'SIGKILL');
  }

  /** The sandbox of an executor's current run, if it exists. */
  sandboxOf(frameworkId: string, executorId: string): string | undefined {
    return this.#frameworks.get(frameworkId)?.executors.get(executorId)?.sandbox;
  }

  /** The pid of an executor's process (its process group id), if running. */
  pidOf(frameworkId: string, executorId: string): number | undefined {
    return this.#frameworks.get(frameworkId)?.executors.get(executorId)?.pid;
  }

  /** What runs on this agent now: per executor its container, process and tasks. */
  executors(): AgentExecutorSnapshot[] {
    const out: AgentExecutorSnapshot[] = [];
    for (const [frameworkId, framework] of this.#frameworks) {
      for (const executor of framework.executors.values()) {
        out.push({
          frameworkId,
          executorId: executor.executorId,
          containerId: executor.containerId,
          sandbox: executor.sandbox,
          state: executor.state,
          command: executor.commandTask !== undefined,
          ...(executor.pid !== undefined ? { pid: executor.pid } : {}),
          tasks: [...executor.tasks.values()].map((t) => ({ taskId: t.info.task_id.value, state: t.state })),
        });
      }
    }
    return out;
  }

  /** Kills every executor process group, clears all timers, closes the server. Idempotent. */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop(false);
    return this.#stopped;
  }

  /**
   * Stops the agent as a crash or a restart would: the HTTP server closes (executors lose their
   * connection), but executors of checkpointing frameworks keep running, for a new agent on the
   * same work dir (`recover: true`) to reconnect with. Executors of other frameworks are killed
   * (a Mesos executor without checkpointing exits when it loses its agent).
   */
  crash(): Promise<void> {
    this.#stopped ??= this.#stop(true);
    return this.#stopped;
  }

  /**
   * After `crash()`, when no new agent will take the executors over (its start failed): kills
   * the process groups the crash left running.
   */
  reap(): void {
    if (!this.#crashed) return;
    for (const executor of this.#live) killGroup(executor.pid, 'SIGKILL');
  }

  async #stop(crash: boolean): Promise<void> {
    this.#stopping = true;
    this.#crashed = crash;
    clearTimeout(this.#reregistrationTimer);
    const exits: Promise<unknown>[] = [];
    for (const executor of this.#live) {
      executor.clearTimers();
      executor.closeStream();
      if (executor.starting) exits.push(executor.starting);
      if (crash && this.#frameworks.get(executor.frameworkId)?.info.checkpoint === true) continue;
      if (executor.process) {
        killGroup(executor.pid, 'SIGKILL');
        exits.push(executor.process.exited);
      }
    }
    this.#updates.stop();
    this.#checkpoint.stop();
    if (exits.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(exits),
        new Promise((resolve) => {
          timer = setTimeout(resolve, 5000);
        }),
      ]);
      clearTimeout(timer);
    }
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
    if (this.#agentId && !this.#partitioned) this.#master.agentGone(this.#agentId);
  }

  // ---------------------------------------------------------------- AgentApi

  runTask(request: RunTaskRequest): void {
    if (this.#partitioned) return; // the message is lost in the partition
    const frameworkId = request.framework.id?.value;
    if (!frameworkId || this.#stopping) return;
    let framework = this.#frameworks.get(frameworkId);
    if (!framework) {
      framework = { info: request.framework, executors: new Map(), terminating: false };
      this.#frameworks.set(frameworkId, framework);
    } else {
      framework.info = request.framework;
    }
    if (framework.terminating) {
      this.#log.warn('task for a terminating framework dropped', { frameworkId });
      return;
    }
    const tasks = request.taskGroup ? (request.taskGroup.tasks ?? []) : request.task ? [request.task] : [];
    if (tasks.length === 0) return;
    const launch: QueuedLaunch = { tasks, group: request.taskGroup !== undefined };
    const first = tasks[0]!;
    const command = !request.taskGroup && !request.executor && !first.executor && first.command !== undefined;
    const info = command ? commandExecutorInfo(frameworkId, first) : (request.executor ?? first.executor);
    if (!info) {
      this.#log.warn('task without executor or command dropped', {
        frameworkId,
        taskId: first.task_id.value,
      });
      return;
    }
    if (framework.info.checkpoint === true) this.#checkpoint.framework(this.#agentId, framework.info);
    const existing = framework.executors.get(info.executor_id.value);
    if (existing) {
      switch (existing.state) {
        case 'REGISTERING':
          existing.enqueue(launch);
          this.#checkpointTasks(framework, existing, tasks);
          return;
        case 'RUNNING':
          existing.enqueue(launch);
          this.#checkpointTasks(framework, existing, tasks);
          if (!existing.commandTask) this.#deliverQueued(existing);
          return;
        default: {
          const lost = hasCapability(framework.info, 'PARTITION_AWARE') ? 'TASK_DROPPED' : 'TASK_LOST';
          for (const task of tasks) {
            this.#agentUpdate(frameworkId, existing.executorId, task.task_id.value, {
              state: lost,
              reason: 'REASON_EXECUTOR_TERMINATED',
              message: 'Executor terminating',
            });
          }
          return;
        }
      }
    }
    this.#launchExecutor(framework, frameworkId, info, launch, command ? first : undefined);
  }

  #checkpointTasks(framework: FrameworkState, executor: Executor, tasks: readonly mesos.v1.TaskInfo[]): void {
    if (framework.info.checkpoint !== true) return;
    for (const task of tasks) {
      this.#locations.set(
        streamKeyOf(executor.frameworkId, task.task_id.value),
        this.#checkpoint.task(
          this.#agentId,
          executor.frameworkId,
          executor.executorId,
          executor.containerId,
          task,
        ),
      );
    }
  }

  /** Queues a status update for the master; checkpoints it first for checkpointing frameworks. */
  #enqueueUpdate(frameworkId: string, status: mesos.v1.TaskStatus): boolean {
    const where = this.#locations.get(streamKeyOf(frameworkId, status.task_id.value));
    if (where && !this.#updates.received(frameworkId, status.task_id.value, status.uuid)) {
      this.#checkpoint.update(where, status);
    }
    return this.#updates.update(frameworkId, status);
  }

  killTask(frameworkId: string, taskId: string, killPolicy?: mesos.v1.KillPolicy): void {
    if (this.#partitioned) return; // the message is lost in the partition
    const framework = this.#frameworks.get(frameworkId);
    if (!framework || framework.terminating || this.#stopping) return;
    const executor = [...framework.executors.values()].find((e) => e.tasks.has(taskId));
    if (!executor) {
      this.#agentUpdate(frameworkId, undefined, taskId, {
        state: hasCapability(framework.info, 'PARTITION_AWARE') ? 'TASK_DROPPED' : 'TASK_LOST',
        reason: 'REASON_EXECUTOR_TERMINATED',
        message: 'Cannot find executor',
      });
      return;
    }
    if (executor.state === 'TERMINATING' || executor.state === 'TERMINATED') return;
    const queued = executor.queuedLaunchOf(taskId);
    if (queued) {
      executor.queue.splice(executor.queue.indexOf(queued), 1);
      executor.killedWhileQueued++;
      for (const task of queued.tasks) {
        this.#agentUpdate(frameworkId, executor.executorId, task.task_id.value, {
          state: 'TASK_KILLED',
          reason: 'REASON_TASK_KILLED_DURING_LAUNCH',
          message: queued.group
            ? 'A task within the task group was killed before delivery to the executor'
            : 'Killed before delivery to the executor',
        });
      }
      return;
    }
    if (executor.commandTask) {
      this.#killCommand(framework, executor, killPolicy);
      return;
    }
    if (executor.state === 'RUNNING') {
      executor.send({
        type: 'KILL',
        kill: { task_id: { value: taskId }, ...(killPolicy ? { kill_policy: killPolicy } : {}) },
      });
    }
  }

  shutdownExecutor(frameworkId: string, executorId: string): void {
    if (this.#partitioned) return; // the message is lost in the partition
    const framework = this.#frameworks.get(frameworkId);
    const executor = framework?.executors.get(executorId);
    if (!framework || !executor || this.#stopping) return;
    if (executor.state === 'TERMINATING' || executor.state === 'TERMINATED') return;
    executor.state = 'TERMINATING';
    clearTimeout(executor.registrationTimer);
    const grace = this.#shutdownGraceOf(executor);
    if (executor.commandTask) {
      this.#killCommand(framework, executor, undefined, grace);
    } else {
      executor.send({ type: 'SHUTDOWN' });
    }
    executor.shutdownTimer = setTimeout(() => this.#destroy(executor), grace);
  }

  shutdownFramework(frameworkId: string): void {
    if (this.#partitioned) return; // the message is lost in the partition
    const framework = this.#frameworks.get(frameworkId);
    if (!framework) return;
    framework.terminating = true;
    this.#updates.removeFramework(frameworkId);
    this.#checkpoint.removeFramework(this.#agentId, frameworkId);
    const prefix = streamKeyOf(frameworkId, '');
    for (const key of this.#locations.keys()) if (key.startsWith(prefix)) this.#locations.delete(key);
    for (const executor of framework.executors.values())
      this.shutdownExecutor(frameworkId, executor.executorId);
    if (framework.executors.size === 0) this.#frameworks.delete(frameworkId);
  }

  acknowledge(frameworkId: string, taskId: string, uuid: Uint8Array): void {
    if (this.#partitioned) return;
    if (!this.#updates.acknowledge(frameworkId, taskId, uuid)) return;
    const key = streamKeyOf(frameworkId, taskId);
    const where = this.#locations.get(key);
    const done = !this.#updates.has(frameworkId, taskId);
    if (where) {
      this.#checkpoint.ack(where, uuid);
      // The terminal update was acknowledged (its stream is gone): the task is completed.
      if (done) {
        this.#checkpoint.completed(where);
        this.#locations.delete(key);
      }
    }
    if (done) {
      // Forget the task: a long-lived executor runs many, and keeping each would grow without
      // bound. As Mesos, only the ids of the last completed tasks are kept (to drop updates
      // that still come for them).
      for (const executor of this.#frameworks.get(frameworkId)?.executors.values() ?? []) {
        const record = executor.tasks.get(taskId);
        if (record !== undefined && isTerminalTaskState(record.state)) {
          executor.tasks.delete(taskId);
          executor.rememberCompleted(taskId);
        }
      }
    }
  }

  ping(): void {
    if (!this.#partitioned && !this.#stopping) this.#master.pong(this.#agentId);
  }

  frameworkMessage(frameworkId: string, executorId: string, data: Uint8Array): void {
    if (this.#partitioned) return; // the message is lost in the partition
    const executor = this.#frameworks.get(frameworkId)?.executors.get(executorId);
    if (executor?.state !== 'RUNNING' || executor.commandTask) return;
    executor.send({ type: 'MESSAGE', message: { data } });
  }

  updateFramework(framework: mesos.v1.FrameworkInfo): void {
    if (this.#partitioned) return; // the message is lost in the partition
    const frameworkId = framework.id?.value;
    if (!frameworkId) return;
    const state = this.#frameworks.get(frameworkId);
    if (state) state.info = framework;
    this.#updates.resend(frameworkId);
  }

  // ---------------------------------------------------------------- HTTP

  #route(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (!EXECUTOR_API_PATHS.includes(path)) {
      req.resume();
      res.writeHead(404, { 'Content-Length': '0' });
      res.end();
      return;
    }
    handleExecutorApi(req, res, this.#apiHost, this.#log).catch((err: unknown) => {
      this.#log.error('executor API failure', { error: String(err) });
      if (!res.headersSent) sendText(res, 500, 'Internal error');
      else res.destroy();
    });
  }

  readonly #apiHost = {
    tokens: (): ExecutorTokens | undefined => this.#tokens,
    hasFramework: (frameworkId: string): boolean => this.#frameworks.has(frameworkId),
    executor: (frameworkId: string, executorId: string): Executor | undefined =>
      this.#frameworks.get(frameworkId)?.executors.get(executorId),
    subscribe: (
      executor: Executor,
      subscribe: mesos.v1.executor.Call.Subscribe,
      res: ServerResponse,
      encoding: 'json' | 'protobuf',
    ): void => this.#subscribe(executor, subscribe, res, encoding),
    update: (executor: Executor, status: mesos.v1.TaskStatus): void => this.#executorUpdate(executor, status),
    message: (executor: Executor, data: Uint8Array): void => {
      if (!this.#partitioned)
        this.#master.executorMessage(this.#agentId, executor.frameworkId, executor.executorId, data);
    },
  };

  // ---------------------------------------------------------------- executors

  #launchExecutor(
    framework: FrameworkState,
    frameworkId: string,
    info: mesos.v1.ExecutorInfo,
    launch: QueuedLaunch,
    commandTask: mesos.v1.TaskInfo | undefined,
  ): void {
    const containerId = randomId();
    const executor = new Executor({
      frameworkId,
      info: { ...info, framework_id: { value: frameworkId } },
      containerId,
      sandbox: sandboxPath(this.#workDir, this.#agentId, frameworkId, info.executor_id.value, containerId),
      ...(commandTask ? { commandTask } : {}),
    });
    executor.enqueue(launch);
    framework.executors.set(executor.executorId, executor);
    this.#live.add(executor);
    if (framework.info.checkpoint === true) {
      this.#checkpoint.executor(this.#agentId, frameworkId, executor.info, containerId, commandTask);
      this.#checkpointTasks(framework, executor, launch.tasks);
    }
    if (!commandTask) {
      executor.registrationTimer = setTimeout(() => {
        if (executor.state !== 'REGISTERING') return;
        executor.termination = {
          state: 'TASK_FAILED',
          reason: 'REASON_EXECUTOR_REGISTRATION_TIMEOUT',
          message: `Executor did not register within ${formatDuration(this.#registrationTimeoutMs)}`,
        };
        this.#destroy(executor);
      }, this.#registrationTimeoutMs);
    }
    executor.starting = this.#startContainer(framework, executor);
  }

  async #startContainer(framework: FrameworkState, executor: Executor): Promise<void> {
    const command = executor.info.command ?? {};
    try {
      await createSandbox(executor.sandbox);
      await fetchUris(command.uris ?? [], executor.sandbox).catch((err: unknown) => {
        throw new Error(
          `Failed to fetch all URIs for container '${executor.containerId}': ${err instanceof Error ? err.message : String(err)}`,
        );
      });
    } catch (err) {
      if (executor.state === 'TERMINATED') return;
      executor.termination = {
        state: 'TASK_FAILED',
        reason: 'REASON_CONTAINER_LAUNCH_FAILED',
        message: `Failed to launch container: ${err instanceof Error ? err.message : String(err)}`,
      };
      this.#executorExited(executor, -1);
      return;
    }
    if (executor.state === 'TERMINATED') return;
    if (this.#stopping || executor.state === 'TERMINATING') {
      this.#executorExited(executor, -1);
      return;
    }
    const task = executor.commandTask;
    if (task && executor.queue.length === 0) {
      // Killed while the sandbox was being prepared.
      this.#executorExited(executor, -1);
      return;
    }
    const env = buildEnvironment({
      frameworkId: executor.frameworkId,
      executorId: executor.executorId,
      agentId: this.#agentId,
      ip: this.ip,
      port: this.port,
      sandbox: executor.sandbox,
      checkpoint: framework.info.checkpoint === true,
      shutdownGracePeriodMs: this.#shutdownGraceOf(executor),
      reregistrationTimeoutMs: this.#reregistrationTimeoutMs,
      executorEnvironment: this.#executorEnvironment,
      commandEnvironment: command.environment,
      // Custom executors only: the agent runs a command task itself, and the command never
      // sees the command executor's token.
      ...(this.#tokens && !task
        ? {
            authenticationToken: this.#tokens.issue({
              fid: executor.frameworkId,
              eid: executor.executorId,
              cid: executor.containerId,
            }),
          }
        : {}),
      ...(task ? { extra: { MESOS_ALLOCATION_ROLE: allocationRole(task) } } : {}),
    });
    let spawned: SpawnedProcess;
    try {
      spawned = spawnCommand(command, executor.sandbox, env);
    } catch (err) {
      executor.termination = {
        state: 'TASK_FAILED',
        reason: 'REASON_CONTAINER_LAUNCH_FAILED',
        message: `Failed to launch container: ${err instanceof Error ? err.message : String(err)}`,
      };
      this.#executorExited(executor, -1);
      return;
    }
    executor.process = spawned;
    if (framework.info.checkpoint === true && spawned.pid !== undefined) {
      this.#checkpoint.pid(
        this.#agentId,
        executor.frameworkId,
        executor.executorId,
        executor.containerId,
        spawned.pid,
      );
    }
    void spawned.exited.then((status) => this.#executorExited(executor, status));
    this.#log.debug('executor started', {
      frameworkId: executor.frameworkId,
      executorId: executor.executorId,
      pid: spawned.pid,
    });
    if (task) {
      executor.state = 'RUNNING';
      executor.queue.length = 0;
      const record = executor.tasks.get(task.task_id.value);
      if (record) record.launched = true;
      executor.everLaunched = true;
      if (spawned.pid !== undefined) {
        this.#commandUpdate(executor, 'TASK_STARTING');
        this.#commandUpdate(executor, 'TASK_RUNNING');
      }
    }
  }

  /** Destroys the container: SIGKILL to the process group (or straight to exit handling). */
  #destroy(executor: Executor): void {
    if (executor.state === 'TERMINATED') return;
    executor.state = 'TERMINATING';
    if (executor.process && killGroup(executor.pid, 'SIGKILL')) return;
    if (!executor.process) this.#executorExited(executor, -1);
  }

  #executorExited(executor: Executor, status: number): void {
    // A crashed agent left this executor for the next agent, which watches it now.
    if (this.#crashed || executor.state === 'TERMINATED') return;
    executor.state = 'TERMINATED';
    executor.clearTimers();
    executor.closeStream();
    killGroup(executor.pid, 'SIGKILL'); // whatever is left of the container goes with it
    this.#live.delete(executor);
    const framework = this.#frameworks.get(executor.frameworkId);
    if (framework?.executors.get(executor.executorId) === executor)
      framework.executors.delete(executor.executorId);
    if (this.#stopping || !framework) return;
    if (framework.info.checkpoint === true) {
      this.#checkpoint.terminated(
        this.#agentId,
        executor.frameworkId,
        executor.executorId,
        executor.containerId,
      );
    }
    this.#log.debug('executor exited', {
      frameworkId: executor.frameworkId,
      executorId: executor.executorId,
      status,
    });

    if (executor.commandTask) {
      if (!framework.terminating) this.#commandExited(executor, status);
    } else {
      if (!this.#partitioned)
        this.#master.exitedExecutor(this.#agentId, executor.frameworkId, executor.executorId, status);
      if (!framework.terminating) {
        const termination = executor.termination ?? EXECUTOR_TERMINATED;
        for (const task of executor.activeTasks()) {
          this.#agentUpdate(executor.frameworkId, executor.executorId, task.info.task_id.value, termination);
        }
      }
    }
    if (framework.terminating && framework.executors.size === 0)
      this.#frameworks.delete(executor.frameworkId);
  }

  #commandExited(executor: Executor, status: number): void {
    const task = executor.commandTask!;
    const record = executor.tasks.get(task.task_id.value);
    if (!record || isTerminalTaskState(record.state)) return;
    // -1: an adopted process whose wait status nobody knows (it was not this process's child).
    if (executor.termination || !record.launched || status === -1) {
      this.#agentUpdate(
        executor.frameworkId,
        executor.executorId,
        task.task_id.value,
        executor.termination ?? EXECUTOR_TERMINATED,
      );
      return;
    }
    const terminal = commandTerminal(status, executor.commandKilled);
    this.#commandUpdate(executor, terminal.state, terminal.message);
  }

  #killCommand(
    framework: FrameworkState,
    executor: Executor,
    killPolicy: mesos.v1.KillPolicy | undefined,
    graceMs?: number,
  ): void {
    const task = executor.commandTask!;
    const record = executor.tasks.get(task.task_id.value);
    if (!record || isTerminalTaskState(record.state) || !executor.process) return;
    if (!executor.commandKilled) {
      executor.commandKilled = true;
      if (hasCapability(framework.info, 'TASK_KILLING_STATE')) this.#commandUpdate(executor, 'TASK_KILLING');
      killGroup(executor.pid, 'SIGTERM');
    }
    const grace =
      graceMs ??
      durationMs(killPolicy?.grace_period) ??
      durationMs(task.kill_policy?.grace_period) ??
      COMMAND_KILL_GRACE_MS;
    clearTimeout(executor.killTimer);
    executor.killTimer = setTimeout(() => killGroup(executor.pid, 'SIGKILL'), grace);
  }

  #subscribe(
    executor: Executor,
    subscribe: mesos.v1.executor.Call.Subscribe,
    res: ServerResponse,
    encoding: 'json' | 'protobuf',
  ): void {
    const framework = this.#frameworks.get(executor.frameworkId);
    const stream = new RecordIOResponse(res, encoding);
    if (
      this.#stopping ||
      !framework ||
      framework.terminating ||
      executor.state === 'TERMINATING' ||
      executor.state === 'TERMINATED'
    ) {
      stream.send(executorEvent.encode({ type: 'SHUTDOWN' }, encoding));
      stream.end();
      return;
    }
    executor.closeStream();
    executor.stream = stream;
    stream.onClose(() => {
      if (executor.stream === stream) executor.stream = undefined;
    });
    executor.state = 'RUNNING';
    executor.recovered = false;
    if (framework.info.checkpoint === true) {
      this.#checkpoint.httpMarker(
        this.#agentId,
        executor.frameworkId,
        executor.executorId,
        executor.containerId,
      );
    }
    clearTimeout(executor.registrationTimer);
    executor.registrationTimer = undefined;
    clearInterval(executor.heartbeatTimer);
    executor.heartbeatTimer = setInterval(() => executor.send({ type: 'HEARTBEAT' }), EXECUTOR_HEARTBEAT_MS);
    executor.heartbeatTimer.unref();

    // MESOS-8411: every task was killed before delivery: shut the executor down instead.
    if (!executor.everLaunched && executor.queue.length === 0 && executor.killedWhileQueued > 0) {
      this.shutdownExecutor(executor.frameworkId, executor.executorId);
      return;
    }

    executor.send({
      type: 'SUBSCRIBED',
      subscribed: {
        executor_info: withVariableTypes(executor.info),
        framework_info: {
          ...framework.info,
          failover_timeout: framework.info.failover_timeout ?? 0,
          checkpoint: framework.info.checkpoint ?? false,
        },
        agent_info: this.agentInfo,
        container_id: { value: executor.containerId },
      },
    });

    // Each is handled like an UPDATE call; one that such a call could not carry (no uuid, wrong
    // source, …) is dropped rather than breaking the subscription.
    for (const update of subscribe.unacknowledged_updates ?? []) {
      const problem = validateExecutorCall({
        type: 'UPDATE',
        framework_id: { value: executor.frameworkId },
        executor_id: { value: executor.executorId },
        update,
      });
      if (problem === undefined) this.#executorUpdate(executor, update.status);
      else this.#log.warn('unacknowledged update dropped', { executorId: executor.executorId, problem });
    }

    const unacknowledged = new Set((subscribe.unacknowledged_tasks ?? []).map((t) => t.task_id.value));
    const lost = hasCapability(framework.info, 'PARTITION_AWARE') ? 'TASK_DROPPED' : 'TASK_LOST';
    for (const record of executor.tasks.values()) {
      if (!record.launched || record.state !== 'TASK_STAGING') continue;
      if (unacknowledged.has(record.info.task_id.value)) continue;
      this.#agentUpdate(executor.frameworkId, executor.executorId, record.info.task_id.value, {
        state: lost,
        reason: 'REASON_AGENT_RESTARTED',
        message: 'Task launched during agent restart',
      });
    }
    this.#deliverQueued(executor);
  }

  #deliverQueued(executor: Executor): void {
    while (executor.queue.length > 0) {
      const launch = executor.queue.shift()!;
      for (const task of launch.tasks) {
        const record = executor.tasks.get(task.task_id.value);
        if (record) record.launched = true;
      }
      executor.everLaunched = true;
      if (launch.group) {
        executor.send({ type: 'LAUNCH_GROUP', launch_group: { task_group: { tasks: launch.tasks } } });
      } else {
        executor.send({ type: 'LAUNCH', launch: { task: launch.tasks[0]! } });
      }
    }
  }

  // ---------------------------------------------------------------- status updates

  /** An executor's UPDATE call (§4.7). */
  #executorUpdate(executor: Executor, status: mesos.v1.TaskStatus): void {
    if (this.#frameworks.get(executor.frameworkId)?.terminating !== false) {
      // Mesos ignores (and does not acknowledge) updates for a terminating framework.
      return;
    }
    if (status.agent_id && status.agent_id.value !== this.#agentId) {
      this.#log.warn('update with a foreign agent id dropped', { agentId: status.agent_id.value });
      return;
    }
    const taskId = status.task_id.value;
    const ack = (): void => {
      executor.send({
        type: 'ACKNOWLEDGED',
        acknowledged: { task_id: { value: taskId }, uuid: status.uuid! },
      });
    };
    const record = executor.tasks.get(taskId);
    if ((record && isTerminalTaskState(record.state)) || executor.completed(taskId)) {
      ack();
      return;
    }
    const full: mesos.v1.TaskStatus = {
      ...status,
      source: 'SOURCE_EXECUTOR',
      agent_id: this.#agentIdRef(),
      timestamp: status.timestamp ?? now(),
      container_status: this.#containerStatus(executor, status.container_status),
    };
    if (this.#enqueueUpdate(executor.frameworkId, full) && record) record.state = full.state;
    ack();
  }

  /** An update the agent makes as the command executor would (SOURCE_EXECUTOR). */
  #commandUpdate(executor: Executor, state: mesos.v1.TaskState, message?: string): void {
    if (this.#frameworks.get(executor.frameworkId)?.terminating !== false) return;
    const task = executor.commandTask!;
    const record = executor.tasks.get(task.task_id.value);
    if (record) record.state = state;
    this.#enqueueUpdate(executor.frameworkId, {
      task_id: { value: task.task_id.value },
      state,
      ...(message !== undefined ? { message } : {}),
      source: 'SOURCE_EXECUTOR',
      agent_id: { value: this.#agentId },
      executor_id: { value: executor.executorId },
      timestamp: now(),
      uuid: randomUuidBytes(),
      container_status: this.#containerStatus(executor, undefined),
    });
  }

  /** An agent-generated update (SOURCE_AGENT), through the reliable path. */
  #agentUpdate(
    frameworkId: string,
    executorId: string | undefined,
    taskId: string,
    termination: Termination,
  ): void {
    const executor = executorId ? this.#frameworks.get(frameworkId)?.executors.get(executorId) : undefined;
    const record = executor?.tasks.get(taskId);
    if (record) record.state = termination.state;
    this.#enqueueUpdate(frameworkId, {
      task_id: { value: taskId },
      state: termination.state,
      message: termination.message,
      source: 'SOURCE_AGENT',
      reason: termination.reason,
      agent_id: { value: this.#agentId },
      ...(executorId ? { executor_id: { value: executorId } } : {}),
      timestamp: now(),
      uuid: randomUuidBytes(),
    });
  }

  /** `{ value: agentId }`, one object shared by the updates this agent stamps (never changed). */
  #agentIdRef(): mesos.v1.AgentID {
    if (this.#agentIdObject?.value !== this.#agentId) this.#agentIdObject = { value: this.#agentId };
    return this.#agentIdObject;
  }

  /**
   * The container status the agent puts in an executor's update: the executor's own, completed,
   * or (none given, the usual case) one object per executor process, shared by its updates.
   */
  #containerStatus(
    executor: Executor,
    given: mesos.v1.ContainerStatus | undefined,
  ): mesos.v1.ContainerStatus {
    if (given === undefined) {
      const cached = executor.containerStatus;
      if (cached !== undefined && cached.executor_pid === executor.pid) return cached;
    }
    const status: mesos.v1.ContainerStatus = {
      ...given,
      container_id: { value: executor.containerId },
      ...(executor.pid !== undefined ? { executor_pid: executor.pid } : {}),
      network_infos:
        given?.network_infos && given.network_infos.length > 0
          ? given.network_infos
          : [{ ip_addresses: [{ protocol: 'IPv4', ip_address: this.ip }] }],
    };
    if (given === undefined) executor.containerStatus = status;
    return status;
  }

  #shutdownGraceOf(executor: Executor): number {
    return durationMs(executor.info.shutdown_grace_period) ?? this.#shutdownGraceMs;
  }
}

/** Mesos writes the (defaulted) `type` of every environment variable back out. */
function withVariableTypes(info: mesos.v1.ExecutorInfo): mesos.v1.ExecutorInfo {
  const variables = info.command?.environment?.variables;
  if (!info.command || !variables) return info;
  return {
    ...info,
    command: {
      ...info.command,
      environment: { variables: variables.map((v) => ({ ...v, type: v.type ?? 'VALUE' })) },
    },
  };
}

function streamKeyOf(frameworkId: string, taskId: string): string {
  return `${frameworkId}\u0000${taskId}`;
}
