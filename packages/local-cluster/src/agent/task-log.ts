/**
 * The checkpoint of one executor run's tasks: a single append-only file, `tasks.log`, in the
 * run's checkpoint directory, where Mesos keeps a directory per task (`tasks/<id>/task.info`
 * and `task.updates`). One write per record, no file or directory per task: the per-task tree
 * cost 11 system calls per task (mkdir, two files opened, written and closed, then removed),
 * about a third of the local cluster's CPU per task.
 *
 * The file is a sequence of RecordIO records (`<decimal length>\n<bytes>`). Each record is a
 * kind byte, the task id (2-byte big-endian length, UTF-8), and the kind's body:
 *
 * | kind | body | written |
 * |---|---|---|
 * | `T` | executor `Event` LAUNCH with the TaskInfo (protobuf) | the task reached the agent |
 * | `U` | scheduler `Event` UPDATE with the TaskStatus (protobuf) | an update was received |
 * | `A` | the acknowledged update's 16 uuid bytes | the scheduler acknowledged it |
 * | `C` | none | the task completed (compaction only) |
 *
 * A task is live from its `T` record until its terminal update is acknowledged; then it is
 * completed and its records become garbage: a completed task is remembered by id only (`C`),
 * as long as the agent remembers it (its last 1,000 per executor). Once the garbage outweighs
 * the live records (and 1 MiB), the file is rewritten: the live tasks' records, then a `C` per
 * remembered task, into `tasks.log.tmp`, renamed over `tasks.log` (atomic: a crash leaves one
 * or the other). The rewrite reads and writes in 1 MiB pieces.
 *
 * Records are written once per event loop iteration, all of a log's in one `writev`, before
 * anything leaves the process: `flushTaskLogs()` runs ahead of the servers' coalesced socket
 * writes and of the agent's calls to a remote master, so an update is on disk before the
 * executor gets `ACKNOWLEDGED` and before the master hears of it, as in Mesos.
 *
 * A torn last record (the agent died while appending) ends the file for recovery: its update
 * was never acknowledged to the executor, which sends it again.
 */
import {
  closeSync,
  openSync,
  readSync,
  renameSync,
  statSync,
  truncateSync,
  writeSync,
  writevSync,
} from 'node:fs';
import { executorEvent, type mesos, RecordIODecoder, schedulerEvent } from '@mesoskit/protocol';
import { beforeSocketWrites } from '../http.js';
import { uuidHex } from '../ids.js';

export const TASK_LOG = 'tasks.log';

/** Garbage below this is never worth a rewrite. */
const COMPACT_MIN_BYTES = 1024 * 1024;
/** Read and write size of a rewrite. */
const COPY_BYTES = 1024 * 1024;
/** Records are never larger than what an agent accepts in a call (a TaskInfo with its data). */
const MAX_RECORD_BYTES = 128 * 1024 * 1024;

const TASK = 0x54; // 'T'
const UPDATE = 0x55; // 'U'
const ACK = 0x41; // 'A'
const COMPLETED = 0x43; // 'C'

/** A task as recovery finds it in a run's log. */
export interface LoggedTask {
  info: mesos.v1.TaskInfo;
  /** Every update received for the task, in order. */
  updates: mesos.v1.TaskStatus[];
  /** Uuids (hex) of the acknowledged updates. */
  acked: Set<string>;
}

/** What a run's log holds. */
export interface LogContents {
  /** Tasks with their records, in the order of their `T` records. */
  tasks: Map<string, LoggedTask>;
  /** Ids of completed tasks remembered by id only. */
  completed: string[];
}

/** A log as recovery read it ({@link readTaskLog}). */
export interface RecoveredLog {
  contents: LogContents;
  /** Bytes of each task's records. */
  bytes: Map<string, number>;
  /** Bytes of the whole records: the file's size once a torn end was cut off. */
  size: number;
}

/**
 * Keeps a bounded number of logs' files open: the runs that wrote last (usually one per agent).
 * One per process, shared by its agents.
 */
class OpenLogs {
  readonly #open = new Set<TaskLog>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  /** `log` is about to write: it goes to the end of the line, the first in line is closed. */
  use(log: TaskLog): void {
    this.#open.delete(log);
    this.#open.add(log);
    if (this.#open.size > this.#max) {
      const oldest = this.#open.values().next().value!;
      this.#open.delete(oldest);
      oldest.close();
    }
  }

  closed(log: TaskLog): void {
    this.#open.delete(log);
  }
}

const openLogs = new OpenLogs(64);

/** Logs with records not written yet. */
const dirty = new Set<TaskLog>();
let flushScheduled = false;

/**
 * Writes every log's pending records. Runs at the end of the event loop iteration, and before
 * anything leaves the process (the servers' coalesced writes, the agent's calls to a remote
 * master), so that nothing is said about a record that is not on disk yet.
 */
export function flushTaskLogs(): void {
  flushScheduled = false;
  if (dirty.size === 0) return;
  const logs = [...dirty];
  dirty.clear();
  for (const log of logs) log.flush();
}

