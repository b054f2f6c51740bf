/**
 * The checkpoint of one executor run's tasks: append-only segment files, `tasks.<n>.log`, in the
 * run's checkpoint directory, where Mesos keeps a directory per task (`tasks/<id>/task.info` and
 * `task.updates`). Records are appended, no file or directory is made per task: the per-task
 * tree cost 11 system calls per task (mkdir, two files opened, written and closed, then
 * removed), about a third of the local cluster's CPU per task.
 *
 * A segment is a sequence of RecordIO records (`<decimal length>\n<bytes>`). Each record is a
 * kind byte, the task id (2-byte big-endian length, UTF-8), and the kind's body:
 *
 * | kind | body | written when |
 * |---|---|---|
 * | `T` | executor `Event` LAUNCH with the TaskInfo (protobuf) | the task reached the agent |
 * | `U` | scheduler `Event` UPDATE with the TaskStatus (protobuf) | an update was received |
 * | `A` | the acknowledged update's 16 uuid bytes | the scheduler acknowledged it |
 *
 * A task is live from its `T` record until its terminal update is acknowledged. A new segment
 * starts once the current one holds 4 MiB; a segment in which no live task has records any more
 * is deleted (one `unlink` for thousands of small tasks). A task that lives long pins its
 * segments: once the segments hold more than twice the live records and 32 MiB, the live tasks
 * of the oldest segment are copied to the current one, and it is deleted. So the files stay
 * within about twice what the live tasks need, and nothing is read back while tasks just come
 * and go.
 *
 * Records are written once per event loop iteration, all of a log's in one `writev`, before
 * anything leaves the process: `flushTaskLogs()` runs ahead of the servers' coalesced socket
 * writes and of the agent's calls to a remote master, so an update is on disk before the
 * executor gets `ACKNOWLEDGED` and before the master hears of it, as in Mesos.
 *
 * Recovery reads the segments in order; a torn last record (the agent died while appending)
 * ends its segment: its update was never acknowledged to the executor, which sends it again. A
 * recovered log appends to a new segment.
 */
import { closeSync, openSync, readdirSync, readSync, unlinkSync, writeSync, writevSync } from 'node:fs';
import { join } from 'node:path';
import { executorEvent, type mesos, RecordIODecoder, schedulerEvent } from '@mesoskit/protocol';
import { beforeSocketWrites } from '../http.js';
import { uuidHex } from '../ids.js';

/** A segment starts a new one once it holds this many bytes. */
const SEGMENT_BYTES = 4 * 1024 * 1024;
/** Segments beyond twice the live records and this are compacted (oldest first). */
const SLACK_BYTES = 8 * SEGMENT_BYTES;
/** Read size of recovery and compaction. */
const READ_BYTES = 1024 * 1024;
/** Records are never larger than what an agent accepts in a call (a TaskInfo with its data). */
const MAX_RECORD_BYTES = 128 * 1024 * 1024;
/** Most buffers per `writev` (Linux' IOV_MAX). */
const MAX_IOV = 1024;
/** Pending bytes past which a log writes at once. */
const MAX_PENDING_BYTES = 4 * 1024 * 1024;

const TASK = 0x54; // 'T'
const UPDATE = 0x55; // 'U'
const ACK = 0x41; // 'A'

const SEGMENT_NAME = /^tasks\.(\d+)\.log$/;
const segmentName = (n: number): string => `tasks.${n}.log`;

/** A task as recovery finds it in a run's log. */
export interface LoggedTask {
  info: mesos.v1.TaskInfo;
  /** Every update received for the task, in order. */
  updates: mesos.v1.TaskStatus[];
  /** Uuids (hex) of the acknowledged updates. */
  acked: Set<string>;
}

/** A run's log as recovery read it ({@link readTaskLog}). */
export interface RecoveredLog {
  /** Tasks with their records, in the order of their `T` records. */
  tasks: Map<string, LoggedTask>;
  /** The segments, oldest first, with the tasks that have records in each and their bytes. */
  segments: { n: number; bytes: number; tasks: Map<string, number> }[];
}

interface Segment {
  readonly n: number;
  readonly path: string;
  /** Bytes written and pending. */
  bytes: number;
  /** Live tasks with records in this segment. */
  readonly live: Set<string>;
}

interface LiveTask {
  /** The segments holding its records, oldest first. */
  segments: Segment[];
  /** Bytes of its records. */
  bytes: number;
}

// ------------------------------------------------------------------ open files, flushing

/**
 * Keeps a bounded number of logs' files open: the runs that wrote last (usually one per agent).
 * One per process, shared by its agents.
 */
class OpenLogs {
  readonly #open = new Set<TaskLog>();
  readonly #max: number;
  #closing = false;

  constructor(max: number) {
    this.#max = max;
  }

