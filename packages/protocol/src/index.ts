/**
 * `@mesoskit/protocol`: every byte mesoskit puts on the wire, and nothing that opens a socket
 * or starts a timer.
 *
 * - The Mesos v1 messages of the scheduler and executor HTTP APIs, typed (`mesos.v1.…`) and
 *   encoded both ways Mesos speaks: `application/x-protobuf` and Mesos' own JSON.
 * - RecordIO, the framing of Mesos' event streams.
 * - Resource arithmetic (scalars, ranges, sets, roles) as Mesos does it.
 * - The Task contract (`defineTask`) and the MessagePack envelopes tasks travel in.
 *
 * @example
 * ```ts
 * import { RecordIODecoder, schedulerEvent } from '@mesoskit/protocol';
 *
 * const records = new RecordIODecoder();
 * for await (const chunk of response.body) {
 *   for (const record of records.push(chunk)) {
 *     const event = schedulerEvent.decode(record, 'json');
 *     if (event.type === 'UPDATE') console.log(event.update?.status.state);
 *   }
 * }
 * ```
 *
 * @packageDocumentation
 */

export { formatDuration, parseDuration } from './duration.js';
export type {
  DecodeEnvelopeOptions,
  EnvelopeInit,
  LaunchEnvelope,
  MessageEnvelope,
  MessageKind,
  ResultEnvelope,
} from './envelope.js';
/** The version of mesoskit's own envelopes (`v` in launch, result and message envelopes). */
export {
  decodeLaunchEnvelope,
  decodeMessageEnvelope,
  decodeResultEnvelope,
  ENVELOPE_VERSION as PROTOCOL_VERSION,
  ENVELOPE_VERSION,
  encodeLaunchEnvelope,
  encodeMessageEnvelope,
  encodeResultEnvelope,
} from './envelope.js';
export type {
  EnvelopeErrorCode,
  MesosMessageErrorCode,
  RecordIOErrorCode,
  ResourceErrorCode,
} from './errors.js';
export {
  EnvelopeError,
  InvalidOptionsError,
  isMesoskitError,
  MesoskitError,
  MesosMessageError,
  RecordIOError,
  ResourceError,
} from './errors.js';
export type { ToWireFailureOptions, WireFailure } from './failure.js';
export {
  DEFAULT_MAX_CAUSE_DEPTH,
  FAILURE_SUMMARY_LENGTH,
  failureSummary,
  MAX_CAUSE_DEPTH,
  MAX_FAILURE_TEXT_LENGTH,
  parseWireFailure,
  toWireFailure,
} from './failure.js';
export type { CreateLoggerOptions, LogFormat, Logger, LogLevel, PinoLike } from './logger.js';
export { childLogger, createLogger, fromPino, LOG_LEVELS, silentLogger } from './logger.js';
export type { MesosEncoding, MessageCodec } from './mesos/codec.js';
export {
  codecFor,
  encodingOfMediaType,
  executorCall,
  executorEvent,
  MEDIA_TYPES,
  schedulerCall,
  schedulerEvent,
} from './mesos/codec.js';
export type { Int64, mesos } from './mesos/types.generated.js';
export {
  DEFAULT_MAX_BYTES as DEFAULT_MAX_ENVELOPE_BYTES,
  MAX_DEPTH as MAX_ENVELOPE_DEPTH,
} from './msgpack.js';
export type { ReadRecordsOptions, RecordIODecoderOptions, RecordIOSource } from './record-io.js';
export {
  DEFAULT_MAX_RECORD_BYTES,
  encodeRecord,
  encodeRecords,
  RecordIODecoder,
  readRecords,
} from './record-io.js';
export type {
  ParseResourcesOptions,
  PickedPorts,
  PickPortsOptions,
  ResourceFilter,
  ResourceSpec,
  ResourceSpecOptions,
} from './resources.js';
export {
  addResources,
  allocateTo,
  containsResources,
  filterByRole,
  formatResources,
  isUnreserved,
  isValidRole,
  parseResources,
  pickPorts,
  rangesOf,
  reservationRole,
  resourcesFromSpec,
  scalarOf,
  subtractResources,
  validateResources,
} from './resources.js';
export type { DefineTaskOptions, TaskDefinition, TaskInput, TaskOutput, TaskResources } from './task.js';
export {
  DEFAULT_TASK_RESOURCES,
  DEFAULT_TASK_VERSION,
  defineTask,
  MAX_TASK_NAME_LENGTH,
} from './task.js';
export { isTerminalTaskState, TERMINAL_TASK_STATES } from './task-state.js';

import type { mesos } from './mesos/types.generated.js';

/** Shorthands for the Mesos messages every framework touches. */
export type SchedulerCall = mesos.v1.scheduler.Call;
export type SchedulerEvent = mesos.v1.scheduler.Event;
export type ExecutorCall = mesos.v1.executor.Call;
export type ExecutorEvent = mesos.v1.executor.Event;
export type FrameworkInfo = mesos.v1.FrameworkInfo;
export type Offer = mesos.v1.Offer;
export type Resource = mesos.v1.Resource;
export type TaskInfo = mesos.v1.TaskInfo;
export type TaskStatus = mesos.v1.TaskStatus;
export type TaskState = mesos.v1.TaskState;
export type ExecutorInfo = mesos.v1.ExecutorInfo;
export type CommandInfo = mesos.v1.CommandInfo;
