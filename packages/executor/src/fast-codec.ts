/**
 * Hand-written protobuf for the two messages every task costs: the `UPDATE` call the executor
 * sends and the `ACKNOWLEDGED` event it gets back. Both are small and fixed in shape, so writing
 * and reading the bytes directly is several times cheaper than the general codec, which walks
 * the schema. Anything outside the shape handled here goes to the general codec (`undefined` is
 * returned), and the unit tests check both paths give the same bytes and values.
 *
 * Field numbers (mesos/v1/executor/executor.proto, mesos/v1/mesos.proto): `Call` executor_id 1,
 * framework_id 2, type 3 (UPDATE = 2), update 5 → status 1; `TaskStatus` task_id 1, state 2,
 * data 3, message 4, timestamp 6 (double), executor_id 7, source 9, reason 10, uuid 11;
 * `Event` type 1 (ACKNOWLEDGED = 4), acknowledged 3 → task_id 1, uuid 2. Fields are written in
 * field-number order, as the general codec and Mesos do.
 *
 * @module
 */
import type { ExecutorEvent, TaskStatus } from '@mesoskit/protocol';

const STATE_NUMBERS: Readonly<Record<string, number>> = {
  TASK_STARTING: 0,
  TASK_RUNNING: 1,
  TASK_FINISHED: 2,
  TASK_FAILED: 3,
  TASK_KILLED: 4,
  TASK_KILLING: 8,
};
const REASON_NUMBERS: Readonly<Record<string, number>> = {
  REASON_TASK_INVALID: 14,
  REASON_TASK_KILLED_DURING_LAUNCH: 30,
};
const SOURCE_EXECUTOR = 2;
const CALL_UPDATE = 2;

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeVarint(b: Buffer, p: number, n: number): number {
  while (n >= 0x80) {
    b[p++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  b[p++] = n;
  return p;
}

/** The size of a length-delimited field with a one-byte tag. */
function fieldSize(length: number): number {
  return 1 + varintSize(length) + length;
}

/** Writes `ID { value = 1 }` as field `tag`. */
function idField(tag: number, value: string): Buffer {
  const v = Buffer.from(value, 'utf8');
  const inner = fieldSize(v.length);
  const b = Buffer.allocUnsafe(fieldSize(inner));
  let p = 0;
  b[p++] = tag;
  p = writeVarint(b, p, inner);
  b[p++] = 0x0a;
  p = writeVarint(b, p, v.length);
  v.copy(b, p);
  return b;
}

/** Encodes `UPDATE` calls of one executor in protobuf. */
export class UpdateEncoder {
  /** `executor_id`, `framework_id` and `type: UPDATE` of the call. */
  readonly #prefix: Buffer;
  /** `executor_id` (field 7) of the status. */
  readonly #executorIdField: Buffer;
  readonly #executorId: string;

  constructor(executorId: string, frameworkId: string) {
    this.#executorId = executorId;
    this.#prefix = Buffer.concat([
      idField(0x0a, executorId),
      idField(0x12, frameworkId),
      Buffer.of(0x18, CALL_UPDATE),
    ]);
    this.#executorIdField = idField(0x3a, executorId);
  }

  /**
   * The call's bytes, or `undefined` when the status has a field or value this encoder does
   * not write (use the general codec then). With `httpHead` (an HTTP request head up to and
   * including `Content-Length: `), the whole request: head, length, blank line, body, in one
   * buffer.
   */
  encode(status: TaskStatus, httpHead?: Buffer): Buffer | undefined {
    const state = STATE_NUMBERS[status.state];
    const reason = status.reason === undefined ? -1 : REASON_NUMBERS[status.reason];
    const uuid = status.uuid;
    if (
      state === undefined ||
      reason === undefined ||
      uuid === undefined ||
      uuid.length !== 16 ||
      status.source !== 'SOURCE_EXECUTOR' ||
      status.executor_id?.value !== this.#executorId ||
      typeof status.timestamp !== 'number' ||
      status.agent_id !== undefined ||
      status.healthy !== undefined ||
      status.labels !== undefined ||
      status.check_status !== undefined ||
      status.container_status !== undefined ||
      status.unreachable_time !== undefined ||
      status.limitation !== undefined
    ) {
      return undefined;
    }
    const taskIdLength = Buffer.byteLength(status.task_id.value, 'utf8');
    const taskIdInner = fieldSize(taskIdLength);
    const data = status.data;
    const message = status.message;
    const messageLength = message === undefined ? 0 : Buffer.byteLength(message, 'utf8');
    const statusSize =
      fieldSize(taskIdInner) +
      2 +
      (data === undefined ? 0 : fieldSize(data.length)) +
      (message === undefined ? 0 : fieldSize(messageLength)) +
      9 +
      this.#executorIdField.length +
      2 +
      (reason < 0 ? 0 : 2) +
      18;
    const updateSize = fieldSize(statusSize);
    const bodySize = this.#prefix.length + fieldSize(updateSize);
    let p = 0;
    let b: Buffer;
    if (httpHead === undefined) b = Buffer.allocUnsafe(bodySize);
    else {
      const length = `${bodySize}\r\n\r\n`;
      b = Buffer.allocUnsafe(httpHead.length + length.length + bodySize);
      p = httpHead.copy(b, 0);
      p += b.write(length, p, 'latin1');
    }
    p += this.#prefix.copy(b, p);
    b[p++] = 0x2a; // update
    p = writeVarint(b, p, updateSize);
    b[p++] = 0x0a; // update.status
    p = writeVarint(b, p, statusSize);
    b[p++] = 0x0a; // task_id
    p = writeVarint(b, p, taskIdInner);
    b[p++] = 0x0a;
    p = writeVarint(b, p, taskIdLength);
    p += b.write(status.task_id.value, p, 'utf8');
    b[p++] = 0x10; // state
    b[p++] = state;
    if (data !== undefined) {
      b[p++] = 0x1a;
      p = writeVarint(b, p, data.length);
      b.set(data, p);
      p += data.length;
    }
    if (message !== undefined) {
      b[p++] = 0x22;
      p = writeVarint(b, p, messageLength);
      p += b.write(message, p, 'utf8');
    }
    b[p++] = 0x31; // timestamp
    p = b.writeDoubleLE(status.timestamp, p);
    p += this.#executorIdField.copy(b, p);
    b[p++] = 0x48; // source
    b[p++] = SOURCE_EXECUTOR;
    if (reason >= 0) {
      b[p++] = 0x50;
      b[p++] = reason;
    }
    b[p++] = 0x5a; // uuid
    b[p++] = 16;
    b.set(uuid, p);
    p += 16;
    return p === b.length ? b : undefined;
  }
}

