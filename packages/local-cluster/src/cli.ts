#!/usr/bin/env node
/**
 * `mesoskit-local`: a Mesos-compatible master and agents on this machine.
 *
 *   mesoskit-local [--port 5050] [--agents 1 | --no-agents] [--resources "cpus:2;mem:2048;disk:4096;ports:[31000-32000]"]
 *                  [--work-dir DIR] [--credentials FILE] [--allocation-interval 50ms] [--log-level warn]
 *                  [--executor-authentication] [--agent-ping-timeout 15secs]
 *                  [--max-agent-ping-timeouts 5] [--executor-reregistration-timeout 2secs]
 *   mesoskit-local agent --master URL [--host 127.0.0.1] [--port 5051] [--resources TEXT]
 *                  [--work-dir DIR] [--log-level warn] [--executor-authentication]
 *                  [--executor-reregistration-timeout 2secs]
 *
 * The second form runs one agent in this process, registered with the master at URL over HTTP;
 * with --work-dir it recovers from its checkpoint there when restarted.
 *
 * Prints the master URL, then a one-line summary (frameworks, agents, tasks by state) that it
 * keeps current. Ctrl-C (SIGINT) or SIGTERM stops everything and kills every executor process
 * group. This file only parses arguments; the work is `startLocalCluster()`.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  createLogger,
  isMesoskitError,
  type LogLevel,
  parseDuration,
  parseResources,
} from '@mesoskit/protocol';
import { startLocalCluster } from './cluster.js';
import { startRemoteAgent } from './remote-agent.js';

const USAGE = `usage: mesoskit-local [--port 5050] [--agents 1 | --no-agents] [--resources TEXT] [--work-dir DIR]
                      [--credentials FILE] [--allocation-interval 50ms] [--log-level warn]
                      [--executor-authentication] [--agent-ping-timeout 15secs]
                      [--max-agent-ping-timeouts 5] [--executor-reregistration-timeout 2secs]
       mesoskit-local agent --master URL [--host 127.0.0.1] [--port 5051] [--resources TEXT]
                      [--work-dir DIR] [--log-level warn] [--executor-authentication]
                      [--executor-reregistration-timeout 2secs]`;

function fail(message: string): never {
  process.stderr.write(`mesoskit-local: ${message}\n`);
  process.exit(2);
}

function durationMs(flag: string, text: string): number {
  const ms = /^\d+$/.test(text) ? Number(text) : parseDuration(text.replace(/^(\d+(?:\.\d+)?)s$/, '$1secs'));
  if (ms === undefined) fail(`${flag} must be a duration such as 50ms, 1s or 1secs, got '${text}'`);
  return ms;
}

function positiveMs(flag: string, text: string): number {
  const ms = durationMs(flag, text);
  if (ms <= 0) fail(`${flag} must be longer than 0, got '${text}'`);
  return ms;
}

function positiveInteger(flag: string, text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1)
    fail(`${flag} must be a positive integer, got '${text}'`);
  return n;
}

/** Mesos' `--credentials` file: `{"credentials": [{"principal": "…", "secret": "…"}]}`. */
function readCredentials(path: string): { principal: string; secret: string }[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    fail(`cannot read credentials file ${path}: ${(err as Error).message}`);
  }
  const list = (parsed as { credentials?: unknown }).credentials;
  if (
    !Array.isArray(list) ||
    !list.every((c) => typeof c?.principal === 'string' && typeof c?.secret === 'string')
  ) {
    fail(`credentials file ${path} must hold {"credentials": [{"principal": "…", "secret": "…"}]}`);
  }
  return list as { principal: string; secret: string }[];
}

function logLevel(value: string | boolean | undefined): LogLevel {
  const level = (value ?? 'warn') as LogLevel;
  if (!['trace', 'debug', 'info', 'warn', 'error'].includes(level))
    fail(`--log-level must be trace|debug|info|warn|error`);
  return level;
}

function portOf(value: string | boolean | undefined, fallback: number): number {
  const port = Number(value ?? fallback);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    fail(`--port must be a port number, got '${value}'`);
  return port;
}

