/**
 * `@mesoskit/protocol`: every byte mesoskit puts on the wire, and nothing that opens a socket
 * or starts a timer.
 *
 * @packageDocumentation
 */

/** The version of mesoskit's own envelopes (`v` in launch, result and message envelopes). */
export const PROTOCOL_VERSION = 1;

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
