/**
 * `@mesoskit/scheduler`: run typed tasks on Apache Mesos.
 *
 * - {@link TaskScheduler}: submit typed tasks (`submit`, `run`, `map`), get typed results, with
 *   offer packing, executors reused per agent, retries, timeouts, cancellation and failover.
 * - {@link MesosSchedulerClient}: the Mesos v1 scheduler HTTP API client under it, for
 *   frameworks that do their own scheduling.
 *
 * @packageDocumentation
 */
export * from './client/index.js';
export * from './tasks/index.js';