/** Ctrl-C / SIGTERM run `stop` once, then exit 0. */
function onSignals(stop: () => Promise<void>, before: () => void = () => {}): void {
  let stopping = false;
  const handler = (): void => {
    if (stopping) return;
    stopping = true;
    before();
    stop().then(
      () => process.exit(0),
      (err: unknown) => fail(`stopping failed: ${String(err)}`),
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

/** `mesoskit-local agent --master URL …`: one agent in this process. */
async function agentMain(argv: string[]): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        master: { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        resources: { type: 'string' },
        'work-dir': { type: 'string' },
        'log-level': { type: 'string' },
        'executor-reregistration-timeout': { type: 'string' },
        'executor-authentication': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    fail(`${(err as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (typeof values.master !== 'string') fail(`agent: --master URL is required\n${USAGE}`);
  let masterUrl: string;
  try {
    const url = new URL(values.master.includes('://') ? values.master : `http://${values.master}`);
    if (url.protocol !== 'http:') throw new Error('only http:// is supported');
    masterUrl = url.origin;
  } catch (err) {
    fail(`--master must be the master's URL, e.g. http://127.0.0.1:5050 (${(err as Error).message})`);
  }
  const level = logLevel(values['log-level']);
  let resources: ReturnType<typeof parseResources> | undefined;
  if (typeof values.resources === 'string') {
    try {
      resources = parseResources(values.resources);
    } catch (err) {
      fail(`--resources: ${(err as Error).message}`);
    }
  }
  const remote = await startRemoteAgent({
    masterUrl,
    port: portOf(values.port, 5051),
    ...(typeof values.host === 'string' && { host: values.host }),
    ...(resources && { resources }),
    ...(typeof values['work-dir'] === 'string' && { workDir: values['work-dir'] }),
    ...(values['executor-authentication'] === true && { executorAuthentication: true }),
    ...(typeof values['executor-reregistration-timeout'] === 'string' && {
      executorReregistrationTimeoutMs: positiveMs(
        '--executor-reregistration-timeout',
        values['executor-reregistration-timeout'],
      ),
    }),
    logger: createLogger({ level, base: { component: 'mesoskit-local-agent' } }),
  });
  onSignals(() => remote.stop());
  process.stdout.write(
    `mesoskit-local agent: ${remote.agentId} at ${remote.url}, registered with ${masterUrl}; Ctrl-C stops\n`,
  );
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === 'agent') {
    await agentMain(argv.slice(1));
    return;
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: 'string' },
        agents: { type: 'string' },
        'no-agents': { type: 'boolean' },
        resources: { type: 'string' },
        'work-dir': { type: 'string' },
        credentials: { type: 'string' },
        'allocation-interval': { type: 'string' },
        'agent-ping-timeout': { type: 'string' },
        'max-agent-ping-timeouts': { type: 'string' },
        'executor-reregistration-timeout': { type: 'string' },
        'log-level': { type: 'string' },
        'executor-authentication': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    fail(`${(err as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const port = portOf(values.port, 5050);
  if (values['no-agents'] === true && values.agents !== undefined)
    fail('--no-agents and --agents exclude each other');
  const agents = values['no-agents'] === true ? 0 : Number(values.agents ?? 1);
  if (!Number.isInteger(agents) || agents < 0)
    fail(`--agents must be a non-negative integer, got '${values.agents}'`);
  const level = logLevel(values['log-level']);

  const cluster = await startLocalCluster({
    port,
    agents,
    ...(typeof values.resources === 'string' && { resources: values.resources }),
    ...(typeof values['work-dir'] === 'string' && { workDir: values['work-dir'] }),
    ...(typeof values.credentials === 'string' && { credentials: readCredentials(values.credentials) }),
    ...(typeof values['allocation-interval'] === 'string' && {
      allocationIntervalMs: durationMs('--allocation-interval', values['allocation-interval']),
    }),
    ...(typeof values['agent-ping-timeout'] === 'string' && {
      agentPingTimeoutMs: positiveMs('--agent-ping-timeout', values['agent-ping-timeout']),
    }),
    ...(typeof values['max-agent-ping-timeouts'] === 'string' && {
      maxAgentPingTimeouts: positiveInteger('--max-agent-ping-timeouts', values['max-agent-ping-timeouts']),
    }),
    ...(typeof values['executor-reregistration-timeout'] === 'string' && {
      executorReregistrationTimeoutMs: positiveMs(
        '--executor-reregistration-timeout',
        values['executor-reregistration-timeout'],
      ),
    }),
    ...(values['executor-authentication'] === true && { executorAuthentication: true }),
    logger: createLogger({ level, base: { component: 'mesoskit-local' } }),
  });
  // Signal handlers first, before anything is printed: a Ctrl-C as soon as the URL shows must
  // stop the cluster (and its executors), not kill this process.
  let timer: NodeJS.Timeout | undefined;
  let stopping = false;
  const tty = process.stdout.isTTY;
  onSignals(
    () => cluster.stop(),
    () => {
      stopping = true;
      clearInterval(timer);
      if (tty) process.stdout.write('\n');
    },
  );

  process.stdout.write(
    `mesoskit-local: master at ${cluster.masterUrl} with ${agents} agent(s); Ctrl-C stops\n`,
  );
  let last = '';
  const summarise = async (): Promise<void> => {
    const line = summary(await cluster.state());
    if (line === last || stopping) return;
    last = line;
    process.stdout.write(tty ? `\r\x1b[2K${line}` : `${line}\n`);
  };
  timer = setInterval(() => {
    summarise().catch(() => {});
  }, 1000);
  await summarise();
}

/** `frameworks: 1 (1 active) | agents: 2 | tasks: 3 running, 10 finished`. */
function summary(state: Record<string, unknown>): string {
  const frameworks =
    (state.frameworks as { active?: boolean; tasks?: { state?: string }[] }[] | undefined) ?? [];
  const completed = (state.completed_frameworks as { tasks?: unknown[] }[] | undefined) ?? [];
  const agents = (state.slaves as unknown[] | undefined) ?? [];
  const byState = new Map<string, number>();
  for (const f of frameworks) {
    for (const t of f.tasks ?? []) {
      const s = (t.state ?? 'TASK_UNKNOWN').replace(/^TASK_/, '').toLowerCase();
      byState.set(s, (byState.get(s) ?? 0) + 1);
    }
  }
  const active = frameworks.filter((f) => f.active).length;
  const tasks = [...byState].map(([s, n]) => `${n} ${s}`).join(', ') || 'none';
  return `frameworks: ${frameworks.length} (${active} active, ${completed.length} completed) | agents: ${agents.length} | tasks: ${tasks}`;
}

main().catch((err: unknown) => {
  const message = isMesoskitError(err) || err instanceof Error ? err.message : String(err);
  fail(message);
});
