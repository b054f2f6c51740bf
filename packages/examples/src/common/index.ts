/**
 * What the demos share: flags, the embedded local cluster, and the executor command.
 *
 * @module
 */
export type { CommonArgs, DemoOptions, DemoSpec, ParsedArgs } from './args.js';
export { parseDemoArgs, UsageError, usage } from './args.js';
export {
  defaultExecutorLauncher,
  executorCliPath,
  executorCommand,
  shellQuote,
  siblingModule,
} from './executor-command.js';
export type { ExecutorLaunch } from './executor-launch.js';
export { prepareExecutorLaunch } from './executor-launch.js';
export type { DemoContext } from './run.js';
export { runDemo } from './run.js';
export { connectTaskScheduler } from './task-scheduler.js';
