export type {
  ConnectionStatus,
  DisconnectedInfo,
  SchedulerClientEvents,
  SubscribedInfo,
} from './client.js';
export { MesosSchedulerClient } from './client.js';
export { CallTimeoutError, MesosHttpError, NotSubscribedError, SubscriptionLostError } from './errors.js';
export type { FrameworkIdStore } from './framework-id-store.js';
export { fileFrameworkIdStore, memoryFrameworkIdStore } from './framework-id-store.js';
export type {
  EventBufferOptions,
  FrameworkInfoInput,
  MesosSchedulerClientOptions,
  ReconnectOptions,
  ResolvedSchedulerClientOptions,
} from './options.js';
export {
  DEFAULT_CALL_TIMEOUT_MS,
  DEFAULT_ENCODING,
  DEFAULT_EVENT_BUFFER_HIGH_WATER_MARK,
  DEFAULT_EVENT_BUFFER_LOW_WATER_MARK,
  DEFAULT_HEARTBEAT_MISSED_INTERVALS,
  DEFAULT_MAX_REDIRECTS,
  DEFAULT_RECONCILE_ON_RESUBSCRIBE,
  DEFAULT_RECONNECT_INITIAL_MS,
  DEFAULT_RECONNECT_JITTER,
  DEFAULT_RECONNECT_MAX_MS,
  resolveSchedulerClientOptions,
  SCHEDULER_API_PATH,
} from './options.js';
