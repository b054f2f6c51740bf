/**
 * A single-consumer async queue: `push()` never blocks, the one iterator gets every item in
 * order, `end()` finishes it once drained. The queue itself is unbounded; its owner bounds it by
 * watching `size` and `onTake` (the client pauses its socket).
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  readonly #items: T[] = [];
  #head = 0;
  #waiter: ((result: IteratorResult<T>) => void) | undefined;
  #ended = false;
  #taken = false;
  readonly #onTake: (() => void) | undefined;

  /** `onTake` runs after the consumer took an item out of the buffer (or the consumer quit). */
  constructor(onTake?: () => void) {
    this.#onTake = onTake;
  }

  /** Items pushed and not yet taken by the consumer. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  #shift(): T {
    const item = this.#items[this.#head] as T;
    this.#items[this.#head] = undefined as T;
    this.#head++;
    if (this.#head === this.#items.length) {
      this.#items.length = 0;
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items.splice(0, this.#head);
      this.#head = 0;
    }
    return item;
  }

  push(item: T): void {
    if (this.#ended) return;
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter({ value: item, done: false });
    } else {
      this.#items.push(item);
    }
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.({ value: undefined, done: true });
  }

  get ended(): boolean {
    return this.#ended;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    if (this.#taken) throw new TypeError('this iterable has a single consumer and is already being iterated');
    this.#taken = true;
    return {
      next: () => {
        if (this.size > 0) {
          const value = this.#shift();
          this.#onTake?.();
          return Promise.resolve({ value, done: false });
        }
        if (this.#ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.#waiter = resolve;
        });
      },
      return: () => {
        this.#items.length = 0;
        this.#head = 0;
        this.end();
        this.#onTake?.();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
