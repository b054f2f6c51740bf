/**
 * Worker-thread isolation: handlers bound with `{ isolation: 'worker' }` run in a pool of
 * `worker_threads`, so a CPU-bound handler never blocks the event loop that answers the agent.
 * Each worker imports the handler module itself (functions cannot be sent to a thread), runs
 * one task at a time, and relays `ctx.send`, `ctx.progress`, `ctx.log` and the outcome. A task
 * that ignores its kill signal past its grace period has its worker terminated and replaced.
 *
 * @module
 */
import { Worker } from 'node:worker_threads';

/** The code each worker runs (CommonJS, evaluated): no file to resolve from `dist/`. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const runs = new Map();
let registry;
function plain(err, depth) {
  if (typeof err === 'string') return { name: 'Error', message: err };
  if (err === null || typeof err !== 'object') return { name: 'Error', message: 'Non-error value thrown: ' + String(err) };
  const out = { name: typeof err.name === 'string' ? err.name : 'Error', message: typeof err.message === 'string' ? err.message : String(err) };
  if (typeof err.code === 'string') out.code = err.code;
  if (typeof err.retryable === 'boolean') out.retryable = err.retryable;
  if (typeof err.stack === 'string') out.stack = err.stack;
  if (err.details !== undefined) { try { structuredClone(err.details); out.details = err.details; } catch {} }
  if (err.cause != null && depth < 8) out.cause = plain(err.cause, depth + 1);
  return out;
}
class Queue {
  constructor(capacity) { this.items = []; this.capacity = capacity; this.waiter = undefined; this.closed = false; }
  push(v) { if (this.closed) return; if (this.waiter) { const w = this.waiter; this.waiter = undefined; w({ value: v, done: false }); return; } if (this.items.length >= this.capacity) this.items.shift(); this.items.push(v); }
  close() { this.closed = true; this.items.length = 0; const w = this.waiter; this.waiter = undefined; if (w) w({ value: undefined, done: true }); }
  [Symbol.asyncIterator]() { return { next: () => this.items.length ? Promise.resolve({ value: this.items.shift(), done: false }) : this.closed ? Promise.resolve({ value: undefined, done: true }) : new Promise((r) => { this.waiter = r; }), return: () => { this.close(); return Promise.resolve({ value: undefined, done: true }); } }; }
}
async function run(m) {
  const controller = new AbortController();
  const queue = new Queue(m.bufferSize);
  runs.set(m.id, { controller, queue });
  const post = (type, extra) => parentPort.postMessage({ type, id: m.id, ...extra });
  try {
    registry ??= import(workerData.source).then((mod) => mod.default);
    const handlers = await registry;
    const binding = handlers && typeof handlers.get === 'function' ? handlers.get(m.task) : undefined;
    if (!binding) throw new Error('no handler for task ' + JSON.stringify(m.task) + ' in ' + workerData.source + ' (in a worker thread)');
    const log = {};
    for (const level of ['trace', 'debug', 'info', 'warn', 'error']) {
      log[level] = (message, meta) => { try { post('log', { level, message, meta }); } catch { post('log', { level, message }); } };
    }
    const ctx = Object.assign({}, m.ctx, {
      signal: controller.signal,
      log,
      send: (data) => post('send', { data }),
      progress: (value) => post('progress', { value }),
      messages: queue,
    });
    const output = await binding.fn(m.input, ctx);
    try { post('done', { ok: true, output }); } catch (err) { post('done', { ok: false, failure: plain(err, 0) }); }
  } catch (err) {
    post('done', { ok: false, failure: plain(err, 0) });
  } finally {
    runs.delete(m.id);
    queue.close();
  }
}
parentPort.on('message', (m) => {
  if (m.type === 'run') run(m);
  else if (m.type === 'abort') { const r = runs.get(m.id); if (r) { const e = new Error('the task was killed'); e.name = 'AbortError'; r.controller.abort(e); r.queue.close(); } }
  else if (m.type === 'message') { const r = runs.get(m.id); if (r) r.queue.push(m.data); }
});
`;

/** What a worker run relays to the executor. */
export interface WorkerRunCallbacks {
  onSend(data: unknown): void;
  onProgress(value: unknown): void;
  onLog(
    level: 'trace' | 'debug' | 'info' | 'warn' | 'error',
    message: string,
    meta?: Record<string, unknown>,
  ): void;
}

/** One run handed to the pool. */
export interface WorkerJob {
  readonly id: string;
  readonly task: string;
  readonly input: unknown;
  /** The context's plain fields (taskId, task, attempt, sandbox, ids). */
  readonly ctx: Record<string, unknown>;
  readonly bufferSize: number;
}

