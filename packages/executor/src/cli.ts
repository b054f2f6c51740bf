#!/usr/bin/env node
/**
 * `mesoskit-executor`: the executor a Mesos agent starts from `ExecutorInfo.command`.
 *
 *   mesoskit-executor --handlers <module path or file URL> [--concurrency N] [--encoding json|protobuf]
 *                     [--log-format json|pretty] [--log-level L] [--idle-timeout 60s]
 *
 * This file only parses arguments and calls the library (`loadHandlers`, `runExecutor`); every
 * failure is one line on stderr and a non-zero exit code.
 */
import { parseArgs } from 'node:util';
import type { LogFormat, LogLevel } from '@mesoskit/protocol';
import { subscribeEarly } from './pre-subscribe.js';

// Only node:util and the early SUBSCRIBE load before SUBSCRIBE is sent; the runtime,
// @mesoskit/protocol (protobufjs, MessagePack) and the handler module load while the agent answers.
const LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error'];

const USAGE = `usage: mesoskit-executor --handlers <module path or file URL> [--concurrency N]
                         [--encoding json|protobuf] [--log-format json|pretty] [--log-level L]
                         [--idle-timeout 60s] [--kill-grace 3s] [--running-update-delay 0ms]`;

function fail(message: string, code = 2): never {
  process.stderr.write(`mesoskit-executor: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
  process.exit(code);
}

function durationMs(parseDuration: (text: string) => number | undefined, flag: string, text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) fail(`${flag} must be a duration such as 60s, 500ms or 2m, got '${text}'`);
  return ms;
}

async function main(): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: process.argv.slice(2),
      options: {
        handlers: { type: 'string' },
        concurrency: { type: 'string' },
        encoding: { type: 'string' },
        'log-format': { type: 'string' },
        'log-level': { type: 'string' },
        'idle-timeout': { type: 'string' },
        'kill-grace': { type: 'string' },
        'running-update-delay': { type: 'string' },
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
  if (typeof values.handlers !== 'string') fail('--handlers <module path or file URL> is required');
  const format = (values['log-format'] ?? 'json') as LogFormat;
  if (format !== 'json' && format !== 'pretty') fail(`--log-format must be json or pretty, got '${format}'`);
  const level = (values['log-level'] ?? 'info') as LogLevel;
  if (!LEVELS.includes(level)) fail(`--log-level must be one of ${LEVELS.join('|')}, got '${level}'`);
  const encoding = values.encoding ?? 'protobuf';
  if (encoding !== 'json' && encoding !== 'protobuf')
    fail(`--encoding must be json or protobuf, got '${encoding}'`);
  let concurrency: number | undefined;
  if (typeof values.concurrency === 'string') {
    concurrency = Number(values.concurrency);
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
      fail(`--concurrency must be a positive integer, got '${values.concurrency}'`);
    }
  }
  // Arguments are good: subscribe now, load the rest meanwhile.
  subscribeEarly({ env: process.env, encoding });
  const [{ createLogger, parseDuration }, { runExecutor }, { loadHandlers }] = await Promise.all([
    import('@mesoskit/protocol'),
    import('./executor.js'),
    import('./load.js'),
  ]);
  const logger = createLogger({ level, format, base: { component: 'mesoskit-executor' } });

  let registry: Awaited<ReturnType<typeof loadHandlers>>;
  try {
    registry = await loadHandlers(values.handlers);
  } catch (err) {
    fail((err as Error).message);
  }
  let executor: Awaited<ReturnType<typeof runExecutor>>;
  try {
    executor = await runExecutor({
      handlers: registry,
      encoding,
      logger,
      catchProcessErrors: true,
      ...(concurrency !== undefined && { concurrency }),
      ...(typeof values['idle-timeout'] === 'string' && {
        idleTimeoutMs: durationMs(parseDuration, '--idle-timeout', values['idle-timeout']),
      }),
      ...(typeof values['running-update-delay'] === 'string' && {
        runningUpdateDelayMs: durationMs(
          parseDuration,
          '--running-update-delay',
          values['running-update-delay'],
        ),
      }),
      ...(typeof values['kill-grace'] === 'string' && {
        killGracePeriodMs: durationMs(parseDuration, '--kill-grace', values['kill-grace']),
      }),
    });
  } catch (err) {
    fail((err as Error).message, 1);
  }
  const stop = (): void => {
    void executor.stop();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const exit = await executor.closed();
  if (exit.error) process.stderr.write(`mesoskit-executor: ${exit.reason}: ${exit.error.message}\n`);
  process.exit(exit.exitCode);
}

main().catch((err: unknown) => fail(err instanceof Error ? err.message : String(err), 1));
