/**
 * The agent's status update manager (§2.9): one FIFO stream per task; only the head is in
 * flight to the master, sent at once and re-sent with exponential backoff (initial, doubling,
 * capped) until the scheduler acknowledges exactly its uuid; then the next one goes out. A
 * stream is deleted after its terminal update is acknowledged. Updates whose uuid the stream
 * already received are duplicates and ignored.
 */

import type { mesos } from '@mesoskit/protocol';
import { isTerminalTaskState } from '@mesoskit/protocol';
import { uuidHex } from '../ids.js';

export interface RetryPolicy {
  /** First resend after this many milliseconds. */
  initialMs: number;
  /** Each wait doubles up to this many milliseconds. */
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { initialMs: 10_000, maxMs: 600_000 };

export type Forward = (
  frameworkId: string,
  status: mesos.v1.TaskStatus,
  latestState: mesos.v1.TaskState,
) => void;

interface Stream {
  frameworkId: string;
  taskId: string;
  pending: mesos.v1.TaskStatus[];
  received: Set<string>;
  latestState: mesos.v1.TaskState;
  timer: NodeJS.Timeout | undefined;
  delay: number;
}

export class StatusUpdateManager {
  readonly #streams = new Map<string, Stream>();
  readonly #forward: Forward;
  readonly #retry: RetryPolicy;

  constructor(forward: Forward, retry: RetryPolicy = DEFAULT_RETRY) {
    this.#forward = forward;
    this.#retry = retry;
  }

  /**
   * Queues an update (with its uuid set). Returns false for a duplicate (its uuid was already
   * received on this task's stream).
   */
  update(frameworkId: string, status: mesos.v1.TaskStatus): boolean {
    const key = streamKey(frameworkId, status.task_id.value);
    let stream = this.#streams.get(key);
    if (!stream) {
      stream = {
        frameworkId,
        taskId: status.task_id.value,
        pending: [],
        received: new Set(),
        latestState: status.state,
        timer: undefined,
        delay: this.#retry.initialMs,
      };
      this.#streams.set(key, stream);
    }
    const id = uuidHex(status.uuid);
    if (stream.received.has(id)) return false;
    stream.received.add(id);
    stream.pending.push(status);
    stream.latestState = status.state;
    if (stream.pending.length === 1) this.#send(stream, true);
    return true;
  }

  /** The scheduler acknowledged `uuid`: pops the head if it matches and sends the next. */
  acknowledge(frameworkId: string, taskId: string, uuid: Uint8Array): boolean {
    const key = streamKey(frameworkId, taskId);
    const stream = this.#streams.get(key);
    const head = stream?.pending[0];
    if (!stream || !head || uuidHex(head.uuid) !== uuidHex(uuid)) return false;
    clearTimeout(stream.timer);
    stream.timer = undefined;
    stream.pending.shift();
    if (isTerminalTaskState(head.state)) {
      this.#streams.delete(key);
      return true;
    }
    if (stream.pending.length > 0) this.#send(stream, true);
    return true;
  }

  /**
   * Restores a task's stream from the checkpoint after an agent restart, without sending
   * anything (`resendAll` does, once the agent is registered again). `updates` are all the
   * updates received for the task, in order; `acked` the uuids (hex) acknowledged.
   */
  restore(frameworkId: string, updates: readonly mesos.v1.TaskStatus[], acked: ReadonlySet<string>): void {
    const first = updates[0];
    if (!first) return;
    const pending = updates.filter((u) => !acked.has(uuidHex(u.uuid)));
    if (pending.length === 0) return;
    const key = streamKey(frameworkId, first.task_id.value);
    this.#streams.set(key, {
      frameworkId,
      taskId: first.task_id.value,
      pending,
      received: new Set(updates.map((u) => uuidHex(u.uuid))),
      latestState: updates.at(-1)!.state,
      timer: undefined,
      delay: this.#retry.initialMs,
    });
  }

  /** Re-sends the head of every stream now (the agent registered again with a master). */
  resendAll(): void {
    for (const stream of this.#streams.values()) if (stream.pending.length > 0) this.#send(stream, true);
  }

  /** Stops every resend timer but keeps the streams (the agent lost its master). */
  pause(): void {
    for (const stream of this.#streams.values()) {
      clearTimeout(stream.timer);
      stream.timer = undefined;
    }
  }

  /** Re-sends the head of every stream of the framework now (it re-subscribed). */
  resend(frameworkId: string): void {
    for (const stream of this.#streams.values()) {
      if (stream.frameworkId === frameworkId && stream.pending.length > 0) this.#send(stream, true);
    }
  }

  /** Drops every stream of the framework (it was torn down). */
  removeFramework(frameworkId: string): void {
    for (const [key, stream] of this.#streams) {
      if (stream.frameworkId !== frameworkId) continue;
      clearTimeout(stream.timer);
      this.#streams.delete(key);
    }
  }

  /** Whether any task of the framework has updates not yet acknowledged. */
  hasPending(frameworkId: string): boolean {
    for (const stream of this.#streams.values()) {
      if (stream.frameworkId === frameworkId && stream.pending.length > 0) return true;
    }
    return false;
  }

  /** Whether the task's stream already received an update with this uuid. */
  received(frameworkId: string, taskId: string, uuid: Uint8Array | undefined): boolean {
    return this.#streams.get(streamKey(frameworkId, taskId))?.received.has(uuidHex(uuid)) ?? false;
  }

  /** Whether the task has a stream (it is deleted once its terminal update is acknowledged). */
  has(frameworkId: string, taskId: string): boolean {
    return this.#streams.has(streamKey(frameworkId, taskId));
  }

  /** The updates of a task not yet acknowledged, head first. */
  pending(frameworkId: string, taskId: string): readonly mesos.v1.TaskStatus[] {
    return this.#streams.get(streamKey(frameworkId, taskId))?.pending ?? [];
  }

  stop(): void {
    for (const stream of this.#streams.values()) clearTimeout(stream.timer);
    this.#streams.clear();
  }

  #send(stream: Stream, reset: boolean): void {
    const head = stream.pending[0];
    if (!head) return;
    clearTimeout(stream.timer);
    if (reset) stream.delay = this.#retry.initialMs;
    this.#forward(stream.frameworkId, head, stream.latestState);
    stream.timer = setTimeout(() => {
      stream.delay = Math.min(stream.delay * 2, this.#retry.maxMs);
      this.#send(stream, false);
    }, stream.delay);
    stream.timer.unref?.();
  }
}

function streamKey(frameworkId: string, taskId: string): string {
  return `${frameworkId}\u0000${taskId}`;
}
