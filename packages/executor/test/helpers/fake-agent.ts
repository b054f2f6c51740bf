/**
 * A fake Mesos agent for the executor's unit tests: a `node:http` server on port 0 that answers
 * `/api/v1/executor` like the real agent (200 + RecordIO stream for SUBSCRIBE, 202 for calls),
 * records every call, writes events when the test says so, and lets tests wait for calls
 * without sleeping (the wait rejects naming what did not happen).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type EnvelopeInit,
  type ExecutorCall,
  type ExecutorEvent,
  encodeLaunchEnvelope,
  encodeRecord,
  encodingOfMediaType,
  executorCall,
  executorEvent,
  type LaunchEnvelope,
  MEDIA_TYPES,
  type MesosEncoding,
  type mesos,
  type TaskInfo,
  type TaskStatus,
} from '@mesoskit/protocol';

export const FRAMEWORK_ID = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee-0000';
export const AGENT_ID = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee-S0';
export const EXECUTOR_ID = 'mesoskit-test';

export interface RecordedCall {
  readonly call: ExecutorCall;
  readonly headers: http.IncomingHttpHeaders;
  readonly path: string;
  /** The raw request body. */
  readonly body: Buffer;
  /** The index of the subscription stream that was current when the call arrived. */
  readonly stream: number;
}

export interface FakeAgentOptions {
  /** Send SUBSCRIBED as soon as a SUBSCRIBE arrives. @default true */
  autoSubscribed?: boolean;
  /** Send ACKNOWLEDGED for every UPDATE (after its 202). @default true */
  autoAck?: boolean;
  /** `FrameworkInfo.capabilities` in the SUBSCRIBED event. @default none */
  frameworkCapabilities?: mesos.v1.FrameworkInfo.Capability.Type[];
  /** Answer a call with this status instead (return undefined for the normal answer). */
  refuse?: (call: ExecutorCall) => { status: number; body?: string } | undefined;
}

export class FakeAgent {
  readonly calls: RecordedCall[] = [];
  readonly #server: http.Server;
  readonly #options: FakeAgentOptions;
  #stream: { res: http.ServerResponse; encoding: MesosEncoding } | undefined;
  #streams = 0;
  #waiters = new Set<() => void>();
  autoAck: boolean;

  private constructor(options: FakeAgentOptions) {
    this.#options = options;
    this.autoAck = options.autoAck ?? true;
    this.#server = http.createServer((req, res) => this.#handle(req, res));
  }

