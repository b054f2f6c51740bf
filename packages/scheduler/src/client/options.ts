/**
 * Options of {@link MesosSchedulerClient.connect}: `MesosSchedulerClientOptions` →
 * `resolveSchedulerClientOptions()` → `ResolvedSchedulerClientOptions`.
 *
 * @module
 */
import { userInfo } from 'node:os';
import {
  type FrameworkInfo,
  InvalidOptionsError,
  type Logger,
  type MesosEncoding,
  silentLogger,
} from '@mesoskit/protocol';
import type { FrameworkIdStore } from './framework-id-store.js';

/** The scheduler endpoint path appended to a master URL given without a path. */
export const SCHEDULER_API_PATH = '/api/v1/scheduler';
export const DEFAULT_ENCODING: MesosEncoding = 'protobuf';
export const DEFAULT_HEARTBEAT_MISSED_INTERVALS = 5;
export const DEFAULT_RECONNECT_INITIAL_MS = 500;
export const DEFAULT_RECONNECT_MAX_MS = 15_000;
export const DEFAULT_RECONNECT_JITTER = 0.2;
export const DEFAULT_MAX_REDIRECTS = 5;
export const DEFAULT_CALL_TIMEOUT_MS = 75_000;
export const DEFAULT_RECONCILE_ON_RESUBSCRIBE = 'implicit';
export const DEFAULT_EVENT_BUFFER_HIGH_WATER_MARK = 1024;
export const DEFAULT_EVENT_BUFFER_LOW_WATER_MARK = 256;

/** A FrameworkInfo whose `user` may be left out (it defaults to the OS user). */
export type FrameworkInfoInput = Omit<FrameworkInfo, 'user'> & { user?: string };

export interface ReconnectOptions {
  /** @default 500 */
  initialMs?: number;
  /** @default 15000 (Mesos' guidance: exponential, capped around 15 s) */
  maxMs?: number;
  /** Fraction of each delay removed at random (0 = none, 1 = full jitter). @default 0.2 */
  jitter?: number;
}

/**
 * Flow control of the event stream. Events waiting for the `events()` consumer plus events whose
 * callbacks have not settled yet are "buffered". At `highWaterMark` the client stops reading the
 * subscription socket (the master's writes then back up through TCP); below `lowWaterMark` it
 * reads again. Nothing is ever dropped.
 */
export interface EventBufferOptions {
  /** @default 1024 */
  highWaterMark?: number;
  /** @default 256 */
  lowWaterMark?: number;
}

export interface MesosSchedulerClientOptions {
  /**
   * One master URL (`http://host:5050`) or several. A URL without a path gets `/api/v1/scheduler`.
   * Masters are tried in order; a 307 from a non-leader is followed.
   */
  master: string | readonly string[];
  /** The framework to subscribe as. `user` defaults to the OS user. Set `failover_timeout` to survive reconnects. */
  framework: FrameworkInfoInput;
  /**
   * Wire encoding of calls and events.
   * @default 'protobuf'
   */
  encoding?: MesosEncoding;
  /** HTTP Basic credentials sent on every request. */
  credentials?: { principal: string; secret: string };
  /** Extra CA certificate(s) for `https` masters. */
  ca?: string | Buffer | readonly (string | Buffer)[];
  /**
   * `auto`: acknowledge every update that carries a `uuid` once all `update` callbacks resolved
   * (not if one rejects; never one without `uuid`). `manual`: call `acknowledge()` yourself.
   * @default 'auto'
   */
  ack?: 'auto' | 'manual';
  /**
   * Reconnect when nothing arrived on the stream for this many heartbeat intervals.
   * @default 5
   */
  heartbeatMissedIntervals?: number;
  /** Backoff between reconnect attempts. */
  reconnect?: ReconnectOptions;
  /** @default 5 */
  maxRedirects?: number;
  /** Timeout of each call and of SUBSCRIBE's response headers. @default 75000 */
  callTimeoutMs?: number;
  /** @default silent */
  logger?: Logger;
  /** Random source for jitter (tests). @default Math.random */
  random?: () => number;
  /**
   * Where the framework id is kept between runs. `connect()` loads it and subscribes with it
   * (failover to the existing framework), every SUBSCRIBED saves it, `ERROR Framework has been
   * removed` and `teardown()` clear it. An explicit `framework.id` wins over the stored id.
   * @default none (the id lives only as long as the client)
   */
  frameworkIdStore?: FrameworkIdStore;
  /**
   * What to do after a SUBSCRIBED that resumed an existing framework (every reconnect, and a
   * `connect()` with a known framework id): `'implicit'` sends an implicit RECONCILE (the master
   * answers with the latest state of every task it knows, as updates without uuid); `'none'`
   * leaves reconciliation to you (e.g. explicit reconciliation of the tasks you track).
   * @default 'implicit'
   */
  reconcileOnResubscribe?: 'implicit' | 'none';
  /** Flow control of the event stream; see {@link EventBufferOptions}. */
  eventBuffer?: EventBufferOptions;
  /**
   * Wire tracing: logs every call sent and every event received at `trace` level (type, byte
   * sizes, HTTP status, time). Never logs credentials, headers or payloads.
   * @default false
   */
  debug?: boolean;
}

export interface ResolvedSchedulerClientOptions {
  masters: URL[];
  framework: FrameworkInfo;
  encoding: MesosEncoding;
  authorization: string | undefined;
  ca: string | Buffer | (string | Buffer)[] | undefined;
  ack: 'auto' | 'manual';
  heartbeatMissedIntervals: number;
  reconnect: Required<ReconnectOptions>;
  maxRedirects: number;
  callTimeoutMs: number;
  logger: Logger;
  random: () => number;
  frameworkIdStore: FrameworkIdStore | undefined;
  reconcileOnResubscribe: 'implicit' | 'none';
  eventBuffer: Required<EventBufferOptions>;
  debug: boolean;
}

