/**
 * The local master: a single-process, Mesos-compatible master for development and tests.
 *
 * @example
 * ```ts
 * import { LocalMaster } from './master/index.js';
 *
 * const master = await LocalMaster.start({ port: 5050 });
 * // agents: await master.registerAgent(registration, agentApi)
 * // schedulers: POST `${master.url}/api/v1/scheduler`
 * await master.stop();
 * ```
 */
export {
  DEFAULT_ALLOCATION_INTERVAL_MS,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  LocalMaster,
  type LocalMasterOptions,
  MESOS_VERSION,
} from './master.js';
