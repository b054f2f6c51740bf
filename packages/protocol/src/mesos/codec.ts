/**
 * Codecs for Mesos v1 messages in both encodings Mesos speaks on `/api/v1/scheduler` and
 * `/api/v1/executor`: `application/x-protobuf` and `application/json`.
 *
 * ```ts
 * import { schedulerCall, schedulerEvent } from '@mesoskit/protocol';
 * const body = schedulerCall.encode({ type: 'SUBSCRIBE', subscribe: { framework_info: { user: '', name: 'demo' } } }, 'json');
 * const event = schedulerEvent.decode(record, 'protobuf'); // event.type === 'UPDATE', event.update?.status.state, …
 * ```
 */
import { InvalidOptionsError, MesosMessageError } from '../errors.js';
import { findEncodeProblem, messageFromJson, messageFromJsonValue, messageToJson } from './json.js';
import { protobufCodec } from './protobuf.js';
import { type MessageModel, messageModel } from './schema.js';
import type { mesos } from './types.generated.js';

/** The two encodings of the Mesos v1 HTTP APIs. */
export type MesosEncoding = 'json' | 'protobuf';

/** The exact media types Mesos accepts in `Content-Type` and `Accept` (no parameters). */
export const MEDIA_TYPES: Readonly<Record<MesosEncoding, string>> = Object.freeze({
  json: 'application/json',
  protobuf: 'application/x-protobuf',
});

/**
 * The encoding of a `Content-Type` value, compared exactly as Mesos does (`application/json;
 * charset=utf-8` is not `application/json`), or `undefined`.
 */
export function encodingOfMediaType(contentType: string | undefined): MesosEncoding | undefined {
  if (contentType === MEDIA_TYPES.json) return 'json';
  if (contentType === MEDIA_TYPES.protobuf) return 'protobuf';
  return undefined;
}

/** Encoder and decoder of one Mesos message type in both encodings. */
export interface MessageCodec<T> {
  /** Full protobuf name, e.g. `mesos.v1.scheduler.Call`. */
  readonly typeName: string;
  /** Encodes in the given encoding (JSON as UTF-8 bytes). */
  encode(message: T, encoding: MesosEncoding): Uint8Array;
  /** Decodes bytes in the given encoding. Throws `MesosMessageError` on bad input. */
  decode(bytes: Uint8Array, encoding: MesosEncoding): T;
  toProtobuf(message: T): Uint8Array;
  fromProtobuf(bytes: Uint8Array): T;
  /** Mesos' JSON text of the message. */
  toJSON(message: T): string;
  /** Parses Mesos JSON text (string or UTF-8 bytes). */
  fromJSON(text: string | Uint8Array): T;
  /** Converts an already parsed JSON value. */
  fromJSONValue(value: unknown): T;
}

const textEncoder = new TextEncoder();

class Codec<T> implements MessageCodec<T> {
  readonly typeName: string;
  readonly #model: MessageModel;
  readonly #pb: ReturnType<typeof protobufCodec>;

  constructor(model: MessageModel) {
    this.typeName = model.fullName;
    this.#model = model;
    this.#pb = protobufCodec(model);
  }

  encode(message: T, encoding: MesosEncoding): Uint8Array {
    if (encoding === 'protobuf') return this.toProtobuf(message);
    if (encoding === 'json') return textEncoder.encode(messageToJson(this.#model, message));
    throw badEncoding(encoding);
  }

  decode(bytes: Uint8Array, encoding: MesosEncoding): T {
    if (encoding === 'protobuf') return this.#pb.decode(bytes) as T;
    if (encoding === 'json') return messageFromJson(this.#model, bytes) as T;
    throw badEncoding(encoding);
  }

  toProtobuf(message: T): Uint8Array {
    try {
      return this.#pb.encode(message);
    } catch (err) {
      throw this.#withPath(err, message);
    }
  }

  /** A protobuf encode error names `Type.field`; find the dotted path from the root instead. */
  #withPath(err: unknown, message: T): unknown {
    if (!(err instanceof MesosMessageError)) return err;
    const problem = findEncodeProblem(this.#model, message);
    if (!problem) return err;
    return new MesosMessageError(
      problem.code,
      this.typeName,
      `cannot encode ${this.typeName}: ${problem.detail}`,
      {
        cause: err,
      },
    );
  }

  fromProtobuf(bytes: Uint8Array): T {
    return this.#pb.decode(bytes) as T;
  }

  toJSON(message: T): string {
    return messageToJson(this.#model, message);
  }

  fromJSON(text: string | Uint8Array): T {
    return messageFromJson(this.#model, text) as T;
  }

  fromJSONValue(value: unknown): T {
    return messageFromJsonValue(this.#model, value) as T;
  }
}

function badEncoding(encoding: unknown): InvalidOptionsError {
  return new InvalidOptionsError(`encoding must be 'json' or 'protobuf', got ${JSON.stringify(encoding)}`);
}

const codecs = new Map<string, MessageCodec<unknown>>();

/**
 * The codec of any message type of the schema by full name, e.g. `codecFor<mesos.v1.TaskInfo>('mesos.v1.TaskInfo')`.
 * Codecs are compiled on first use and cached.
 */
export function codecFor<T>(typeName: string): MessageCodec<T> {
  let c = codecs.get(typeName);
  if (!c) {
    c = new Codec(messageModel(typeName));
    codecs.set(typeName, c);
  }
  return c as MessageCodec<T>;
}

function lazy<T>(typeName: string): MessageCodec<T> {
  let c: MessageCodec<T> | undefined;
  const get = (): MessageCodec<T> => {
    c ??= codecFor<T>(typeName);
    return c;
  };
  return {
    typeName,
    encode: (m, e) => get().encode(m, e),
    decode: (b, e) => get().decode(b, e),
    toProtobuf: (m) => get().toProtobuf(m),
    fromProtobuf: (b) => get().fromProtobuf(b),
    toJSON: (m) => get().toJSON(m),
    fromJSON: (t) => get().fromJSON(t),
    fromJSONValue: (v) => get().fromJSONValue(v),
  };
}

/** `mesos.v1.scheduler.Call`: what a scheduler POSTs to `/api/v1/scheduler`. */
export const schedulerCall: MessageCodec<mesos.v1.scheduler.Call> = lazy('mesos.v1.scheduler.Call');
/** `mesos.v1.scheduler.Event`: one record of the scheduler's subscription stream. */
export const schedulerEvent: MessageCodec<mesos.v1.scheduler.Event> = lazy('mesos.v1.scheduler.Event');
/** `mesos.v1.executor.Call`: what an executor POSTs to `/api/v1/executor`. */
export const executorCall: MessageCodec<mesos.v1.executor.Call> = lazy('mesos.v1.executor.Call');
/** `mesos.v1.executor.Event`: one record of the executor's subscription stream. */
export const executorEvent: MessageCodec<mesos.v1.executor.Event> = lazy('mesos.v1.executor.Event');
