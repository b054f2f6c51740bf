/**
 * The typed errors of `@mesoskit/protocol`. Every decoder in this package fails with one of
 * them — never a bare `TypeError` — and each carries a stable, machine-readable `code`.
 * Branch on `err.code`, not on `instanceof` across package copies.
 */

/** Base class of every error mesoskit raises on purpose. */
export class MesoskitError extends Error {
  override readonly name: string = 'MesoskitError';
  /** A stable machine-readable code, e.g. `RECORDIO_RECORD_TOO_LARGE`. */
  readonly code: string;

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** True for any error raised by mesoskit on purpose (works across duplicate package copies). */
export function isMesoskitError(err: unknown): err is MesoskitError {
  return (
    err instanceof MesoskitError ||
    (err instanceof Error &&
      typeof (err as { code?: unknown }).code === 'string' &&
      err.name.endsWith('Error'))
  );
}

/** Local misuse: options or arguments that cannot work. */
export class InvalidOptionsError extends MesoskitError {
  override readonly name = 'InvalidOptionsError';
  declare readonly code: 'INVALID_OPTIONS';
  constructor(message: string, options?: ErrorOptions) {
    super('INVALID_OPTIONS', message, options);
  }
}

export type RecordIOErrorCode =
  | 'RECORDIO_INVALID_PREFIX'
  | 'RECORDIO_RECORD_TOO_LARGE'
  | 'RECORDIO_TRUNCATED';

/** A RecordIO stream that breaks the framing rules (bad length prefix, oversized or truncated record). */
export class RecordIOError extends MesoskitError {
  override readonly name = 'RecordIOError';
  declare readonly code: RecordIOErrorCode;
  constructor(code: RecordIOErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
  }
}

export type MesosMessageErrorCode =
  /** Protobuf bytes that do not parse (bad varint, truncated field, wrong wire type for a length). */
  | 'MESOS_PROTOBUF_INVALID'
  /** JSON text that is not JSON. */
  | 'MESOS_JSON_SYNTAX'
  /** JSON that does not map onto the message (wrong JSON type, bad base64, unknown required enum). */
  | 'MESOS_JSON_INVALID'
  /** A `required` field is missing after decoding (either encoding) or before encoding. */
  | 'MESOS_MISSING_REQUIRED'
  /** A message given to an encoder does not fit its schema (wrong JS type for a field). */
  | 'MESOS_ENCODE_INVALID';

/** A Mesos v1 message that cannot be decoded or encoded. `path` names the field, e.g. `subscribe.framework_info.user`. */
export class MesosMessageError extends MesoskitError {
  override readonly name = 'MesosMessageError';
  declare readonly code: MesosMessageErrorCode;
  /** The protobuf message type involved, e.g. `mesos.v1.scheduler.Call`. */
  readonly typeName: string;
  constructor(code: MesosMessageErrorCode, typeName: string, message: string, options?: ErrorOptions) {
    super(code, message, options);
    this.typeName = typeName;
  }
}

export type EnvelopeErrorCode =
  /** Bytes that are not valid MessagePack (truncated, bad length header, too deep, too large). */
  | 'ENVELOPE_MALFORMED'
  /** Valid MessagePack with the wrong shape (missing fields, wrong types, hostile keys). */
  | 'ENVELOPE_INVALID'
  /** An envelope of a wire version this build does not speak. */
  | 'ENVELOPE_VERSION'
  /** A value that cannot be encoded (functions, symbols, cycles, too large). */
  | 'ENVELOPE_ENCODE';

/** A launch, result or message envelope that cannot be decoded or encoded. */
export class EnvelopeError extends MesoskitError {
  override readonly name = 'EnvelopeError';
  declare readonly code: EnvelopeErrorCode;
  constructor(code: EnvelopeErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
  }
}

export type ResourceErrorCode =
  /** Text such as `cpus:2;mem:1024` that does not parse. */
  | 'RESOURCE_PARSE'
  /** A Resource that breaks Mesos' rules (negative scalar, overlapping ranges, type mismatch). */
  | 'RESOURCE_INVALID'
  /** Subtracting or picking more than a pool holds. */
  | 'RESOURCE_INSUFFICIENT';

/** Resource text or arithmetic that is invalid. */
export class ResourceError extends MesoskitError {
  override readonly name = 'ResourceError';
  declare readonly code: ResourceErrorCode;
  constructor(code: ResourceErrorCode, message: string, options?: ErrorOptions) {
    super(code, message, options);
  }
}
