#!/usr/bin/env node
/**
 * `mesoskit-local`: a Mesos-compatible master and agents on this machine.
 *
 *   mesoskit-local [--port 5050] [--agents 1] [--resources "cpus:2;mem:2048;disk:4096;ports:[31000-32000]"]
 *                  [--work-dir DIR] [--credentials FILE] [--allocation-interval 50ms] [--log-level warn]
 *                  [--executor-authentication]
 *
 * Prints the master URL, then a one-line summary (frameworks, agents, tasks by state) that it
 * keeps current. Ctrl-C (SIGINT) or SIGTERM stops everything and kills every executor process
 * group. This file only parses arguments; the work is `startLocalCluster()`.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createLogger, isMesoskitError, type LogLevel, parseDuration } from '@mesoskit/protocol';
import { startLocalCluster } from './cluster.js';

const USAGE = `usage: mesoskit-local [--port 5050] [--agents 1] [--resources TEXT] [--work-dir DIR]
                      [--credentials FILE] [--allocation-interval 50ms] [--log-level warn]
                      [--executor-authentication]`;

function fail(message: string): never {
  process.stderr.write(`mesoskit-local: ${message}\n`);
  process.exit(2);
}

function durationMs(flag: string, text: string): number {
  const ms = /^\d+$/.test(text) ? Number(text) : parseDuration(text.replace(/^(\d+(?:\.\d+)?)s$/, '$1secs'));
  if (ms === undefined) fail(`${flag} must be a duration such as 50ms, 1s or 1secs, got '${text}'`);
  return ms;
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

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === 'agent') {
    fail(
      'running an agent as its own process is not available yet: agents run inside the ' +
        'mesoskit-local process (use --agents N)',
    );
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: 'string' },
        agents: { type: 'string' },
        resources: { type: 'string' },
        'work-dir': { type: 'string' },
        credentials: { type: 'string' },
        'allocation-interval': { type: 'string' },
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
  const port = Number(values.port ?? 5050);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    fail(`--port must be a port number, got '${values.port}'`);
  const agents = Number(values.agents ?? 1);
  if (!Number.isInteger(agents) || agents < 1)
    fail(`--agents must be a positive integer, got '${values.agents}'`);
  const level = (values['log-level'] ?? 'warn') as LogLevel;
  if (!['trace', 'debug', 'info', 'warn', 'error'].includes(level))
    fail(`--log-level must be trace|debug|info|warn|error`);

  const cluster = await startLocalCluster({
    port,
    agents,
    ...(typeof values.resources === 'string' && { resources: values.resources }),
    ...(typeof values['work-dir'] === 'string' && { workDir: values['work-dir'] }),
    ...(typeof values.credentials === 'string' && { credentials: readCredentials(values.credentials) }),
    ...(typeof values['allocation-interval'] === 'string' && {
      allocationIntervalMs: durationMs('--allocation-interval', values['allocation-interval']),
    }),
    ...(values['executor-authentication'] === true && { executorAuthentication: true }),
    logger: createLogger({ level, base: { component: 'mesoskit-local' } }),
  });
  // Signal handlers first, before anything is printed: a Ctrl-C as soon as the URL shows must
  // stop the cluster (and its executors), not kill this process.
  let timer: NodeJS.Timeout | undefined;
  let stopping = false;
  const tty = process.stdout.isTTY;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    clearInterval(timer);
    if (tty) process.stdout.write('\n');
    cluster.stop().then(
      () => process.exit(0),
      (err: unknown) => fail(`stopping failed: ${String(err)}`),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

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