interface Job extends WorkerJob {
  readonly callbacks: WorkerRunCallbacks;
  resolve(output: unknown): void;
  reject(failure: unknown): void;
  slot?: Slot;
}

interface Slot {
  worker: Worker;
  job: Job | undefined;
}

export class WorkerPool {
  readonly #source: string;
  readonly #size: number;
  readonly #slots: Slot[] = [];
  readonly #queue: Job[] = [];
  readonly #jobs = new Map<string, Job>();
  #closed = false;

  /** @param source the handler module's URL, imported by every worker. */
  constructor(source: string, size: number) {
    this.#source = source;
    this.#size = size;
  }

  /** Runs a job on a free worker (or queues it); resolves with the output, rejects with a plain failure. */
  run(job: WorkerJob, callbacks: WorkerRunCallbacks): Promise<unknown> {
    if (this.#closed) return Promise.reject(new Error('the worker pool is closed'));
    return new Promise((resolve, reject) => {
      const j: Job = { ...job, callbacks, resolve, reject };
      this.#jobs.set(job.id, j);
      this.#queue.push(j);
      this.#dispatch();
    });
  }

  /** Aborts a job's signal in its worker (or drops it from the queue). */
  abort(id: string): void {
    const job = this.#jobs.get(id);
    if (!job) return;
    if (!job.slot) {
      this.#queue.splice(this.#queue.indexOf(job), 1);
      this.#settle(job, false, { name: 'AbortError', message: 'the task was killed' });
      return;
    }
    job.slot.worker.postMessage({ type: 'abort', id });
  }

  /** Forwards a scheduler message to a running job. */
  message(id: string, data: unknown): void {
    const slot = this.#jobs.get(id)?.slot;
    try {
      slot?.worker.postMessage({ type: 'message', id, data });
    } catch {
      // not cloneable: dropped, like any best-effort message
    }
  }

  /** Terminates the worker of a job that would not stop (a new worker replaces it). */
  terminate(id: string): void {
    const job = this.#jobs.get(id);
    if (!job?.slot) return;
    const slot = job.slot;
    this.#settle(job, false, { name: 'AbortError', message: 'the worker was terminated' });
    this.#replace(slot);
  }

  close(): void {
    this.#closed = true;
    for (const slot of this.#slots) void slot.worker.terminate();
    this.#slots.length = 0;
    for (const job of [...this.#jobs.values()])
      this.#settle(job, false, { name: 'Error', message: 'the executor closed' });
    this.#queue.length = 0;
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      let slot = this.#slots.find((s) => s.job === undefined);
      if (!slot && this.#slots.length < this.#size) slot = this.#spawn();
      if (!slot) return;
      const job = this.#queue.shift()!;
      slot.job = job;
      job.slot = slot;
      try {
        slot.worker.postMessage({
          type: 'run',
          id: job.id,
          task: job.task,
          input: job.input,
          ctx: job.ctx,
          bufferSize: job.bufferSize,
        });
      } catch (err) {
        slot.job = undefined;
        this.#settle(job, false, err);
      }
    }
  }

  #spawn(): Slot {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { source: this.#source } });
    worker.unref();
    const slot: Slot = { worker, job: undefined };
    this.#slots.push(slot);
    worker.on('message', (m: { type: string; id: string } & Record<string, unknown>) => {
      const job = this.#jobs.get(m.id);
      if (!job || job.slot !== slot) return;
      switch (m.type) {
        case 'send':
          job.callbacks.onSend(m.data);
          break;
        case 'progress':
          job.callbacks.onProgress(m.value);
          break;
        case 'log':
          job.callbacks.onLog(
            m.level as 'info',
            String(m.message),
            (m.meta as Record<string, unknown> | undefined) ?? undefined,
          );
          break;
        case 'done':
          slot.job = undefined;
          if (m.ok) this.#settle(job, true, m.output);
          else this.#settle(job, false, m.failure);
          this.#dispatch();
          break;
      }
    });
    const lost = (err: unknown): void => {
      if (!this.#slots.includes(slot)) return;
      const job = slot.job;
      if (job) this.#settle(job, false, err ?? { name: 'Error', message: 'the worker thread exited' });
      this.#replace(slot);
    };
    worker.on('error', (err) => lost(err));
    worker.on('exit', () => lost(undefined));
    return slot;
  }

  #replace(slot: Slot): void {
    const i = this.#slots.indexOf(slot);
    if (i >= 0) this.#slots.splice(i, 1);
    slot.job = undefined;
    void slot.worker.terminate();
    if (!this.#closed) this.#dispatch();
  }

  #settle(job: Job, ok: boolean, value: unknown): void {
    if (!this.#jobs.delete(job.id)) return;
    if (job.slot?.job === job) job.slot.job = undefined;
    if (ok) job.resolve(value);
    else job.reject(value);
  }
}
