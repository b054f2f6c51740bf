/**
 * `connectTaskScheduler()`: the TaskScheduler of a demo built on it (hello, pi), with the
 * shared flags applied: the masters, `--user`, `--principal`/`--secret-file`, and one
 * `nodeExecutor` that starts `mesoskit-executor` with the demo's handler module as
 * `--executor-command` and `--ship-handlers` say.
 *
 * @module
 */
import { nodeExecutor, TaskScheduler } from '@mesoskit/scheduler';
import type { CommonArgs } from './args.js';
import type { ExecutorLaunch } from './executor-launch.js';

export function connectTaskScheduler(
  name: string,
  ctx: { common: CommonArgs; masters: string[] },
  launch: ExecutorLaunch,
  executor: { concurrency?: number } = {},
): Promise<TaskScheduler> {
  const { common, masters } = ctx;
  return TaskScheduler.connect({
    master: masters,
    framework: { name, ...(common.user !== undefined && { user: common.user }) },
    ...(common.credentials !== undefined && { credentials: common.credentials }),
    executors: nodeExecutor({
      name,
      handlers: launch.handlersModule,
      command: launch.launcher,
      uris: launch.uris,
      ...executor,
    }),
  });
}
