/**
 * Failures as data. A handler may throw anything; the executor turns it into a small
 * {@link WireFailure} record that crosses the wire in the result envelope, and the scheduler
 * rebuilds a typed error from it. Branch on `code`, never on a remote `instanceof`.
 *
 * ```ts
 * import { failureSummary, toWireFailure } from '@mesoskit/protocol';
 *
 * const failure = toWireFailure(new Error('fetch failed', { cause: err }), { includeStack: false });
 * status.message = failureSummary(failure); // 'Error: fetch failed' (one line, for the Mesos UI)
 * ```
 *
 * @module
 */

import { EnvelopeError, type EnvelopeErrorCode } from './errors.js';
import { encodeMsgpackShared } from './msgpack.js';

/** A thrown value, as data. Versioned with the result envelope it travels in. */
export interface WireFailure {
  /** `error.name` of the thrown error, e.g. `TypeError`; `Error` for a non-error value. */
  name: string;
  /** A stable machine code, e.g. `BAD_INPUT` or `ECONNRESET`. Branch on this. */
  code?: string;
  /** The error message (at most {@link MAX_FAILURE_TEXT_LENGTH} characters). */
  message: string;
  /** Whether another attempt may succeed. Default `true`; `false` for non-retryable errors. */
  retryable: boolean;
  /** The stack trace, only when asked for (at most {@link MAX_FAILURE_TEXT_LENGTH} characters). */
  stack?: string;
  /** Extra data given by the thrower; always MessagePack-encodable. */
  details?: unknown;
  /** The failure that caused this one. */
  cause?: WireFailure;
}

/** Options of {@link toWireFailure}. */
export interface ToWireFailureOptions {
  /** Include `stack` (of the failure and its causes). Default `false`. */
  includeStack?: boolean;
  /**
   * How many `cause` links to keep; deeper causes (and cycles) are cut. An integer from 0 to
   * {@link MAX_CAUSE_DEPTH}, clamped to that range.
   *
   * @default 8 (`DEFAULT_MAX_CAUSE_DEPTH`)
   */
  maxCauseDepth?: number;
}

/** The default number of `cause` links {@link toWireFailure} keeps. */
export const DEFAULT_MAX_CAUSE_DEPTH = 8;

/** The most `cause` links a failure may have, when building one and when decoding one. */
export const MAX_CAUSE_DEPTH = 32;

/** `message` and `stack` longer than this many characters are cut (and end with `…`). */
export const MAX_FAILURE_TEXT_LENGTH = 32 * 1024;

/** The longest {@link failureSummary}, in characters. */
export const FAILURE_SUMMARY_LENGTH = 200;

/**
 * Normalises anything thrown into a {@link WireFailure}. Never throws.
 *
 * - An `Error` (or any object): `name` and `message` when they are strings, `code` when a string,
 *   `retryable` when a boolean (else `true`), `details` when present and MessagePack-encodable,
 *   `cause` recursively up to `maxCauseDepth` links (a cycle ends the chain), `stack` only with
 *   `includeStack`. An object without a string `message` gets a JSON sketch of itself instead.
 * - A string: `{ name: 'Error', message: theString, retryable: true }`.
 * - Anything else (`undefined`, `null`, numbers, symbols...): `name: 'Error'` and a message such
 *   as `Non-error value thrown: undefined`.
 */
export function toWireFailure(err: unknown, options?: ToWireFailureOptions): WireFailure {
  const includeStack = options?.includeStack === true;
  const requested = options?.maxCauseDepth;
  const maxDepth =
    typeof requested === 'number' && !Number.isNaN(requested)
      ? Math.min(Math.max(Math.floor(requested), 0), MAX_CAUSE_DEPTH)
      : DEFAULT_MAX_CAUSE_DEPTH;
  try {
    return convert(err, includeStack, maxDepth, new Set());
  } catch {
    return { name: 'Error', message: 'An unrepresentable value was thrown', retryable: true };
  }
}

function convert(err: unknown, includeStack: boolean, depthLeft: number, seen: Set<object>): WireFailure {
  if (typeof err === 'string') return { name: 'Error', message: clip(err), retryable: true };
  if (typeof err === 'function') {
    return {
      name: 'Error',
      message: `Non-error value thrown: [function ${safeString(err.name)}]`,
      retryable: true,
    };
  }
  if (typeof err !== 'object' || err === null) {
    return { name: 'Error', message: `Non-error value thrown: ${safeString(err)}`, retryable: true };
  }
  seen.add(err);
  const name = get(err, 'name');
  const message = get(err, 'message');
  const code = get(err, 'code');
  const retryable = get(err, 'retryable');
  const failure: WireFailure = {
    name: typeof name === 'string' && name !== '' ? clip(name, 200) : 'Error',
    message: typeof message === 'string' ? clip(message) : `Non-error value thrown: ${sketch(err)}`,
    retryable: typeof retryable === 'boolean' ? retryable : true,
  };
  if (typeof code === 'string') failure.code = clip(code, 200);
  if (includeStack) {
    const stack = get(err, 'stack');
    if (typeof stack === 'string') failure.stack = clip(stack);
  }
  const details = get(err, 'details');
  if (details !== undefined && encodable(details)) failure.details = details;
  const cause = get(err, 'cause');
  if (cause != null && depthLeft > 0 && !(typeof cause === 'object' && seen.has(cause))) {
    failure.cause = convert(cause, includeStack, depthLeft - 1, seen);
  }
  return failure;
}

