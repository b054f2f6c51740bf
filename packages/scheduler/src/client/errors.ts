/**
 * Errors raised by {@link MesosSchedulerClient}. Each has a stable `code`; branch on it.
 *
 * @module
 */
import { MesoskitError } from '@mesoskit/protocol';

/** The master answered a call (or SUBSCRIBE) with an unexpected HTTP status. */
export class MesosHttpError extends MesoskitError {
  override readonly name = 'MesosHttpError';
  declare readonly code: 'MESOS_HTTP_ERROR';
  /** The HTTP status, e.g. `400`, `403`, `503`. */
  readonly status: number;
  /** The response body as text (Mesos puts its reason here), possibly empty. */
  readonly body: string;
  /** The call type that failed, e.g. `ACCEPT`. */
  readonly callType: string;

  constructor(callType: string, status: number, body: string, options?: ErrorOptions) {
    super('MESOS_HTTP_ERROR', `${callType} failed with HTTP ${status}${body ? `: ${body}` : ''}`, options);
    this.status = status;
    this.body = body;
    this.callType = callType;
  }
}

/**
 * A call was made while the client had no live subscription (before SUBSCRIBED, during a
 * reconnect, or after `close()`). Calls are never queued: retry after the next `subscribed`.
 */
export class NotSubscribedError extends MesoskitError {
  override readonly name = 'NotSubscribedError';
  declare readonly code: 'NOT_SUBSCRIBED';
  constructor(message: string, options?: ErrorOptions) {
    super('NOT_SUBSCRIBED', message, options);
  }
}

/**
 * The subscription ended for good: the master sent an `ERROR` event (subscription refused,
 * `Framework failed over`, `Framework has been removed`), or `connect()` could not subscribe.
 */
export class SubscriptionLostError extends MesoskitError {
  override readonly name = 'SubscriptionLostError';
  declare readonly code: 'SUBSCRIPTION_LOST';
  constructor(message: string, options?: ErrorOptions) {
    super('SUBSCRIPTION_LOST', message, options);
  }
}

/** A call got no answer within `callTimeoutMs`; the call connection was dropped. */
export class CallTimeoutError extends MesoskitError {
  override readonly name = 'CallTimeoutError';
  declare readonly code: 'CALL_TIMEOUT';
  readonly timeoutMs: number;
  constructor(host: string, timeoutMs: number) {
    super('CALL_TIMEOUT', `no response from ${host} within ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}
