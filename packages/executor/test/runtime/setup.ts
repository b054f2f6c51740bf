/** Shared setup of the runtime tests: a fake agent and an executor subscribed to it. */
import { afterEach } from 'vitest';
import { type Executor, type ExecutorOptions, type Logger, runExecutor } from '../../src/index.js';
import { FakeAgent, type FakeAgentOptions } from '../helpers/fake-agent.js';
import { gates, testHandlers } from '../helpers/tasks.js';

export interface LogEntry {
  level: string;
  message: string;
  meta: Record<string, unknown> | undefined;
}

export interface Harness {
  agent: FakeAgent;
  executor: Executor;
  logs: LogEntry[];
}

let open: Harness[] = [];

afterEach(async () => {
  const list = open;
  open = [];
  for (const h of list) {
    await h.executor.stop();
    await h.agent.close();
  }
  gates.reset();
});

export function recordingLogger(logs: LogEntry[]): Logger {
  const at =
    (level: string) =>
    (message: string, meta?: Record<string, unknown>): void => {
      logs.push({ level, message, meta });
    };
  return { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Starts a fake agent and an executor subscribed to it. */
export async function start(
  options: Partial<ExecutorOptions> & {
    agentOptions?: FakeAgentOptions;
    env?: Record<string, string>;
    /** Runs once the agent listens, before runExecutor. */
    beforeRun?: (agent: FakeAgent) => Promise<void>;
  } = {},
): Promise<Harness> {
  const { agentOptions, env, beforeRun, ...rest } = options;
  const agent = await FakeAgent.start(agentOptions);
  await beforeRun?.(agent);
  const logs: LogEntry[] = [];
  let executor: Executor;
  try {
    executor = await runExecutor({
      handlers: testHandlers,
      encoding: 'json',
      logger: recordingLogger(logs),
      killGracePeriodMs: 200,
      // TASK_RUNNING at once, so that every test sees it (the default delay is tested on its own).
      runningUpdateDelayMs: 0,
      progressIntervalMs: 0,
      env: agent.env(env),
      ...rest,
    });
  } catch (err) {
    await agent.close();
    throw err;
  }
  const h = { agent, executor, logs };
  open.push(h);
  return h;
}

/** Resolves with the executor's exit, or rejects naming what did not happen. */
export function closedWithin(executor: Executor, timeoutMs = 5000) {
  return Promise.race([
    executor.closed(),
    new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`executor did not close within ${timeoutMs} ms`)), timeoutMs),
    ),
  ]);
}
