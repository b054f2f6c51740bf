/**
 * What a handler gets besides its input: {@link TaskContext}.
 *
 * @module
 */
import type { Logger } from '@mesoskit/protocol';

/** The context of one task run, the second argument of every handler. */
export interface TaskContext {
  /** The Mesos task id of this run. */
  readonly taskId: string;
  /** The task definition's name, e.g. `thumbs.resize`. */
  readonly task: string;
  /** Which attempt this is, counting from 1 (from the launch envelope). */
  readonly attempt: number;
  /** The executor's sandbox directory (`MESOS_SANDBOX`), shared by all tasks of the executor. */
  readonly sandbox: string;
  /** The Mesos executor id. */
  readonly executorId: string;
  /** The Mesos framework id. */
  readonly frameworkId: string;
  /** The id of the agent the executor runs on. */
  readonly agentId: string;
  /**
   * Aborted when the task is killed (scheduler KILL, executor SHUTDOWN, agent lost). Pass it to
   * whatever the handler awaits. A handler that ignores it is still reported `TASK_KILLED`
   * after the kill grace period, and its result is dropped.
   */
  readonly signal: AbortSignal;
  /** A logger bound to this run (`taskId`, `task`, `attempt`). */
  readonly log: Logger;
  /**
   * Sends `data` to the scheduler as a framework message (a message envelope of kind
   * `message`). **Best effort**: Mesos may drop framework messages; the outcome of the task
   * always travels on the reliable terminal status update. Does nothing once the run settled.
   *
   * @throws {EnvelopeError} `ENVELOPE_ENCODE` when `data` cannot be MessagePack-encoded.
   */
  send(data: unknown): void;
  /**
   * Reports progress (a message envelope of kind `progress`). Throttled and coalesced: at most
   * one is sent per `progressIntervalMs`, the latest value wins, and a pending value is dropped
   * when the run settles. Best effort, like {@link send}.
   */
  progress(value: unknown): void;
  /**
   * Framework messages the scheduler sent to this run (message envelopes naming its task id),
   * decoded, in arrival order. One consumer; ends when the run settles. Buffered up to
   * `messageBufferSize` messages (the oldest are dropped beyond that).
   */
  readonly messages: AsyncIterable<unknown>;
}

/**
 * A bounded single-consumer queue exposed as an async iterable. Pushing beyond `capacity`
 * drops the oldest item and counts it.
 */
export class MessageQueue<T> implements AsyncIterable<T> {
  readonly #items: T[] = [];
  #waiter: ((r: IteratorResult<T>) => void) | undefined;
  #closed = false;
  #iterating = false;
  dropped = 0;

  constructor(readonly capacity: number) {}

  push(item: T): void {
    if (this.#closed) return;
    const w = this.#waiter;
    if (w) {
      this.#waiter = undefined;
      w({ value: item, done: false });
      return;
    }
    if (this.#items.length >= this.capacity) {
      this.#items.shift();
      this.dropped++;
    }
    this.#items.push(item);
  }

  close(): void {
    this.#closed = true;
    this.#items.length = 0;
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    if (this.#iterating) throw new TypeError('ctx.messages has a single consumer');
    this.#iterating = true;
    return {
      next: () => {
        if (this.#items.length > 0) return Promise.resolve({ value: this.#items.shift()!, done: false });
        if (this.#closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.#waiter = resolve;
        });
      },
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}

/**
 * Sends at most one value per `intervalMs`: the first at once, later ones coalesced (latest
 * wins) and sent when the interval ends. `stop()` drops a pending value.
 */
export class Throttle<T> {
  #pending: { value: T } | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  constructor(
    readonly intervalMs: number,
    readonly emit: (value: T) => void,
  ) {}

  push(value: T): void {
    if (this.#stopped) return;
    if (this.#timer !== undefined) {
      this.#pending = { value };
      return;
    }
    this.emit(value);
    this.#arm();
  }

  #arm(): void {
    if (this.intervalMs <= 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const p = this.#pending;
      this.#pending = undefined;
      if (p && !this.#stopped) {
        this.emit(p.value);
        this.#arm();
      }
    }, this.intervalMs);
    this.#timer.unref?.();
  }

  stop(): void {
    this.#stopped = true;
    this.#pending = undefined;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
