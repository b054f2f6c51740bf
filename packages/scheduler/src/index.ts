/**
 * `@mesoskit/scheduler`: a Mesos v1 scheduler HTTP API client. The low-level
 * {@link MesosSchedulerClient} is here; the typed `TaskScheduler` is not built yet.
 *
 * @packageDocumentation
 */
export * from './client/index.js';
