/**
 * The events of one submitted task, and the bounded single-consumer queue `handle.events()`
 * reads them from: lifecycle events are never dropped; `message` and `progress` events are
 * bounded (oldest dropped first, the count reported on the next one delivered).
 *
 * @module
 */

/** What `handle.events()` yields, in order. The iteration ends once the task settled. */
export type TaskRunEvent =
  /** Waiting for an offer; `reason` says why it did not fit the last offers (when known). */
  | { type: 'queued'; attempt: number; reason?: string }
  /** Sent to Mesos in an ACCEPT. */
  | { type: 'launched'; attempt: number; mesosTaskId: string; agentId: string; executorId: string }
  /** The executor started it (`TASK_RUNNING`). */
  | { type: 'running'; attempt: number; mesosTaskId: string }
  /** The handler's `ctx.send(data)`. `dropped` counts messages dropped before this one. */
  | { type: 'message'; attempt: number; data: unknown; dropped: number }
  /** The handler's `ctx.progress(value)`. */
  | { type: 'progress'; attempt: number; value: unknown; dropped: number }
  /** An attempt failed and another follows after `delayMs`. */
  | { type: 'retrying'; attempt: number; delayMs: number; error: Error }
  /** The result is there. */
  | { type: 'succeeded'; attempts: number }
  /** The task ended without a result (`result()` rejects with `error`). */
  | { type: 'failed'; attempts: number; error: Error };

const isBounded = (e: TaskRunEvent): boolean => e.type === 'message' || e.type === 'progress';

/** The queue behind `events()`. */
export class RunEventQueue implements AsyncIterable<TaskRunEvent> {
  readonly #items: TaskRunEvent[] = [];
  readonly #max: number;
  #bounded = 0;
  #dropped = 0;
  #waiter: ((r: IteratorResult<TaskRunEvent>) => void) | undefined;
  #ended = false;
  #taken = false;

  constructor(maxBounded: number) {
    this.#max = maxBounded;
  }

  push(event: TaskRunEvent): void {
    if (this.#ended) return;
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter({ value: this.#stamp(event), done: false });
      return;
    }
    if (isBounded(event)) {
      if (this.#bounded >= this.#max) {
        this.#items.splice(this.#items.findIndex(isBounded), 1);
        this.#dropped++;
      } else {
        this.#bounded++;
      }
    }
    this.#items.push(event);
  }

  /** Reports the drops since the last delivered message on the next one delivered. */
  #stamp(event: TaskRunEvent): TaskRunEvent {
    if (!isBounded(event) || this.#dropped === 0) return event;
    const dropped = this.#dropped;
    this.#dropped = 0;
    return { ...event, dropped } as TaskRunEvent;
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<TaskRunEvent> {
    if (this.#taken) throw new TypeError('events() has a single consumer and is already being iterated');
    this.#taken = true;
    return {
      next: () => {
        const item = this.#items.shift();
        if (item !== undefined) {
          if (isBounded(item)) this.#bounded--;
          return Promise.resolve({ value: this.#stamp(item), done: false });
        }
        if (this.#ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.#waiter = resolve;
        });
      },
      return: () => {
        this.#items.length = 0;
        this.end();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
