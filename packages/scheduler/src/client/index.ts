export type {
  ConnectionStatus,
  DisconnectedInfo,
  SchedulerClientEvents,
  SubscribedInfo,
} from './client.js';
export { MesosSchedulerClient } from './client.js';
export { MesosHttpError, NotSubscribedError, SubscriptionLostError } from './errors.js';
export type {
  FrameworkInfoInput,
  MesosSchedulerClientOptions,
  ReconnectOptions,
  ResolvedSchedulerClientOptions,
} from './options.js';
export {
  DEFAULT_CALL_TIMEOUT_MS,
  DEFAULT_ENCODING,
  DEFAULT_HEARTBEAT_MISSED_INTERVALS,
  DEFAULT_MAX_REDIRECTS,
  DEFAULT_RECONNECT_INITIAL_MS,
  DEFAULT_RECONNECT_JITTER,
  DEFAULT_RECONNECT_MAX_MS,
  resolveSchedulerClientOptions,
  SCHEDULER_API_PATH,
} from './options.js';
