/**
 * One executor run on the agent (Mesos' `Executor`): its identity, container, process, event
 * stream, and the tasks it was given, queued (not yet delivered) or launched.
 *
 * States (§4.2): `REGISTERING` (launched, not yet subscribed) → `RUNNING` (subscribed) →
 * `TERMINATING` (shutdown / registration timeout / launch failure under way) → `TERMINATED`
 * (process gone).
 */
import { executorEvent, isTerminalTaskState, type mesos } from '@mesoskit/protocol';
import type { RecordIOResponse } from '../http.js';
import type { SpawnedProcess } from './process.js';

export type ExecutorState = 'REGISTERING' | 'RUNNING' | 'TERMINATING' | 'TERMINATED';

/** One `LAUNCH` (a single task) or `LAUNCH_GROUP` (a task group) waiting for the executor. */
export interface QueuedLaunch {
  tasks: mesos.v1.TaskInfo[];
  group: boolean;
}

export interface TaskRecord {
  info: mesos.v1.TaskInfo;
  /** The newest state the agent knows (`TASK_STAGING` until the first update). */
  state: mesos.v1.TaskState;
  /** Sent to the executor (LAUNCH / LAUNCH_GROUP) or, for a command task, started. */
  launched: boolean;
}

/** Why the agent is terminating the executor: the terminal update its unfinished tasks get. */
export interface Termination {
  state: mesos.v1.TaskState;
  reason: mesos.v1.TaskStatus.Reason;
  message: string;
}

/** Completed task ids an executor remembers (Mesos: 200 completed tasks per executor). */
export const MAX_COMPLETED_TASKS = 1000;

export class Executor {
  readonly frameworkId: string;
  readonly executorId: string;
  readonly info: mesos.v1.ExecutorInfo;
  readonly containerId: string;
  readonly sandbox: string;
  /** A command task's built-in executor: the agent runs the command and reports for it. */
  readonly commandTask: mesos.v1.TaskInfo | undefined;
  state: ExecutorState = 'REGISTERING';
  readonly tasks = new Map<string, TaskRecord>();
  /**
   * The last tasks completed and acknowledged, forgotten from `tasks` (bounded), with their
   * checkpoint: Mesos keeps a completed task's directory while its executor runs; past this
   * many, ours are removed, so a long-lived executor does not pile up millions.
   */
  readonly #completed = new Set<string>();
  readonly queue: QueuedLaunch[] = [];
  /** Recovered after an agent restart and not yet re-subscribed. */
  recovered = false;
  /** True once any task was delivered (MESOS-8411). */
  everLaunched = false;
  /** Tasks killed while queued (MESOS-8411). */
  killedWhileQueued = 0;
  stream: RecordIOResponse | undefined;
  process: SpawnedProcess | undefined;
  /** The sandbox/fetch/spawn sequence, while it runs. */
  starting: Promise<void> | undefined;
  termination: Termination | undefined;
  /** A command task being killed (TASK_KILLED on exit). */
  commandKilled = false;
  registrationTimer: NodeJS.Timeout | undefined;
  shutdownTimer: NodeJS.Timeout | undefined;
  killTimer: NodeJS.Timeout | undefined;
  heartbeatTimer: NodeJS.Timeout | undefined;

  constructor(init: {
    frameworkId: string;
    info: mesos.v1.ExecutorInfo;
    containerId: string;
    sandbox: string;
    commandTask?: mesos.v1.TaskInfo;
  }) {
    this.frameworkId = init.frameworkId;
    this.executorId = init.info.executor_id.value;
    this.info = init.info;
    this.containerId = init.containerId;
    this.sandbox = init.sandbox;
    this.commandTask = init.commandTask;
  }

  /** The container status of this executor's updates, made once per process (see the agent). */
  containerStatus: mesos.v1.ContainerStatus | undefined;

  get pid(): number | undefined {
    return this.process?.pid;
  }

  /** Sends an event on the subscription stream; false if there is none. */
  send(event: mesos.v1.executor.Event): boolean {
    const stream = this.stream;
    if (!stream || stream.closed) return false;
    return stream.send(executorEvent.encode(event, stream.encoding));
  }

  /** Adds tasks as queued (not yet delivered). */
  enqueue(launch: QueuedLaunch): void {
    this.queue.push(launch);
    for (const task of launch.tasks) {
      this.tasks.set(task.task_id.value, { info: task, state: 'TASK_STAGING', launched: false });
    }
  }

  /** The queued launch holding `taskId`, if any. */
  queuedLaunchOf(taskId: string): QueuedLaunch | undefined {
    return this.queue.find((launch) => launch.tasks.some((t) => t.task_id.value === taskId));
  }

  /** Tasks not yet terminal at the agent (queued or launched). */
  activeTasks(): TaskRecord[] {
    return [...this.tasks.values()].filter((t) => !isTerminalTaskState(t.state));
  }

  clearTimers(): void {
    clearTimeout(this.registrationTimer);
    clearTimeout(this.shutdownTimer);
    clearTimeout(this.killTimer);
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    this.registrationTimer = undefined;
    this.shutdownTimer = undefined;
    this.killTimer = undefined;
  }

  /** Ends the subscription stream, if any. */
  closeStream(): void {
    this.stream?.end();
    this.stream = undefined;
  }

  /** Remembers a completed task's id (the last {@link MAX_COMPLETED_TASKS} only). */
  rememberCompleted(taskId: string): void {
    this.#completed.add(taskId);
    if (this.#completed.size <= MAX_COMPLETED_TASKS) return;
    this.#completed.delete(this.#completed.values().next().value!);
  }

  completed(taskId: string): boolean {
    return this.#completed.has(taskId);
  }
}
