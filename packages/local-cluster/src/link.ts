/**
 * The internal contract between the local master and its agents. Mesos' master and agents
 * talk over libprocess messages; ours talk through these two interfaces, with plain data
 * (Mesos v1 messages in the shape of `@mesoskit/protocol`'s types) so that the same calls can
 * cross a process boundary. In one process (the default) they are direct method calls; calls
 * must not rely on being synchronous: each side treats every call as a message that may arrive
 * later.
 *
 * Ids are their string values (`frameworkId`, `taskId`, …), not `{ value }` wrappers.
 */
import type { mesos } from '@mesoskit/protocol';

/** What the master asks of an agent. Implemented by the agent, called by the master. */
export interface AgentApi {
  /**
   * Runs a task, or a task group, that the master accepted (Mesos' `RunTaskMessage` /
   * `RunTaskGroupMessage`). For a command task (`task.command` set, no executor) the agent
   * makes the executor itself, as Mesos' command executor does.
   */
  runTask(request: RunTaskRequest): void;
  /** Kills a task (`kill_policy` overrides the task's own for this kill), per §4.8. */
  killTask(frameworkId: string, taskId: string, killPolicy?: mesos.v1.KillPolicy): void;
  /** Sends the executor `SHUTDOWN`, then kills its process group after the grace period. */
  shutdownExecutor(frameworkId: string, executorId: string): void;
  /** The framework was torn down: shut down all its executors, forget its updates. */
  shutdownFramework(frameworkId: string): void;
  /** The scheduler acknowledged an update: pop it from the task's stream, send the next. */
  acknowledge(frameworkId: string, taskId: string, uuid: Uint8Array): void;
  /** A scheduler `MESSAGE` for an executor (best effort). */
  frameworkMessage(frameworkId: string, executorId: string, data: Uint8Array): void;
  /**
   * The framework (re)subscribed or was updated: remember its new FrameworkInfo and resend the
   * head of every pending status update stream of that framework now.
   */
  updateFramework(framework: mesos.v1.FrameworkInfo): void;
  /**
   * The master's health check (Mesos' `PingSlaveMessage`): the agent answers with
   * `MasterApi.pong`. An agent cut off from the master (a partition) does not.
   */
  ping(): void;
}

/** A task (or task group) the master sends to an agent. */
export interface RunTaskRequest {
  /** The framework's FrameworkInfo, with `id` set. */
  framework: mesos.v1.FrameworkInfo;
  /** The executor; absent for a command task. For a group, the group's executor. */
  executor?: mesos.v1.ExecutorInfo;
  /** One task (LAUNCH), or … */
  task?: mesos.v1.TaskInfo;
  /** … a task group (LAUNCH_GROUP), delivered to the executor in one event. */
  taskGroup?: mesos.v1.TaskGroupInfo;
}

/** What an agent tells the master. Implemented by the master, called by an agent. */
export interface MasterApi {
  /**
   * Registers an agent (or re-registers one that restarted, with its old id). Resolves once
   * the master knows it and may send offers of its resources.
   */
  registerAgent(registration: AgentRegistration, agent: AgentApi): Promise<AgentRegistered>;
  /** A status update on its way to the scheduler (the head of one task's reliable stream). */
  statusUpdate(agentId: string, update: StatusUpdateMessage): void;
  /** An executor's `MESSAGE` for its scheduler (best effort). */
  executorMessage(agentId: string, frameworkId: string, executorId: string, data: Uint8Array): void;
  /**
   * A custom executor's process exited (`status` is the raw wait status: exit code × 256, or
   * the signal number, or -1 if unknown). The master frees its resources and tells the
   * scheduler with a `FAILURE` event. Not sent for command executors.
   */
  exitedExecutor(agentId: string, frameworkId: string, executorId: string, status: number): void;
  /**
   * The agent's connection broke (it stopped or restarts): its offers are rescinded and the
   * tasks of frameworks without `checkpoint` are lost (Mesos' `Master::exited` for an agent).
   */
  agentGone(agentId: string): void;
  /** The answer to `AgentApi.ping`. */
  pong(agentId: string): void;
}

export interface AgentRegistration {
  /** The id this agent had before a restart; absent on a first registration. */
  agentId?: string;
  hostname: string;
  /** The IP and port the agent's HTTP server (executor API) listens on. */
  ip: string;
  port: number;
  /** The agent's total resources. */
  resources: mesos.v1.Resource[];
  attributes?: mesos.v1.Attribute[];
  /**
   * On re-registration (Mesos' `ReregisterSlaveMessage`): the frameworks the agent runs
   * something for, its custom executors and its tasks with their newest state. A master that
   * restarted and knows nothing of the agent rebuilds its view from these.
   */
  frameworks?: mesos.v1.FrameworkInfo[];
  executors?: { frameworkId: string; info: mesos.v1.ExecutorInfo }[];
  tasks?: AgentTask[];
}

/** A task as an agent reports it when it re-registers. */
export interface AgentTask {
  frameworkId: string;
  /** The custom executor's id; absent for a command task. */
  executorId?: string;
  info: mesos.v1.TaskInfo;
  /** The newest state the agent knows (`TASK_STAGING` before the first update). */
  state: mesos.v1.TaskState;
}

export interface AgentRegistered {
  agentId: string;
  masterInfo: mesos.v1.MasterInfo;
}

/** A status update as the agent forwards it: the scheduler sees `status` exactly. */
export interface StatusUpdateMessage {
  frameworkId: string;
  /**
   * With `agent_id`, `executor_id`, `source`, `uuid`, `timestamp` and (for executor updates)
   * `container_status` filled in by the agent.
   */
  status: mesos.v1.TaskStatus;
  /**
   * The task's newest state at the agent, which may be ahead of `status.state` while earlier
   * updates wait for acknowledgement (Mesos' `latest_state`). Informational: like the real
   * master (captures 11 and 13), the master keeps the task in `status.state`, and frees its
   * resources when a terminal update is forwarded.
   */
  latestState: mesos.v1.TaskState;
}
