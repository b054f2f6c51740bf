/**
 * The agent's checkpoint (Mesos' "meta" directory), for agent recovery: what a restarted agent
 * needs to keep its id, reconnect with the executors of checkpointing frameworks and resend
 * its unacknowledged status updates. Only frameworks with `checkpoint: true` are written, as in
 * Mesos. Layout under `<workDir>/meta/slaves/` (the same tree Mesos uses, capture 17):
 *
 * ```
 * ../boot_id                                 the host's boot id (a reboot kills every executor)
 * latest                                     → symlink to <agentId>
 * <agentId>/slave.info                       AgentInfo
 * <agentId>/frameworks/<fid>/framework.info  FrameworkInfo
 *   executors/<eid>/executor.info            ExecutorInfo (+ the command task for command executors)
 *   executors/<eid>/executor_generated_for_command_task   `true` for the built-in command executor
 *   executors/<eid>/runs/latest              → symlink to <containerId>
 *   executors/<eid>/runs/<cid>/pids/forked.pid   the executor's pid
 *   executors/<eid>/runs/<cid>/executor.sentinel the executor terminated
 *   executors/<eid>/runs/<cid>/http.marker   the executor subscribed over HTTP
 *   executors/<eid>/runs/<cid>/tasks.<n>.log the run's tasks: TaskInfos, updates and acks
 * ```
 *
 * Where Mesos has a directory per task (`tasks/<tid>/task.info`, `task.updates`), a run has an
 * append-only log of its tasks in a few segment files (see `TaskLog`). A removed framework's tree is moved to
 * `meta/trash/` at once and deleted in the background. The other files hold JSON (bytes as
 * `{"$bytes": base64}`, 64-bit integers as `{"$int64": "…"}`), not Mesos' protobuf. Everything
 * is written synchronously, so an update is on disk before the executor gets `ACKNOWLEDGED` (as
 * Mesos checkpoints before acknowledging). Unreadable or partial files are skipped on recovery
 * (Mesos' `--strict=false`), never fatal.
 */

import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { mesos } from '@mesoskit/protocol';
import { fromWireJson, toWireJson } from '../wire.js';
import { type LoggedTask, readTaskLog, TaskLog } from './task-log.js';

const encodeRecord = toWireJson;
const decodeRecord = fromWireJson;

/** One checkpointed executor as recovery finds it. */
export interface RecoveredExecutor {
  frameworkId: string;
  info: mesos.v1.ExecutorInfo;
  /** The command task, for the built-in command executor. */
  commandTask?: mesos.v1.TaskInfo;
  containerId: string;
  pid?: number;
  /** The run ended (`executor.sentinel`): only its status update streams are recovered. */
  terminated: boolean;
  /** Tasks with their updates (the newest gives the task's state) and acknowledged uuids (hex). */
  tasks: RecoveredTask[];
}

export type RecoveredTask = LoggedTask;

export interface RecoveredState {
  agentId: string;
  /** The host rebooted since the checkpoint: no executor survived. */
  rebooted: boolean;
  frameworks: Map<string, mesos.v1.FrameworkInfo>;
  executors: RecoveredExecutor[];
}

/** Where a checkpointed task's records go: its run's log. */
export interface TaskCheckpoint {
  readonly log: TaskLog;
  readonly taskId: string;
}

export class Checkpoint {
  readonly #root: string;
  /** `<agentId>/<frameworkId>` → the `framework.info` last written (the object and its record). */
  readonly #frameworks = new Map<string, { info: mesos.v1.FrameworkInfo; record: string }>();
  /** Each executor run's task log, by the run's directory. */
  readonly #logs = new Map<string, TaskLog>();

  /** `workDir` is the agent's work dir; the checkpoint lives in `<workDir>/meta/slaves`. */
  constructor(workDir: string) {
    this.#root = join(workDir, 'meta', 'slaves');
  }

