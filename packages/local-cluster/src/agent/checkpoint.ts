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
 *   executors/<eid>/runs/<cid>/tasks/<tid>/task.info     TaskInfo
 *   executors/<eid>/runs/<cid>/tasks/<tid>/task.updates  one JSON record per line:
 *                                            {"update": TaskStatus} or {"ack": "<uuid hex>"}
 * ```
 *
 * A removed framework's tree is moved to `meta/trash/` at once and deleted in the background.
 * Files hold JSON (bytes as `{"$bytes": base64}`, 64-bit integers as `{"$int64": "…"}`), not
 * Mesos' protobuf, and are written synchronously, so an update is on disk before the executor
 * gets `ACKNOWLEDGED` (as Mesos checkpoints before acknowledging). A task's `task.updates` stays
 * open from its first record until its stream ends (as Mesos keeps a stream's file open).
 * Unreadable or partial files are skipped on recovery (Mesos' `--strict=false`), never fatal.
 */

import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmdirSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { rm, rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { mesos } from '@mesoskit/protocol';
import { uuidHex } from '../ids.js';
import { fromWireJson, toWireJson } from '../wire.js';

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
  tasks: RecoveredTask[];
}

export interface RecoveredTask {
  info: mesos.v1.TaskInfo;
  /** Every update received for the task, in order (the newest gives the task's state). */
  updates: mesos.v1.TaskStatus[];
  /** Uuids (hex) of the updates the scheduler acknowledged. */
  acked: Set<string>;
}

export interface RecoveredState {
  agentId: string;
  /** The host rebooted since the checkpoint: no executor survived. */
  rebooted: boolean;
  frameworks: Map<string, mesos.v1.FrameworkInfo>;
  executors: RecoveredExecutor[];
}

/**
 * A checkpointed task's `task.updates`: where it is, and its descriptor once the first record
 * was appended. `Checkpoint.close` closes it.
 */
export interface TaskUpdatesFile {
  readonly path: string;
  fd?: number;
}

export class Checkpoint {
  readonly #root: string;
  /** `<agentId>/<frameworkId>` → the `framework.info` last written (the object and its record). */
  readonly #frameworks = new Map<string, { info: mesos.v1.FrameworkInfo; record: string }>();
  /** The executor run of the latest task directory asked for, and its `tasks` directory. */
  #lastRun:
    | { agentId: string; frameworkId: string; executorId: string; containerId: string; tasksDir: string }
    | undefined;
  /** The `task.updates` files open. */
  readonly #open = new Set<TaskUpdatesFile>();
  #stopped = false;

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
        const tasks: RecoveredTask[] = [];
        for (const taskId of list(join(runDir, 'tasks'))) {
          const taskDir = join(runDir, 'tasks', taskId);
          const info = readJson<mesos.v1.TaskInfo>(join(taskDir, 'task.info'));
          if (!info) continue;
          const task: RecoveredTask = { info, updates: [], acked: new Set() };
          for (const line of (readText(join(taskDir, 'task.updates')) ?? '').split('\n')) {
            if (!line) continue;
            try {
              const record = decodeRecord<{ update?: mesos.v1.TaskStatus; ack?: string }>(line);
              if (record.update) task.updates.push(record.update);
              else if (record.ack) task.acked.add(record.ack);
            } catch {
              // A torn last line (the agent died while writing): the update was never acknowledged
              // to the executor, which will send it again.
            }
          }
          tasks.push(task);
        }
        state.executors.push({
          frameworkId,
          info: stored.info,
          ...(stored.commandTask ? { commandTask: stored.commandTask } : {}),
          containerId,
          ...(pid !== undefined && Number.isSafeInteger(pid) && pid > 0 ? { pid } : {}),
          terminated: existsSync(join(runDir, 'executor.sentinel')),
          tasks,
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

  /** Writes the task's `task.info`; returns its `task.updates` (not opened yet). */
  task(
    agentId: string,
    frameworkId: string,
    executorId: string,
    containerId: string,
    task: mesos.v1.TaskInfo,
  ): TaskUpdatesFile {
    const dir = this.#taskDir(agentId, frameworkId, executorId, containerId, task.task_id.value);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'task.info'), encodeRecord(task));
    return { path: join(dir, 'task.updates') };
  }

  /** The `task.updates` of a task found by recovery. */
  recoveredTask(
    agentId: string,
    frameworkId: string,
    executorId: string,
    containerId: string,
    taskId: string,
  ): TaskUpdatesFile {
    return {
      path: join(this.#taskDir(agentId, frameworkId, executorId, containerId, taskId), 'task.updates'),
    };
  }

  update(file: TaskUpdatesFile, status: mesos.v1.TaskStatus): void {
    this.#append(file, `${encodeRecord({ update: status })}\n`);
  }

  ack(file: TaskUpdatesFile, uuid: Uint8Array): void {
    this.#append(file, `${encodeRecord({ ack: uuidHex(uuid) })}\n`);
  }

  /** The task's stream ended: its `task.updates` is closed. */
  close(file: TaskUpdatesFile): void {
    if (file.fd === undefined) return;
    closeSync(file.fd);
    delete file.fd;
    this.#open.delete(file);
  }

  /**
   * Removes a completed task's directory: its two files and itself, three syscalls (a recursive
   * removal costs a stat per entry more); anything unexpected in it is removed in the background.
   */
  removeTask(file: TaskUpdatesFile): void {
    this.close(file);
    const dir = dirname(file.path);
    for (const path of [file.path, join(dir, 'task.info')]) {
      try {
        unlinkSync(path);
      } catch {
        // not written (or already gone): rmdir below says whether anything is left
      }
    }
    try {
      rmdirSync(dir);
    } catch {
      rm(dir, { recursive: true, force: true }).catch(() => {});
    }
  }

  /** The agent stopped: every open `task.updates` is closed, and later records close theirs. */
  stop(): void {
    this.#stopped = true;
    for (const file of this.#open) this.close(file);
  }

  /**
   * Appends to a task's `task.updates`, opening it on the first record; nothing if the task's
   * directory is gone (removed framework).
   */
  #append(file: TaskUpdatesFile, record: string): void {
    if (file.fd === undefined) {
      try {
        file.fd = openSync(file.path, 'a');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        return;
      }
      this.#open.add(file);
    }
    writeFileSync(file.fd, record); // at the end (the file is open for appending), all of it
    if (this.#stopped) this.close(file);
  }

  /** The framework was torn down: nothing of it is to be recovered. */
  removeFramework(agentId: string, frameworkId: string): void {
    this.#frameworks.delete(`${agentId}/${frameworkId}`);
    const dir = join(this.#root, agentId, 'frameworks', frameworkId);
    for (const file of this.#open) if (file.path.startsWith(`${dir}/`)) this.close(file);
    // Moved out of the tree at once (recovery no longer sees it), deleted in the background:
    // a framework that ran many tasks leaves many directories.
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

  #taskDir(
    agentId: string,
    frameworkId: string,
    executorId: string,
    containerId: string,
    taskId: string,
  ): string {
    let run = this.#lastRun;
    if (
      run?.agentId !== agentId ||
      run.frameworkId !== frameworkId ||
      run.executorId !== executorId ||
      run.containerId !== containerId
    ) {
      const tasksDir = join(
        this.#executorDir(agentId, frameworkId, executorId),
        'runs',
        containerId,
        'tasks',
      );
      run = { agentId, frameworkId, executorId, containerId, tasksDir };
      this.#lastRun = run;
    }
    return join(run.tasksDir, taskId);
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