function get(target: object, key: string): unknown {
  try {
    return (target as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

function encodable(value: unknown): boolean {
  try {
    encodeMsgpackShared(value);
    return true;
  } catch {
    return false;
  }
}

function clip(text: string, max: number = MAX_FAILURE_TEXT_LENGTH): string {
  if (text.length <= max) return text;
  let cut = max - 1;
  const last = text.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut--; // do not split a surrogate pair
  return `${text.slice(0, cut)}…`;
}

function safeString(value: unknown): string {
  try {
    return typeof value === 'bigint' ? `${value}n` : String(value);
  } catch {
    return typeof value;
  }
}

function sketch(value: object): string {
  try {
    const json = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));
    if (typeof json === 'string') return clip(json, 1000);
  } catch {
    // cyclic or hostile: fall through
  }
  return safeString(Object.prototype.toString.call(value));
}

/**
 * A one-line summary for `TaskStatus.message`: `name[code]: message` (or `name: message`), all
 * whitespace runs (newlines included) collapsed to one space, cut to
 * {@link FAILURE_SUMMARY_LENGTH} characters ending with `…`.
 */
export function failureSummary(f: WireFailure): string {
  const head = typeof f.code === 'string' && f.code !== '' ? `${f.name}[${f.code}]` : String(f.name);
  const message = String(f.message);
  const line = (message === '' ? head : `${head}: ${message}`).replace(/\s+/g, ' ').trim();
  return clip(line, FAILURE_SUMMARY_LENGTH);
}

/**
 * Validates a decoded value as a {@link WireFailure} and returns a fresh plain copy with only the
 * known fields (unknown fields are ignored, so later versions may add some).
 *
 * @param path the name used in error messages, e.g. `failure`.
 * @throws {EnvelopeError} `ENVELOPE_INVALID` naming the field, e.g. `failure.cause.retryable
 *   must be a boolean`, or when the cause chain is longer than {@link MAX_CAUSE_DEPTH}.
 */
export function parseWireFailure(value: unknown, path = 'failure'): WireFailure {
  return copyWireFailure(value, 'ENVELOPE_INVALID', path, true);
}

/**
 * Checks and copies a failure (iteratively, down the cause chain), failing with `code`.
 * `keepDetails: false` drops `details` at every level. Internal to the envelope codecs.
 */
export function copyWireFailure(
  value: unknown,
  code: EnvelopeErrorCode,
  path: string,
  keepDetails: boolean,
): WireFailure {
  let root: WireFailure | undefined;
  let parent: WireFailure | undefined;
  let current = value;
  let at = path;
  for (let depth = 0; ; depth++) {
    if (depth > MAX_CAUSE_DEPTH) {
      throw new EnvelopeError(code, `${path} has more than ${MAX_CAUSE_DEPTH} causes`);
    }
    if (!isPlainObject(current)) {
      throw new EnvelopeError(code, `${at} must be a map, got ${describeType(current)}`);
    }
    const { name, message, retryable, code: failureCode, stack, details, cause } = current;
    if (typeof name !== 'string')
      throw new EnvelopeError(code, `${at}.name must be a string, got ${describeType(name)}`);
    if (typeof message !== 'string') {
      throw new EnvelopeError(code, `${at}.message must be a string, got ${describeType(message)}`);
    }
    if (typeof retryable !== 'boolean') {
      throw new EnvelopeError(code, `${at}.retryable must be a boolean, got ${describeType(retryable)}`);
    }
    const copy: WireFailure = { name, message, retryable };
    if (failureCode !== undefined) {
      if (typeof failureCode !== 'string') {
        throw new EnvelopeError(code, `${at}.code must be a string, got ${describeType(failureCode)}`);
      }
      copy.code = failureCode;
    }
    if (stack !== undefined) {
      if (typeof stack !== 'string') {
        throw new EnvelopeError(code, `${at}.stack must be a string, got ${describeType(stack)}`);
      }
      copy.stack = stack;
    }
    if (details !== undefined && keepDetails) copy.details = details;
    if (parent === undefined) root = copy;
    else parent.cause = copy;
    if (cause === undefined) return root!;
    parent = copy;
    current = cause;
    at = `${at}.cause`;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A short description of a value's type for error messages: `string`, `array`, `Map`, `nil`. */
export function describeType(value: unknown): string {
  if (value === null) return 'nil';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'array';
  if (value instanceof Uint8Array) return 'binary';
  if (value instanceof Map) return 'Map';
  if (value instanceof Set) return 'Set';
  if (value instanceof Date) return 'Date';
  if (typeof value === 'object') return 'map';
  return typeof value;
}