/** Reads a varint below 2^28 at `p`; returns [value, next] or undefined. */
function readSmallVarint(b: Uint8Array, p: number): [number, number] | undefined {
  let value = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (p >= b.length) return undefined;
    const byte = b[p++]!;
    value |= (byte & 0x7f) << shift;
    if (byte < 0x80) return [value, p];
  }
  return undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A copy of `b[start, end)`. (Not `b.slice()`: on a Buffer that is a view, and the event stream's
 * records are views of a read buffer that the next read overwrites.)
 */
export function copyOf(b: Uint8Array, start = 0, end = b.length): Uint8Array {
  const out = new Uint8Array(end - start);
  out.set(b.subarray(start, end));
  return out;
}

/**
 * An `ACKNOWLEDGED` event in protobuf, exactly as Mesos writes it (`type`, then
 * `acknowledged { task_id { value }, uuid }`), or `undefined` for anything else.
 */
export function decodeAcknowledged(b: Uint8Array): ExecutorEvent | undefined {
  if (b.length < 8 || b[0] !== 0x08 || b[1] !== 0x04 || b[2] !== 0x1a) return undefined;
  const ack = readSmallVarint(b, 3);
  if (!ack || ack[1] + ack[0] !== b.length) return undefined;
  let p = ack[1];
  if (b[p++] !== 0x0a) return undefined;
  const tid = readSmallVarint(b, p);
  if (!tid) return undefined;
  p = tid[1];
  const tidEnd = p + tid[0];
  if (b[p++] !== 0x0a) return undefined;
  const value = readSmallVarint(b, p);
  if (!value || value[1] + value[0] !== tidEnd) return undefined;
  let taskId: string;
  try {
    taskId = utf8.decode(b.subarray(value[1], tidEnd));
  } catch {
    return undefined;
  }
  p = tidEnd;
  if (b[p] !== 0x12 || b[p + 1] !== 16 || p + 18 !== b.length) return undefined;
  return {
    type: 'ACKNOWLEDGED',
    acknowledged: { task_id: { value: taskId }, uuid: copyOf(b, p + 2, p + 18) },
  };
}