function positive(name: string, value: number | undefined, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new InvalidOptionsError(
      `${name} must be a ${allowZero ? 'non-negative' : 'positive'} number, got ${String(value)}`,
    );
  }
  return value;
}

function masterUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch (cause) {
    throw new InvalidOptionsError(`master is not a URL: ${JSON.stringify(text)}`, { cause });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidOptionsError(`master must be an http: or https: URL, got ${JSON.stringify(text)}`);
  }
  if (url.pathname === '/' || url.pathname === '') url.pathname = SCHEDULER_API_PATH;
  return url;
}

/** Applies defaults; throws `InvalidOptionsError` naming the offending field. */
export function resolveSchedulerClientOptions(
  options: MesosSchedulerClientOptions,
): ResolvedSchedulerClientOptions {
  if (options === null || typeof options !== 'object')
    throw new InvalidOptionsError('options must be an object');
  const list = typeof options.master === 'string' ? [options.master] : options.master;
  if (!Array.isArray(list) || list.length === 0) {
    throw new InvalidOptionsError('master must be a URL or a non-empty list of URLs');
  }
  const masters = list.map(masterUrl);
  const fw = options.framework;
  if (fw === null || typeof fw !== 'object' || typeof fw.name !== 'string' || fw.name === '') {
    throw new InvalidOptionsError('framework.name must be a non-empty string');
  }
  const framework: FrameworkInfo = { ...fw, user: fw.user ?? userInfo().username };
  const encoding = options.encoding ?? DEFAULT_ENCODING;
  if (encoding !== 'json' && encoding !== 'protobuf') {
    throw new InvalidOptionsError(`encoding must be 'json' or 'protobuf', got ${String(encoding)}`);
  }
  const ack = options.ack ?? 'auto';
  if (ack !== 'auto' && ack !== 'manual') {
    throw new InvalidOptionsError(`ack must be 'auto' or 'manual', got ${String(ack)}`);
  }
  let authorization: string | undefined;
  if (options.credentials !== undefined) {
    const { principal, secret } = options.credentials;
    if (typeof principal !== 'string' || typeof secret !== 'string' || principal.includes(':')) {
      throw new InvalidOptionsError(
        'credentials must be { principal, secret } strings, principal without ":"',
      );
    }
    authorization = `Basic ${Buffer.from(`${principal}:${secret}`).toString('base64')}`;
  }
  const initialMs = positive(
    'reconnect.initialMs',
    options.reconnect?.initialMs,
    DEFAULT_RECONNECT_INITIAL_MS,
  );
  const maxMs = positive('reconnect.maxMs', options.reconnect?.maxMs, DEFAULT_RECONNECT_MAX_MS);
  if (maxMs < initialMs) throw new InvalidOptionsError('reconnect.maxMs must be >= reconnect.initialMs');
  const jitter = positive('reconnect.jitter', options.reconnect?.jitter, DEFAULT_RECONNECT_JITTER, true);
  if (jitter > 1) throw new InvalidOptionsError('reconnect.jitter must be between 0 and 1');
  const reconcileOnResubscribe = options.reconcileOnResubscribe ?? DEFAULT_RECONCILE_ON_RESUBSCRIBE;
  if (reconcileOnResubscribe !== 'implicit' && reconcileOnResubscribe !== 'none') {
    throw new InvalidOptionsError(
      `reconcileOnResubscribe must be 'implicit' or 'none', got ${String(reconcileOnResubscribe)}`,
    );
  }
  const store = options.frameworkIdStore;
  if (
    store !== undefined &&
    (store === null ||
      typeof store.load !== 'function' ||
      typeof store.save !== 'function' ||
      typeof store.clear !== 'function')
  ) {
    throw new InvalidOptionsError('frameworkIdStore must have load(), save() and clear()');
  }
  const highWaterMark = positive(
    'eventBuffer.highWaterMark',
    options.eventBuffer?.highWaterMark,
    DEFAULT_EVENT_BUFFER_HIGH_WATER_MARK,
  );
  const lowWaterMark = positive(
    'eventBuffer.lowWaterMark',
    options.eventBuffer?.lowWaterMark,
    Math.min(DEFAULT_EVENT_BUFFER_LOW_WATER_MARK, Math.floor(highWaterMark / 4)),
    true,
  );
  if (lowWaterMark >= highWaterMark) {
    throw new InvalidOptionsError('eventBuffer.lowWaterMark must be below eventBuffer.highWaterMark');
  }
  return {
    masters,
    framework,
    encoding,
    authorization,
    ca:
      options.ca === undefined
        ? undefined
        : Array.isArray(options.ca)
          ? [...options.ca]
          : (options.ca as string | Buffer),
    ack,
    heartbeatMissedIntervals: positive(
      'heartbeatMissedIntervals',
      options.heartbeatMissedIntervals,
      DEFAULT_HEARTBEAT_MISSED_INTERVALS,
    ),
    reconnect: { initialMs, maxMs, jitter },
    maxRedirects: positive('maxRedirects', options.maxRedirects, DEFAULT_MAX_REDIRECTS, true),
    callTimeoutMs: positive('callTimeoutMs', options.callTimeoutMs, DEFAULT_CALL_TIMEOUT_MS),
    logger: options.logger ?? silentLogger,
    random: options.random ?? Math.random,
    frameworkIdStore: store,
    reconcileOnResubscribe,
    eventBuffer: { highWaterMark, lowWaterMark },
    debug: options.debug === true,
  };
}
