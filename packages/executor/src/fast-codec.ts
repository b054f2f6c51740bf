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
   * not write (use the general codec then).
   */
  encode(status: TaskStatus): Buffer | undefined {
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
    const b = Buffer.allocUnsafe(this.#prefix.length + fieldSize(updateSize));
    let p = this.#prefix.copy(b, 0);
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
    acknowledged: { task_id: { value: taskId }, uuid: b.slice(p + 2, p + 18) },
  };
}
