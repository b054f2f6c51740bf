/** How the integration tests start the real mesoskit-executor: its built CLI, handlers through tsx. */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type NodeExecutorOptions, nodeExecutor } from '../../src/index.js';

const require = createRequire(import.meta.url);
const EXECUTOR_CLI = join(dirname(require.resolve('@mesoskit/executor/package.json')), 'dist', 'cli.js');
const TSX = pathToFileURL(require.resolve('tsx')).href;
export const HANDLERS = fileURLToPath(new URL('../fixtures/handlers/handlers.ts', import.meta.url));

/** A nodeExecutor running the fixture handlers with the workspace's executor. */
export function testExecutor(options: Partial<NodeExecutorOptions> = {}) {
  return nodeExecutor({
    handlers: HANDLERS,
    command: `exec ${process.execPath} --import ${TSX} ${EXECUTOR_CLI}`,
    resources: { cpus: 0.1, memMb: 32 },
    ...options,
  });
}

/** Rejects with `message` if `promise` does not settle within `ms`. */
export function within<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${message} (within ${ms} ms)`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