  /** Reads the last agent's state; undefined if there is none (a first start). */
  recover(): RecoveredState | undefined {
    let agentId: string;
    try {
      agentId = readlinkSync(join(this.#root, 'latest'));
    } catch {
      return undefined;
    }
    const bootId = readText(join(this.#root, '..', 'boot_id'));
    const rebooted = bootId !== undefined && bootId !== currentBootId();
    const state: RecoveredState = { agentId, rebooted, frameworks: new Map(), executors: [] };
    const frameworksDir = join(this.#root, agentId, 'frameworks');
    for (const frameworkId of list(frameworksDir)) {
      const dir = join(frameworksDir, frameworkId);
      const info = readJson<mesos.v1.FrameworkInfo>(join(dir, 'framework.info'));
      if (!info) continue;
      state.frameworks.set(frameworkId, info);
      for (const executorId of list(join(dir, 'executors'))) {
        const executorDir = join(dir, 'executors', executorId);
        const stored = readJson<{ info: mesos.v1.ExecutorInfo; commandTask?: mesos.v1.TaskInfo }>(
          join(executorDir, 'executor.info'),
        );
        let containerId: string;
        try {
          containerId = readlinkSync(join(executorDir, 'runs', 'latest'));
        } catch {
          continue;
        }
        if (!stored) continue;
        const runDir = join(executorDir, 'runs', containerId);
        const pidText = readText(join(runDir, 'pids', 'forked.pid'));
        const pid = pidText === undefined ? undefined : Number.parseInt(pidText, 10);
        const log = readTaskLog(runDir);
        this.#logs.set(runDir, new TaskLog(runDir, log));
        state.executors.push({
          frameworkId,
          info: stored.info,
          ...(stored.commandTask ? { commandTask: stored.commandTask } : {}),
          containerId,
          ...(pid !== undefined && Number.isSafeInteger(pid) && pid > 0 ? { pid } : {}),
          terminated: existsSync(join(runDir, 'executor.sentinel')),
          tasks: [...log.tasks.values()],
        });
      }
    }
    return state;
  }

  /**
   * The executor-token secret (Mesos takes it from `--jwt_secret_key`): kept in
   * `<workDir>/meta/jwt_secret` (mode 0600) so that tokens of running executors stay valid
   * across a restart. A new one unless recovering.
   */
  tokenSecret(recover: boolean): Uint8Array {
    const path = join(this.#root, '..', 'jwt_secret');
    if (recover) {
      try {
        const saved = readFileSync(path);
        if (saved.length >= 32) return saved;
      } catch {
        // none saved: make one
      }
    }
    const secret = randomBytes(32);
    mkdirSync(join(this.#root, '..'), { recursive: true });
    writeFileSync(path, secret, { mode: 0o600 });
    return secret;
  }

  /** Records the agent's id (and info) as the one to recover. */
  agent(agentId: string, info: mesos.v1.AgentInfo): void {
    mkdirSync(join(this.#root, agentId), { recursive: true });
    writeFileSync(join(this.#root, '..', 'boot_id'), currentBootId());
    writeFileSync(join(this.#root, agentId, 'slave.info'), encodeRecord(info));
    replaceLink(join(this.#root, 'latest'), agentId);
  }

  /**
   * Writes `framework.info` (the agent calls this for every task it runs, as Mesos does); an
   * unchanged info already written by this agent (the same object, or the same record) is not
   * written again.
   */
  framework(agentId: string, info: mesos.v1.FrameworkInfo): void {
    const key = `${agentId}/${info.id!.value}`;
    const written = this.#frameworks.get(key);
    if (written?.info === info) return;
    const record = encodeRecord(info);
    if (written?.record !== record) {
      const dir = join(this.#root, agentId, 'frameworks', info.id!.value);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'framework.info'), record);
    }
    this.#frameworks.set(key, { info, record });
  }

  /** A new executor run (before its process starts). */
  executor(
    agentId: string,
    frameworkId: string,
    info: mesos.v1.ExecutorInfo,
    containerId: string,
    commandTask: mesos.v1.TaskInfo | undefined,
  ): void {
    const dir = this.#executorDir(agentId, frameworkId, info.executor_id.value);
    mkdirSync(join(dir, 'runs', containerId, 'pids'), { recursive: true });
    writeFileSync(
      join(dir, 'executor.info'),
      encodeRecord({ info, ...(commandTask ? { commandTask } : {}) }),
    );
    // Mesos writes this for every executor (capture 17), saying whether it is a command executor.
    writeFileSync(join(dir, 'executor_generated_for_command_task'), String(commandTask !== undefined));
    replaceLink(join(dir, 'runs', 'latest'), containerId);
  }

  pid(agentId: string, frameworkId: string, executorId: string, containerId: string, pid: number): void {
    const dir = join(this.#executorDir(agentId, frameworkId, executorId), 'runs', containerId, 'pids');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'forked.pid'), String(pid));
  }

  /** The executor run ended. */
  terminated(agentId: string, frameworkId: string, executorId: string, containerId: string): void {
    const dir = join(this.#executorDir(agentId, frameworkId, executorId), 'runs', containerId);
    if (!existsSync(dir)) return;
    writeFileSync(join(dir, 'executor.sentinel'), '');
  }

  /** The executor subscribed over HTTP (Mesos records it for recovery). */
  httpMarker(agentId: string, frameworkId: string, executorId: string, containerId: string): void {
    const dir = join(this.#executorDir(agentId, frameworkId, executorId), 'runs', containerId);
    if (existsSync(dir)) writeFileSync(join(dir, 'http.marker'), '');
  }

  /** Records a task that reached the agent; returns where its updates and acks go. */
  task(
    agentId: string,
    frameworkId: string,
    executorId: string,
    containerId: string,
    task: mesos.v1.TaskInfo,
  ): TaskCheckpoint {
    const where = this.taskCheckpoint(agentId, frameworkId, executorId, containerId, task.task_id.value);
    where.log.task(task);
    return where;
  }

  /** Where the records of a task (a new one, or one recovery found) go. */
  taskCheckpoint(
    agentId: string,
    frameworkId: string,
    executorId: string,
    containerId: string,
    taskId: string,
  ): TaskCheckpoint {
    const dir = join(this.#executorDir(agentId, frameworkId, executorId), 'runs', containerId);
    let log = this.#logs.get(dir);
    if (log === undefined) {
      log = new TaskLog(dir);
      this.#logs.set(dir, log);
    }
    return { log, taskId };
  }

  update(where: TaskCheckpoint, status: mesos.v1.TaskStatus): void {
    where.log.update(status);
  }

  ack(where: TaskCheckpoint, uuid: Uint8Array): void {
    where.log.ack(where.taskId, uuid);
  }

  /** The task's terminal update was acknowledged: its records are no longer needed. */
  completed(where: TaskCheckpoint): void {
    where.log.completed(where.taskId);
  }

  /** The agent stopped: every log is closed, and closes again after any later record. */
  stop(): void {
    for (const log of this.#logs.values()) log.stop();
  }

  /** The framework was torn down: nothing of it is to be recovered. */
  removeFramework(agentId: string, frameworkId: string): void {
    this.#frameworks.delete(`${agentId}/${frameworkId}`);
    const dir = join(this.#root, agentId, 'frameworks', frameworkId);
    for (const [runDir, log] of this.#logs) {
      if (!runDir.startsWith(`${dir}/`)) continue;
      log.gone();
      this.#logs.delete(runDir);
    }
    // Moved out of the tree at once (recovery no longer sees it), deleted in the background:
    // a framework that ran many executors leaves many directories.
    const trash = join(this.#root, '..', 'trash');
    const target = join(trash, `${frameworkId}-${randomBytes(4).toString('hex')}`);
    try {
      mkdirSync(trash, { recursive: true });
      renameSync(dir, target);
    } catch {
      rmSync(dir, { recursive: true, force: true });
      return;
    }
    rm(target, { recursive: true, force: true })
      .then(() => rmdir(trash))
      .catch(() => {});
  }

  #executorDir(agentId: string, frameworkId: string, executorId: string): string {
    return join(this.#root, agentId, 'frameworks', frameworkId, 'executors', executorId);
  }
}

/** The kernel's boot id (Linux); elsewhere a constant, so no reboot is ever detected. */
function currentBootId(): string {
  return (readText('/proc/sys/kernel/random/boot_id') ?? 'unknown').trim();
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir).filter((name) => name !== 'latest');
  } catch {
    return [];
  }
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function readJson<T>(path: string): T | undefined {
  const text = readText(path);
  if (text === undefined) return undefined;
  try {
    return decodeRecord<T>(text);
  } catch {
    return undefined;
  }
}

function replaceLink(path: string, target: string): void {
  rmSync(path, { force: true });
  symlinkSync(target, path);
}