beforeSocketWrites(flushTaskLogs);

/** Most buffers per `writev` (Linux' IOV_MAX). */
const MAX_IOV = 1024;
/** Pending bytes past which a log writes at once. */
const MAX_PENDING_BYTES = 4 * 1024 * 1024;

export class TaskLog {
  readonly path: string;
  #fd: number | undefined;
  /** Bytes in the file. */
  #bytes = 0;
  /** Bytes of the records of completed tasks (dropped by the next rewrite). */
  #garbage = 0;
  /** Live tasks and the bytes of their records. */
  readonly #live = new Map<string, number>();
  /** Completed tasks still remembered (rewritten as `C` records). */
  readonly #completed = new Set<string>();
  /** The run ended: its completed tasks are no longer tracked (nothing more to rewrite). */
  #ended = false;
  /** The file's directory is gone (framework removed): records are not written. */
  #gone = false;
  /** The agent stopped: the file is closed after each record. */
  #stopped = false;
  /** Records appended and not written yet (head and body buffers), and their bytes. */
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;

  /** A new run's log, or (`recovered`) one read back by {@link readTaskLog}. */
  constructor(path: string, recovered?: RecoveredLog) {
    this.path = path;
    if (recovered) {
      this.#bytes = recovered.size;
      for (const [taskId, bytes] of recovered.bytes) {
        if (recovered.contents.tasks.has(taskId)) this.#live.set(taskId, bytes);
        else this.#garbage += bytes;
      }
      for (const taskId of recovered.contents.completed) this.#completed.add(taskId);
    }
  }

  task(info: mesos.v1.TaskInfo): void {
    const body = executorEvent.encode({ type: 'LAUNCH', launch: { task: info } }, 'protobuf');
    this.#append(TASK, info.task_id.value, body);
  }

  update(status: mesos.v1.TaskStatus): void {
    const body = schedulerEvent.encode({ type: 'UPDATE', update: { status } }, 'protobuf');
    this.#append(UPDATE, status.task_id.value, body);
  }

  ack(taskId: string, uuid: Uint8Array): void {
    this.#append(ACK, taskId, uuid);
  }