  static async start(options: FakeAgentOptions = {}, port = 0): Promise<FakeAgent> {
    const agent = new FakeAgent(options);
    await new Promise<void>((resolve, reject) => {
      agent.#server.once('error', reject);
      agent.#server.listen(port, '127.0.0.1', () => resolve());
    });
    return agent;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** The environment a real agent would give the executor. */
  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      MESOS_AGENT_ENDPOINT: `127.0.0.1:${this.port}`,
      MESOS_FRAMEWORK_ID: FRAMEWORK_ID,
      MESOS_EXECUTOR_ID: EXECUTOR_ID,
      MESOS_SLAVE_ID: AGENT_ID,
      MESOS_SANDBOX: '/tmp/sandbox',
      MESOS_DIRECTORY: '/tmp/sandbox',
      MESOS_CHECKPOINT: '0',
      MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD: '2secs',
      ...extra,
    };
  }

  /** How many SUBSCRIBE streams were opened. */
  get streams(): number {
    return this.#streams;
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const encoding = encodingOfMediaType(req.headers['content-type']);
      if (req.method !== 'POST' || !encoding) {
        res.writeHead(415).end();
        return;
      }
      let call: ExecutorCall;
      const body = Buffer.concat(chunks);
      try {
        call = executorCall.decode(body, encoding);
      } catch (err) {
        res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8' }).end(String(err));
        return;
      }
      const refusal = this.#options.refuse?.(call);
      if (refusal) {
        this.#record({ call, headers: req.headers, path: req.url ?? '', body, stream: this.#streams });
        res
          .writeHead(refusal.status, { 'Content-Type': 'text/plain; charset=utf-8' })
          .end(refusal.body ?? '');
        return;
      }
      if (call.type === 'SUBSCRIBE') {
        const accept = encodingOfMediaType(req.headers.accept) ?? 'json';
        this.#stream?.res.end();
        this.#streams++;
        res.writeHead(200, { 'Content-Type': MEDIA_TYPES[accept] });
        res.flushHeaders();
        this.#stream = { res, encoding: accept };
        this.#record({ call, headers: req.headers, path: req.url ?? '', body, stream: this.#streams });
        if (this.#options.autoSubscribed ?? true)
          this.send(subscribedEvent(this.#options.frameworkCapabilities));
        return;
      }
      this.#record({ call, headers: req.headers, path: req.url ?? '', body, stream: this.#streams });
      res.writeHead(202, { 'Content-Length': '0' }).end();
      const status = call.update?.status;
      if (call.type === 'UPDATE' && status?.uuid && this.autoAck) {
        setImmediate(() => this.ack(status));
      }
    });
  }

  #record(call: RecordedCall): void {
    this.calls.push(call);
    for (const w of [...this.#waiters]) w();
  }

  /** Writes one event on the current stream (one record per chunk, as Mesos does). */
  send(event: ExecutorEvent): void {
    const s = this.#stream;
    if (!s) throw new Error('FakeAgent.send: no subscription stream');
    s.res.write(encodeRecord(executorEvent.encode(event, s.encoding)));
  }

  /** Sends ACKNOWLEDGED for an update. */
  ack(status: TaskStatus): void {
    if (!this.#stream || this.#stream.res.writableEnded) return;
    this.send({ type: 'ACKNOWLEDGED', acknowledged: { task_id: status.task_id, uuid: status.uuid! } });
  }

  /** Sends a LAUNCH for a task whose data is a launch envelope. */
  launch(taskId: string, envelope: EnvelopeInit<LaunchEnvelope>, extra: Partial<TaskInfo> = {}): TaskInfo {
    const task = taskInfo(taskId, encodeLaunchEnvelope(envelope), extra);
    this.send({ type: 'LAUNCH', launch: { task } });
    return task;
  }

  /** Sends one LAUNCH_GROUP for tasks whose data are launch envelopes. */
  launchGroup(tasks: [taskId: string, envelope: EnvelopeInit<LaunchEnvelope>][]): TaskInfo[] {
    const infos = tasks.map(([id, envelope]) => taskInfo(id, encodeLaunchEnvelope(envelope)));
    this.send({ type: 'LAUNCH_GROUP', launch_group: { task_group: { tasks: infos } } });
    return infos;
  }

  /** Ends the subscription stream the way Mesos does (terminating chunk). */
  endStream(): void {
    this.#stream?.res.end();
    this.#stream = undefined;
  }

  /** Waits for a call matching `pred` (searching all calls so far, then new ones). */
  waitForCall(
    what: string,
    pred: (c: ExecutorCall, r: RecordedCall) => boolean,
    timeoutMs = 5000,
    from = 0,
  ): Promise<ExecutorCall> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        let hit: RecordedCall | undefined;
        for (let i = from; i < this.calls.length && hit === undefined; i++) {
          const r = this.calls[i]!;
          if (pred(r.call, r)) hit = r;
        }
        if (!hit) return false;
        cleanup();
        resolve(hit.call);
        return true;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}; calls so far: ${this.describeCalls()}`,
          ),
        );
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
      };
      const waiter = (): void => {
        check();
      };
      this.#waiters.add(waiter);
      check();
    });
  }

  /** Waits for the update of `taskId` in `state`; returns its status. */
  /** Waits for an UPDATE of `taskId` to `state`, among the calls from index `from` on. */
  async waitForUpdate(
    taskId: string,
    state: mesos.v1.TaskState,
    timeoutMs = 5000,
    from = 0,
  ): Promise<TaskStatus> {
    const call = await this.waitForCall(
      `UPDATE ${state} for ${taskId}`,
      (c) =>
        c.type === 'UPDATE' && c.update?.status.task_id.value === taskId && c.update.status.state === state,
      timeoutMs,
      from,
    );
    return call.update!.status;
  }

  /** The states reported for a task, in order. */
  states(taskId: string): string[] {
    return this.calls
      .filter((r) => r.call.type === 'UPDATE' && r.call.update?.status.task_id.value === taskId)
      .map((r) => r.call.update!.status.state);
  }

  /** The MESSAGE calls' data. */
  messages(): Uint8Array[] {
    return this.calls.filter((r) => r.call.type === 'MESSAGE').map((r) => r.call.message!.data);
  }

  describeCalls(): string {
    return (
      this.calls
        .map((r) => {
          const s = r.call.update?.status;
          return s ? `UPDATE(${s.task_id.value} ${s.state})` : String(r.call.type);
        })
        .join(', ') || 'none'
    );
  }

  /** Stops listening and drops every connection (the agent process going away). */
  async close(): Promise<void> {
    this.#stream = undefined;
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

export function subscribedEvent(capabilities: mesos.v1.FrameworkInfo.Capability.Type[] = []): ExecutorEvent {
  return {
    type: 'SUBSCRIBED',
    subscribed: {
      executor_info: {
        executor_id: { value: EXECUTOR_ID },
        framework_id: { value: FRAMEWORK_ID },
        command: { value: 'mesoskit-executor --handlers ./handlers.js' },
      },
      framework_info: {
        user: 'root',
        name: 'test',
        id: { value: FRAMEWORK_ID },
        ...(capabilities.length > 0 && { capabilities: capabilities.map((type) => ({ type })) }),
      },
      agent_info: { hostname: 'localhost', id: { value: AGENT_ID } },
      container_id: { value: '7245aba8-9ce5-484f-ad3f-4eb05a6893d7' },
    },
  };
}

export function taskInfo(
  taskId: string,
  data: Uint8Array | undefined,
  extra: Partial<TaskInfo> = {},
): TaskInfo {
  return {
    name: `task ${taskId}`,
    task_id: { value: taskId },
    agent_id: { value: AGENT_ID },
    ...(data !== undefined && { data }),
    executor: {
      executor_id: { value: EXECUTOR_ID },
      framework_id: { value: FRAMEWORK_ID },
      command: { value: 'mesoskit-executor --handlers ./handlers.js' },
    },
    ...extra,
  };
}
