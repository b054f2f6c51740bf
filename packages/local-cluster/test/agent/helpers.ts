import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  executorCall,
  executorEvent,
  type MesosEncoding,
  type mesos,
  RecordIODecoder,
} from '@mesoskit/protocol';
import { LocalAgent, type LocalAgentOptions } from '../../src/agent/index.js';
import type {
  AgentApi,
  AgentRegistered,
  AgentRegistration,
  MasterApi,
  StatusUpdateMessage,
} from '../../src/link.js';

export const FIXTURE = fileURLToPath(new URL('./fixtures/test-executor.mjs', import.meta.url));
export const AGENT_ID = '11111111-2222-3333-4444-555555555555-S0';
export const FRAMEWORK_ID = '11111111-2222-3333-4444-555555555555-0000';

/** Waits until `probe` returns something other than `undefined`/`false`; rejects saying what did not happen. */
export function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 8000): Promise<T> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = (): void => {
      let value: T | undefined | false;
      try {
        value = probe();
      } catch {
        value = undefined;
      }
      if (value !== undefined && value !== false) {
        resolve(value);
        return;
      }
      if (Date.now() - started > timeoutMs) {
        reject(new Error(`Timed out after ${timeoutMs} ms waiting for: ${what}`));
        return;
      }
      setTimeout(tick, 10);
    };
    tick();
  });
}

/** An in-process master that records what the agent tells it. */
export class FakeMaster implements MasterApi {
  agent: AgentApi | undefined;
  registration: AgentRegistration | undefined;
  readonly updates: (StatusUpdateMessage & { at: number })[] = [];
  readonly messages: { frameworkId: string; executorId: string; data: string }[] = [];
  readonly exited: { frameworkId: string; executorId: string; status: number }[] = [];
  readonly gone: string[] = [];
  autoAck = true;

  registerAgent(registration: AgentRegistration, agent: AgentApi): Promise<AgentRegistered> {
    this.registration = registration;
    this.agent = agent;
    return Promise.resolve({ agentId: AGENT_ID, masterInfo: { id: 'master', ip: 16777343, port: 5050 } });
  }
  statusUpdate(_agentId: string, update: StatusUpdateMessage): void {
    this.updates.push({ ...update, at: Date.now() });
    const uuid = update.status.uuid;
    if (this.autoAck && uuid) {
      setImmediate(() => this.agent?.acknowledge(update.frameworkId, update.status.task_id.value, uuid));
    }
  }
  executorMessage(_agentId: string, frameworkId: string, executorId: string, data: Uint8Array): void {
    this.messages.push({ frameworkId, executorId, data: Buffer.from(data).toString() });
  }
  exitedExecutor(_agentId: string, frameworkId: string, executorId: string, status: number): void {
    this.exited.push({ frameworkId, executorId, status });
  }
  agentGone(agentId: string): void {
    this.gone.push(agentId);
  }
  pong(_agentId: string): void {}

  statesOf(taskId: string): mesos.v1.TaskState[] {
    return this.updates.filter((u) => u.status.task_id.value === taskId).map((u) => u.status.state);
  }
  update(taskId: string, state: mesos.v1.TaskState): mesos.v1.TaskStatus | undefined {
    return this.updates.find((u) => u.status.task_id.value === taskId && u.status.state === state)?.status;
  }
  waitUpdate(taskId: string, state: mesos.v1.TaskState, timeoutMs?: number): Promise<mesos.v1.TaskStatus> {
    return waitFor(
      `${state} for task ${taskId} (seen: ${this.statesOf(taskId).join(', ') || 'nothing'})`,
      () => this.update(taskId, state),
      timeoutMs,
    );
  }
}

export interface Harness {
  master: FakeMaster;
  agent: LocalAgent;
  workDir: string;
  cleanup(): Promise<void>;
}

export async function startAgent(options: Partial<LocalAgentOptions> = {}): Promise<Harness> {
  const workDir = await mkdtemp(join(tmpdir(), 'mesoskit-agent-'));
  const master = new FakeMaster();
  const agent = await LocalAgent.start({ master, workDir, ...options });
  return {
    master,
    agent,
    workDir,
    async cleanup() {
      await agent.stop();
      await rm(workDir, { recursive: true, force: true });
    },
  };
}