  /** The task's terminal update was acknowledged: its records are garbage, its id remembered. */
  completed(taskId: string): void {
    const bytes = this.#live.get(taskId);
    if (bytes === undefined) return;
    this.#live.delete(taskId);
    this.#garbage += bytes;
    if (!this.#ended) this.#completed.add(taskId);
    this.#maybeCompact();
  }

  /** The agent no longer remembers the completed task. */
  forget(taskId: string): void {
    this.#completed.delete(taskId);
  }

  /** The executor run ended: updates of its tasks may still come, but it starts no more. */
  ended(): void {
    this.#ended = true;
    this.#completed.clear();
  }

  /** The directory is gone: nothing more is written (what is pending neither). */
  gone(): void {
    this.#gone = true;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.close();
  }

  /** The agent stopped: the file is closed, and closed again after any later record. */
  stop(): void {
    this.#stopped = true;
    this.close();
  }

  /** Writes the pending records. */
  flush(): void {
    dirty.delete(this);
    if (this.#pendingBytes === 0 || this.#gone) return;
    const pending = this.#pending;
    const bytes = this.#pendingBytes;
    this.#pending = [];
    this.#pendingBytes = 0;
    const fd = this.#open();
    if (fd === undefined) return;
    for (let i = 0; i < pending.length; i += MAX_IOV) {
      writeAll(fd, pending.slice(i, i + MAX_IOV));
    }
    this.#bytes += bytes;
    if (this.#stopped) this.close();
  }

  /** Writes what is pending and closes the file (it opens again for the next record). */
  close(): void {
    this.flush();
    if (this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
    openLogs.closed(this);
  }

  #append(kind: number, taskId: string, body: Uint8Array): void {
    if (this.#gone) return;
    const id = Buffer.from(taskId);
    const payload = 1 + 2 + id.length + body.length;
    const prefix = `${payload}\n`;
    const head = Buffer.allocUnsafe(prefix.length + 3 + id.length);
    head.write(prefix, 0, 'latin1');
    head[prefix.length] = kind;
    head.writeUInt16BE(id.length, prefix.length + 1);
    id.copy(head, prefix.length + 3);
    this.#pending.push(head, body);
    const size = head.length + body.length;
    this.#pendingBytes += size;
    const live = this.#live.get(taskId);
    if (live !== undefined) this.#live.set(taskId, live + size);
    else if (kind === TASK) this.#live.set(taskId, size);
    else this.#garbage += size; // a late record of a completed task
    if (this.#pendingBytes >= MAX_PENDING_BYTES) {
      this.flush();
      return;
    }
    dirty.add(this);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flushTaskLogs);
    }
  }

  #open(): number | undefined {
    if (this.#fd === undefined) {
      try {
        this.#fd = openSync(this.path, 'a');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        this.#gone = true; // the run's directory was removed
        return undefined;
      }
    }
    openLogs.use(this);
    return this.#fd;
  }

  #maybeCompact(): void {
    const bytes = this.#bytes + this.#pendingBytes;
    if (this.#garbage < COMPACT_MIN_BYTES || this.#garbage < bytes - this.#garbage) return;
    this.close();
    const tmp = `${this.path}.tmp`;
    const out = openSync(tmp, 'w');
    let written = 0;
    try {
      const pending: Uint8Array[] = [];
      let pendingBytes = 0;
      const flush = (): void => {
        if (pendingBytes === 0) return;
        writeAll(out, [Buffer.concat(pending, pendingBytes)]);
        written += pendingBytes;
        pending.length = 0;
        pendingBytes = 0;
      };
      const keep = (record: Uint8Array): void => {
        const prefix = Buffer.from(`${record.length}\n`, 'latin1');
        pending.push(prefix, record);
        pendingBytes += prefix.length + record.length;
        if (pendingBytes >= COPY_BYTES) flush();
      };
      readRecords(this.path, (record, kind, taskId) => {
        if (kind !== COMPLETED && this.#live.has(taskId)) keep(record);
      });
      for (const taskId of this.#completed) keep(completedRecord(taskId));
      flush();
    } finally {
      closeSync(out);
    }
    renameSync(tmp, this.path);
    this.#bytes = written;
    this.#garbage = 0;
  }
}

/** A `C` record's payload. */
function completedRecord(taskId: string): Uint8Array {
  const id = Buffer.from(taskId);
  const out = Buffer.allocUnsafe(3 + id.length);
  out[0] = COMPLETED;
  out.writeUInt16BE(id.length, 1);
  id.copy(out, 3);
  return out;
}

/** Writes all of `buffers` (one system call unless the kernel takes less). */
function writeAll(fd: number, buffers: readonly Uint8Array[]): void {
  let total = 0;
  for (const b of buffers) total += b.length;
  const done = buffers.length === 1 ? writeSync(fd, buffers[0]!) : writevSync(fd, buffers as Uint8Array[]);
  if (done === total) return;
  let rest = Buffer.concat(buffers as Uint8Array[]).subarray(done);
  while (rest.length > 0) rest = rest.subarray(writeSync(fd, rest));
}

/**
 * Calls `onRecord` for every whole record of the log at `path`, in order, reading it in 1 MiB
 * pieces; stops at a torn or malformed record. Returns the bytes of whole records read.
 */
export function readRecords(
  path: string,
  onRecord: (record: Uint8Array, kind: number, taskId: string, body: Uint8Array) => void,
): number {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return 0;
  }
  let whole = 0;
  try {
    const decoder = new RecordIODecoder({ maxRecordBytes: MAX_RECORD_BYTES });
    for (;;) {
      const chunk = Buffer.allocUnsafe(COPY_BYTES);
      const n = readSync(fd, chunk, 0, COPY_BYTES, null);
      if (n === 0) break;
      let records: Uint8Array[];
      try {
        records = decoder.push(chunk.subarray(0, n));
      } catch {
        break; // malformed framing: what follows cannot be trusted
      }
      for (const record of records) {
        if (record.length < 3) return whole;
        const idLength = (record[1]! << 8) | record[2]!;
        if (record.length < 3 + idLength) return whole;
        const taskId = Buffer.from(record.buffer, record.byteOffset + 3, idLength).toString();
        onRecord(record, record[0]!, taskId, record.subarray(3 + idLength));
        whole += String(record.length).length + 1 + record.length;
      }
    }
  } finally {
    closeSync(fd);
  }
  return whole;
}

/**
 * Reads a run's log for recovery: its tasks (records that do not decode are skipped) and the
 * completed ids. A torn end is cut off, so that records appended later can be read.
 */
export function readTaskLog(path: string): RecoveredLog {
  const tasks = new Map<string, LoggedTask>();
  const completed = new Set<string>();
  const bytes = new Map<string, number>();
  const size = readRecords(path, (record, kind, taskId, body) => {
    bytes.set(taskId, (bytes.get(taskId) ?? 0) + String(record.length).length + 1 + record.length);
    try {
      switch (kind) {
        case TASK: {
          const info = executorEvent.decode(body, 'protobuf').launch?.task;
          if (info) tasks.set(taskId, { info, updates: [], acked: new Set() });
          break;
        }
        case UPDATE: {
          const status = schedulerEvent.decode(body, 'protobuf').update?.status;
          if (status) tasks.get(taskId)?.updates.push(status);
          break;
        }
        case ACK:
          tasks.get(taskId)?.acked.add(uuidHex(body));
          break;
        case COMPLETED:
          completed.add(taskId);
          break;
      }
    } catch {
      // a record that does not decode is skipped, as Mesos skips unreadable files
    }
  });
  for (const taskId of tasks.keys()) completed.delete(taskId);
  try {
    if (statSync(path).size > size) truncateSync(path, size);
  } catch {
    // no log (a run without tasks)
  }
  return { contents: { tasks, completed: [...completed] }, bytes, size };
}