/** A LAUNCH event read by {@link decodeLaunch}: what the executor needs now, the rest later. */
export interface LaunchedTask {
  readonly taskId: string;
  /** `TaskInfo.data`. */
  readonly data: Uint8Array | undefined;
  /** `TaskInfo.kill_policy.grace_period.nanoseconds`. */
  readonly killGraceNs: number | undefined;
  /** The whole `TaskInfo` in protobuf, to decode when it is needed (re-subscription). */
  readonly taskInfo: Uint8Array;
}

/** Reads a varint as a number (exact below 2^53); returns [value, next] or undefined. */
function readVarint(b: Uint8Array, p: number): [number, number] | undefined {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (p >= b.length) return undefined;
    const byte = b[p++]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return [value, p];
    scale *= 128;
  }
  return undefined;
}

/** Skips one field's value of `wireType` at `p`; returns the next position or -1. */
function skipField(b: Uint8Array, p: number, wireType: number): number {
  switch (wireType) {
    case 0: {
      const v = readVarint(b, p);
      return v ? v[1] : -1;
    }
    case 1:
      return p + 8 <= b.length ? p + 8 : -1;
    case 2: {
      const v = readVarint(b, p);
      return v && v[1] + v[0] <= b.length ? v[1] + v[0] : -1;
    }
    case 5:
      return p + 4 <= b.length ? p + 4 : -1;
    default:
      return -1;
  }
}

/** The only field (number 1, length-delimited) of a message spanning [p, end), or undefined. */
function onlyLenField1(b: Uint8Array, p: number, end: number): [number, number] | undefined {
  if (b[p] !== 0x0a) return undefined;
  const len = readVarint(b, p + 1);
  if (!len || len[1] + len[0] !== end) return undefined;
  return [len[1], end];
}

/**
 * A `LAUNCH` event in protobuf (`type`, `launch { task }`), reading only `task_id`, `data` and
 * `kill_policy` of the TaskInfo, or `undefined` for anything else (or anything unexpected: the
 * general codec then decodes it, and reports what is wrong).
 */
export function decodeLaunch(b: Uint8Array): LaunchedTask | undefined {
  if (b.length < 6 || b[0] !== 0x08 || b[1] !== 0x02 || b[2] !== 0x22) return undefined;
  const launchLen = readVarint(b, 3);
  if (!launchLen || launchLen[1] + launchLen[0] !== b.length) return undefined;
  const task = onlyLenField1(b, launchLen[1], b.length);
  if (!task) return undefined;
  const info = copyOf(b, task[0], task[1]);
  let taskId: string | undefined;
  let data: Uint8Array | undefined;
  let killGraceNs: number | undefined;
  let hasName = false;
  let hasAgent = false;
  for (let p = 0; p < info.length; ) {
    const key = readVarint(info, p);
    if (!key) return undefined;
    const field = Math.floor(key[0] / 8);
    const wireType = key[0] & 7;
    p = key[1];
    const next = skipField(info, p, wireType);
    if (next < 0) return undefined;
    const at = p;
    p = next;
    if (wireType === 2 && (field === 2 || field === 6 || field === 12)) {
      const start = readVarint(info, at)![1];
      if (field === 6) data = info.subarray(start, next);
      else if (field === 2) {
        const value = onlyLenField1(info, start, next);
        if (!value) return undefined;
        try {
          taskId = utf8.decode(info.subarray(value[0], value[1]));
        } catch {
          return undefined;
        }
      } else {
        // KillPolicy { grace_period = 1: DurationInfo { nanoseconds = 1 (int64) } }
        if (start === next) continue;
        const duration = onlyLenField1(info, start, next);
        if (!duration) return undefined;
        if (info[duration[0]] !== 0x08) return undefined;
        const ns = readVarint(info, duration[0] + 1);
        if (!ns || ns[1] !== duration[1] || ns[0] >= 2 ** 53) return undefined; // negative int64 too
        killGraceNs = ns[0];
      }
    } else if (field === 1 && wireType === 2) hasName = true;
    else if (field === 3 && wireType === 2) hasAgent = true;
  }
  if (taskId === undefined || !hasName || !hasAgent) return undefined;
  return { taskId, data, killGraceNs, taskInfo: info };
}