export function frameworkInfo(extra: Partial<mesos.v1.FrameworkInfo> = {}): mesos.v1.FrameworkInfo {
  return { user: 'root', name: 'agent-test', id: { value: FRAMEWORK_ID }, ...extra };
}

export function testExecutor(
  executorId: string,
  env: Record<string, string> = {},
  command: Partial<mesos.v1.CommandInfo> = {},
): mesos.v1.ExecutorInfo {
  return {
    executor_id: { value: executorId },
    type: 'CUSTOM',
    framework_id: { value: FRAMEWORK_ID },
    command: {
      value: `exec node ${FIXTURE}`,
      environment: {
        variables: Object.entries(env).map(([name, value]) => ({ name, type: 'VALUE', value })),
      },
      ...command,
    },
    resources: [],
  };
}

export function task(taskId: string, mode?: string, executor?: mesos.v1.ExecutorInfo): mesos.v1.TaskInfo {
  return {
    name: taskId,
    task_id: { value: taskId },
    agent_id: { value: AGENT_ID },
    ...(mode ? { data: Buffer.from(JSON.stringify({ mode })) } : {}),
    ...(executor ? { executor } : {}),
  };
}

export function commandTask(
  taskId: string,
  value: string,
  extra: Partial<mesos.v1.TaskInfo> = {},
): mesos.v1.TaskInfo {
  return {
    name: taskId,
    task_id: { value: taskId },
    agent_id: { value: AGENT_ID },
    command: { value },
    ...extra,
  };
}

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One raw HTTP request to the agent. */
export function request(
  url: string,
  options: { method?: string; path?: string; headers?: Record<string, string>; body?: Uint8Array | string },
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}${options.path ?? '/api/v1/executor'}`,
      { method: options.method ?? 'POST', headers: options.headers ?? {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

export function postCall(
  url: string,
  call: mesos.v1.executor.Call,
  encoding: MesosEncoding = 'json',
  path?: string,
): Promise<HttpResult> {
  const type = encoding === 'json' ? 'application/json' : 'application/x-protobuf';
  return request(url, {
    ...(path ? { path } : {}),
    headers: { 'Content-Type': type },
    body: executorCall.encode(call, encoding),
  });
}

/** The test plays the executor: a SUBSCRIBE stream whose events are recorded. */
export interface Subscription {
  status: number;
  headers: http.IncomingHttpHeaders;
  events: mesos.v1.executor.Event[];
  ended: boolean;
  waitEvent(type: mesos.v1.executor.Event.Type, count?: number): Promise<mesos.v1.executor.Event>;
  close(): void;
}

export function subscribe(
  url: string,
  frameworkId: string,
  executorId: string,
  encoding: MesosEncoding = 'json',
  subscribeBody: mesos.v1.executor.Call.Subscribe = {},
): Promise<Subscription> {
  const type = encoding === 'json' ? 'application/json' : 'application/x-protobuf';
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}/api/v1/executor`,
      { method: 'POST', headers: { 'Content-Type': type, Accept: type } },
      (res) => {
        const sub: Subscription = {
          status: res.statusCode ?? 0,
          headers: res.headers,
          events: [],
          ended: false,
          waitEvent: (eventType, count = 1) =>
            waitFor(
              `${count}× ${eventType} on the executor stream (seen: ${sub.events.map((e) => e.type).join(', ')})`,
              () => sub.events.filter((e) => e.type === eventType)[count - 1],
            ),
          close: () => req.destroy(),
        };
        const decoder = new RecordIODecoder();
        res.on('data', (chunk: Buffer) => {
          for (const record of decoder.push(chunk)) sub.events.push(executorEvent.decode(record, encoding));
        });
        res.on('end', () => {
          sub.ended = true;
        });
        res.on('error', () => {});
        resolve(sub);
      },
    );
    req.on('error', reject);
    req.end(
      executorCall.encode(
        {
          executor_id: { value: executorId },
          framework_id: { value: frameworkId },
          type: 'SUBSCRIBE',
          subscribe: subscribeBody,
        },
        encoding,
      ),
    );
  });
}

export function uuidBytes(): Uint8Array {
  return Uint8Array.from(Buffer.from(crypto.randomUUID().replaceAll('-', ''), 'hex'));
}

/** True if a process with this pid (or process group, for a negative pid) exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