  /**
   * `log` is about to write: it goes to the end of the line, and the first in line are closed
   * while there are too many (closing writes what a log has pending, which uses it once more:
   * that does not close others).
   */
  use(log: TaskLog): void {
    this.#open.delete(log);
    this.#open.add(log);
    if (this.#closing) return;
    this.#closing = true;
    try {
      while (this.#open.size > this.#max) {
        const oldest = this.#open.values().next().value!;
        this.#open.delete(oldest);
        oldest.close();
      }
    } finally {
      this.#closing = false;
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

// ------------------------------------------------------------------ the log

export class TaskLog {
  /** The run's checkpoint directory. */
  readonly dir: string;
  readonly #segments: Segment[] = [];
  /** The segment records are appended to; none until the first record. */
  #current: Segment | undefined;
  #fd: number | undefined;
  readonly #live = new Map<string, LiveTask>();
  /** Bytes of the live tasks' records, and of every segment. */
  #liveBytes = 0;
  #totalBytes = 0;
  /** The directory is gone (framework removed): records are not written. */
  #gone = false;
  /** The agent stopped: the file is closed after each write. */
  #stopped = false;
  /** Records appended to the current segment and not written yet, and their bytes. */
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;

  /** A new run's log, or (`recovered`) one read back by {@link readTaskLog}. */
  constructor(dir: string, recovered?: RecoveredLog) {
    this.dir = dir;
    for (const found of recovered?.segments ?? []) {
      const segment: Segment = {
        n: found.n,
        path: join(dir, segmentName(found.n)),
        bytes: found.bytes,
        live: new Set(),
      };
      this.#segments.push(segment);
      this.#totalBytes += found.bytes;
      for (const [taskId, bytes] of found.tasks) {
        if (!recovered!.tasks.has(taskId)) continue; // records of a task whose TaskInfo is gone
        let task = this.#live.get(taskId);
        if (task === undefined) {
          task = { segments: [], bytes: 0 };
          this.#live.set(taskId, task);
        }
        task.segments.push(segment);
        task.bytes += bytes;
        this.#liveBytes += bytes;
        segment.live.add(taskId);
      }
    }
    // Segments with no task left to recover (records of tasks whose TaskInfo is gone).
    for (const segment of [...this.#segments]) if (segment.live.size === 0) this.#delete(segment);
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

  /**
   * The task's terminal update was acknowledged: its records are no longer needed. Segments
   * left without live records are deleted; compacts if the segments outgrew the live records.
   */
  completed(taskId: string): void {
    const task = this.#live.get(taskId);
    if (task === undefined) return;
    this.#live.delete(taskId);
    this.#liveBytes -= task.bytes;
    for (const segment of task.segments) {
      segment.live.delete(taskId);
      if (segment.live.size === 0 && segment !== this.#current) this.#delete(segment);
    }
    if (this.#totalBytes > 2 * this.#liveBytes + SLACK_BYTES) this.#compact();
  }

  /** The directory is gone: nothing more is written (what is pending neither). */
  gone(): void {
    this.#gone = true;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.close();
  }

  /** The agent stopped: the file is closed, and closed again after any later write. */
  stop(): void {
    this.#stopped = true;
    this.close();
  }

  /** Writes the pending records. */
  flush(): void {
    dirty.delete(this);
    if (this.#pendingBytes === 0 || this.#gone) return;
    const pending = this.#pending;
    this.#pending = [];
    this.#pendingBytes = 0;
    const fd = this.#open();
    if (fd === undefined) return;
    for (let i = 0; i < pending.length; i += MAX_IOV) writeAll(fd, pending.slice(i, i + MAX_IOV));
    if (this.#stopped) this.close();
  }

  /** Writes what is pending and closes the file (it opens again for the next write). */
  close(): void {
    this.flush();
    if (this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
    openLogs.closed(this);
  }

  /** Appends a record (`head` is made here) to the current segment, a new one if it is full. */
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
    this.#appendRecord(kind, taskId, head, body);
  }

  #appendRecord(kind: number, taskId: string, head: Uint8Array, body: Uint8Array): void {
    let segment = this.#current;
    if (segment === undefined || segment.bytes >= SEGMENT_BYTES) segment = this.#startSegment();
    const size = head.length + body.length;
    this.#pending.push(head, body);
    this.#pendingBytes += size;
    segment.bytes += size;
    this.#totalBytes += size;
    let task = this.#live.get(taskId);
    if (task === undefined && kind === TASK) {
      task = { segments: [], bytes: 0 };
      this.#live.set(taskId, task);
    }
    // A record of a task that is not live (a late duplicate of a completed one) is kept by
    // nothing: it goes with its segment.
    if (task !== undefined) {
      if (task.segments.at(-1) !== segment) {
        task.segments.push(segment);
        segment.live.add(taskId);
      }
      task.bytes += size;
      this.#liveBytes += size;
    }
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

  /** Ends the current segment (its pending records written) and starts the next. */
  #startSegment(): Segment {
    const previous = this.#current;
    if (previous !== undefined) {
      this.close();
      if (previous.live.size === 0) this.#delete(previous);
    }
    const n = (this.#segments.at(-1)?.n ?? 0) + 1;
    const segment: Segment = { n, path: join(this.dir, segmentName(n)), bytes: 0, live: new Set() };
    this.#segments.push(segment);
    this.#current = segment;
    return segment;
  }

  #delete(segment: Segment): void {
    const at = this.#segments.indexOf(segment);
    if (at === -1) return;
    this.#segments.splice(at, 1);
    this.#totalBytes -= segment.bytes;
    if (this.#gone) return;
    try {
      unlinkSync(segment.path);
    } catch {
      // already gone
    }
  }

  /**
   * Copies the records of the oldest segment's live tasks (all of each task's records, from
   * every segment it has some in) to the current segment, and deletes the segments that no
   * longer hold any live record.
   */
  #compact(): void {
    const oldest = this.#segments[0];
    if (oldest === undefined || oldest === this.#current) return;
    this.flush();
    const moving = new Set(oldest.live);
    const sources = new Set<Segment>();
    for (const taskId of moving) for (const s of this.#live.get(taskId)!.segments) sources.add(s);
    const records: { kind: number; taskId: string; record: Uint8Array }[] = [];
    for (const source of [...sources].sort((a, b) => a.n - b.n)) {
      if (source === this.#current) this.close();
      readRecords(source.path, (record, kind, taskId) => {
        if (moving.has(taskId)) records.push({ kind, taskId, record });
      });
    }
    for (const taskId of moving) {
      const task = this.#live.get(taskId)!;
      for (const s of task.segments) s.live.delete(taskId);
      this.#liveBytes -= task.bytes;
      this.#live.delete(taskId);
    }
    for (const { kind, taskId, record } of records) {
      this.#appendRecord(kind, taskId, Buffer.from(`${record.length}\n`, 'latin1'), record);
    }
    this.flush(); // the copies on disk before the originals go
    for (const s of [...this.#segments]) if (s.live.size === 0 && s !== this.#current) this.#delete(s);
  }

  #open(): number | undefined {
    if (this.#fd === undefined) {
      try {
        this.#fd = openSync(this.#current!.path, 'a');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        this.#gone = true; // the run's directory was removed
        return undefined;
      }
    }
    openLogs.use(this);
    return this.#fd;
  }
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

// ------------------------------------------------------------------ reading

/**
 * Calls `onRecord` for every whole record of the segment at `path`, in order, reading it in
 * 1 MiB pieces; stops at a torn or malformed record.
 */
export function readRecords(
  path: string,
  onRecord: (record: Uint8Array, kind: number, taskId: string, body: Uint8Array) => void,
): void {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return;
  }
  try {
    const decoder = new RecordIODecoder({ maxRecordBytes: MAX_RECORD_BYTES });
    for (;;) {
      const chunk = Buffer.allocUnsafe(READ_BYTES);
      const n = readSync(fd, chunk, 0, READ_BYTES, null);
      if (n === 0) return;
      let records: Uint8Array[];
      try {
        records = decoder.push(chunk.subarray(0, n));
      } catch {
        return; // malformed framing: what follows cannot be trusted
      }
      for (const record of records) {
        if (record.length < 3) return;
        const idLength = (record[1]! << 8) | record[2]!;
        if (record.length < 3 + idLength) return;
        const taskId = Buffer.from(record.buffer, record.byteOffset + 3, idLength).toString();
        onRecord(record, record[0]!, taskId, record.subarray(3 + idLength));
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** A record's size on disk, its RecordIO prefix included. */
const recordSize = (record: Uint8Array): number => String(record.length).length + 1 + record.length;

/**
 * Reads a run's log for recovery: its segments in order, the tasks found (records that do not
 * decode are skipped), and which tasks have records in which segment.
 */
export function readTaskLog(dir: string): RecoveredLog {
  const tasks = new Map<string, LoggedTask>();
  const segments: RecoveredLog['segments'] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    names = [];
  }
  const numbers = names
    .map((name) => SEGMENT_NAME.exec(name)?.[1])
    .filter((n): n is string => n !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
  for (const n of numbers) {
    const found = { n, bytes: 0, tasks: new Map<string, number>() };
    segments.push(found);
    readRecords(join(dir, segmentName(n)), (record, kind, taskId, body) => {
      const size = recordSize(record);
      found.bytes += size;
      found.tasks.set(taskId, (found.tasks.get(taskId) ?? 0) + size);
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
        }
      } catch {
        // a record that does not decode is skipped, as Mesos skips unreadable files
      }
    });
  }
  return { tasks, segments };
}