const ACK_JSON_PREFIX = Buffer.from('{"type":"ACKNOWLEDGED"');

/**
 * An `ACKNOWLEDGED` event in JSON as Mesos writes it
 * (`{"type":"ACKNOWLEDGED","acknowledged":{"task_id":{"value":…},"uuid":"<base64>"}}`), read with
 * `JSON.parse`, or `undefined` for anything else.
 */
export function decodeAcknowledgedJson(b: Uint8Array): ExecutorEvent | undefined {
  if (b.length < ACK_JSON_PREFIX.length || !ACK_JSON_PREFIX.equals(b.subarray(0, ACK_JSON_PREFIX.length))) {
    return undefined;
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(b.buffer, b.byteOffset, b.length).toString('utf8'));
  } catch {
    return undefined;
  }
  const ack = (value as { acknowledged?: { task_id?: { value?: unknown }; uuid?: unknown } }).acknowledged;
  const taskId = ack?.task_id?.value;
  const uuid = ack?.uuid;
  if (typeof taskId !== 'string' || typeof uuid !== 'string' || !/^[A-Za-z0-9+/]{22}==$/.test(uuid)) {
    return undefined;
  }
  return {
    type: 'ACKNOWLEDGED',
    acknowledged: { task_id: { value: taskId }, uuid: new Uint8Array(Buffer.from(uuid, 'base64')) },
  };
}

/** Encodes `UPDATE` calls of one executor in Mesos' JSON (fields in `.proto` declaration order). */
export class JsonUpdateEncoder {
  readonly #executorId: string;
  readonly #frameworkId: string;

  constructor(executorId: string, frameworkId: string) {
    this.#executorId = executorId;
    this.#frameworkId = frameworkId;
  }

  /** The call's JSON bytes, or `undefined` when the status is outside what this encoder writes. */
  encode(status: TaskStatus): Buffer | undefined {
    const uuid = status.uuid;
    if (
      STATE_NUMBERS[status.state] === undefined ||
      (status.reason !== undefined && REASON_NUMBERS[status.reason] === undefined) ||
      uuid === undefined ||
      uuid.length !== 16 ||
      status.source !== 'SOURCE_EXECUTOR' ||
      status.executor_id?.value !== this.#executorId ||
      typeof status.timestamp !== 'number' ||
      !Number.isFinite(status.timestamp) ||
      Number.isInteger(status.timestamp) || // the general codec writes a double as `1795255356.0`
      status.agent_id !== undefined ||
      status.healthy !== undefined ||
      status.labels !== undefined ||
      status.check_status !== undefined ||
      status.container_status !== undefined ||
      status.unreachable_time !== undefined ||
      status.limitation !== undefined
    ) {
      return undefined;
    }
    const s: Record<string, unknown> = { task_id: { value: status.task_id.value }, state: status.state };
    if (status.message !== undefined) s.message = status.message;
    s.source = 'SOURCE_EXECUTOR';
    if (status.reason !== undefined) s.reason = status.reason;
    if (status.data !== undefined) s.data = base64(status.data);
    s.executor_id = { value: this.#executorId };
    s.timestamp = status.timestamp;
    s.uuid = base64(uuid);
    return Buffer.from(
      JSON.stringify({
        executor_id: { value: this.#executorId },
        framework_id: { value: this.#frameworkId },
        type: 'UPDATE',
        update: { status: s },
      }),
    );
  }
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64');
}
