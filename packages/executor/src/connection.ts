/**
 * The executor's two HTTP connections to the agent: SUBSCRIBE on a dedicated connection whose
 * response is the RecordIO event stream (a plain socket, `event-stream.ts`; the CLI may have
 * opened it already, `pre-subscribe.ts`), and every other call on one separate keep-alive
 * connection, sent in order (Mesos serves a connection's requests strictly in order, so a call
 * behind the endless SUBSCRIBE response would never be answered). The events and calls every
 * task costs (LAUNCH, ACKNOWLEDGED, UPDATE) take the hand-written paths of `fast-codec.ts`.
 *
 * @module
 */
import {
  type ExecutorCall,
  type ExecutorEvent,
  encodingOfMediaType,
  executorCall,
  executorEvent,
  MEDIA_TYPES,
  type MesosEncoding,
  RecordIODecoder,
} from '@mesoskit/protocol';
import { CallChannel, type CallDone } from './call-channel.js';
import { AgentConnectionError } from './errors.js';
import { type StreamHandlers, StreamRequest } from './event-stream.js';
import {
  copyOf,
  decodeAcknowledged,
  decodeAcknowledgedJson,
  decodeLaunch,
  JsonUpdateEncoder,
  type LaunchedTask,
  UpdateEncoder,
} from './fast-codec.js';
import { requestHead, streamHeaders, takeEarlySubscription } from './pre-subscribe.js';

/** Callbacks of one subscription. */
export interface SubscriptionCallbacks {
  onEvent(event: ExecutorEvent): void;
  /** More ACKNOWLEDGED events are expected (some updates are not acknowledged yet). */
  acksDue(): boolean;
  /** A LAUNCH event read by the fast protobuf path (others come to `onEvent`). */
  onLaunch(task: LaunchedTask): void;
  /** Called once when the stream ends or breaks (never after `closeStream()`/`close()` by us). */
  onEnd(error: Error | undefined): void;
}

/** Answers to calls are read at most this often while some are due (see CallChannel). */
const CALL_READ_BATCH_MS = 5;
/**
 * After a read that brought only ACKNOWLEDGED events, while more are due, the event stream is
 * read again after this pause: acknowledgements of a burst of updates then come in a few reads
 * instead of one each, and a LAUNCH or KILL waits at most this long.
 */
const STREAM_READ_BATCH_MS = 1;

export type CallBody = Omit<ExecutorCall, 'executor_id' | 'framework_id'>;

export class AgentConnection {
  readonly #url: URL;
  readonly #ids: Pick<ExecutorCall, 'executor_id' | 'framework_id'>;
  readonly #encoding: MesosEncoding;
  readonly #headers: Record<string, string>;
  readonly #calls: CallChannel;
  readonly #updates: UpdateEncoder;
  readonly #jsonUpdates: JsonUpdateEncoder;
  /** Request line and headers of SUBSCRIBE (Content-Length follows). */
  readonly #streamHead: string;
  #stream: StreamRequest | undefined;
  #streamGeneration = 0;

  constructor(init: {
    url: string;
    frameworkId: string;
    executorId: string;
    encoding: MesosEncoding;
    authToken?: string | undefined;
  }) {
    this.#url = new URL(init.url);
    this.#ids = { executor_id: { value: init.executorId }, framework_id: { value: init.frameworkId } };
    this.#encoding = init.encoding;
    this.#headers = { 'Content-Type': MEDIA_TYPES[init.encoding] };
    if (init.authToken !== undefined) this.#headers.Authorization = `Bearer ${init.authToken}`;
    this.#calls = new CallChannel(this.#url, this.#headers, CALL_READ_BATCH_MS);
    this.#updates = new UpdateEncoder(init.executorId, init.frameworkId);
    this.#jsonUpdates = new JsonUpdateEncoder(init.executorId, init.frameworkId);
    this.#streamHead = requestHead(this.#url, streamHeaders(init.encoding, init.authToken));
  }

  /**
   * Sends SUBSCRIBE; resolves once the agent answered `200` (events then flow to `callbacks`).
   *
   * @throws {AgentConnectionError} `SUBSCRIBE_REFUSED` (with `status`/`body`) for an HTTP error,
   *   `AGENT_UNREACHABLE` when the agent cannot be reached.
   */
  subscribe(
    subscribe: NonNullable<ExecutorCall['subscribe']>,
    callbacks: SubscriptionCallbacks,
  ): Promise<void> {
    this.closeStream();
    const generation = ++this.#streamGeneration;
    const body = executorCall.encode({ ...this.#ids, type: 'SUBSCRIBE', subscribe }, this.#encoding);
    return new Promise((resolve, reject) => {
      let settled = false;
      let refused: { status: number; chunks: Buffer[] } | undefined;
      let encoding = this.#encoding;
      const decoder = new RecordIODecoder();
      const current = (): boolean => generation === this.#streamGeneration;
      // Whether every event of the last read was an ACKNOWLEDGED (see pauseAfterRead).
      let onlyAcks = true;
      const handlers: StreamHandlers = {
        onHead: (status, headers) => {
          if (status !== 200) {
            refused = { status, chunks: [] };
            return;
          }
          settled = true;
          encoding = encodingOfMediaType(headers.get('content-type')) ?? this.#encoding;
          resolve();
        },
        onBody: (bytes) => {
          if (refused) {
            refused.chunks.push(Buffer.from(bytes));
            return;
          }
          let records: Uint8Array[];
          try {
            records = decoder.push(bytes);
          } catch (err) {
            stream.destroy(err as Error);
            return;
          }
          onlyAcks = records.length > 0;
          for (const record of records) {
            if (!current()) return;
            let event: ExecutorEvent | undefined;
            try {
              if (encoding === 'protobuf') {
                const launch = decodeLaunch(record);
                if (launch) {
                  onlyAcks = false;
                  callbacks.onLaunch(launch);
                  continue;
                }
                event = decodeAcknowledged(record);
              } else event = decodeAcknowledgedJson(record);
              // `record` may be a view of the reused read buffer: decode a copy (rare events).
              event ??= executorEvent.decode(encoding === 'protobuf' ? copyOf(record) : record, encoding);
            } catch (err) {
              stream.destroy(err as Error);
              return;
            }
            if (event.type !== 'ACKNOWLEDGED') onlyAcks = false;
            callbacks.onEvent(event);
          }
        },
        pauseAfterRead: () => (onlyAcks && callbacks.acksDue() ? STREAM_READ_BATCH_MS : 0),
        onEnd: (error) => {
          if (refused) {
            settled = true;
            const text = Buffer.concat(refused.chunks).toString('utf8').slice(0, 500);
            reject(
              new AgentConnectionError(
                'SUBSCRIBE_REFUSED',
                `the agent refused SUBSCRIBE: ${refused.status} ${text}`.trim(),
                { status: refused.status, body: text },
              ),
            );
            return;
          }
          if (!settled) {
            settled = true;
            const reason = error?.message ?? 'no response';
            reject(
              new AgentConnectionError(
                'AGENT_UNREACHABLE',
                `cannot reach the agent at ${this.#url.href}: ${reason}`,
                { cause: error },
              ),
            );
            return;
          }
          if (!current()) return;
          this.#stream = undefined;
          // Mesos ends a stream with the terminating chunk: a clean end, `error` undefined.
          callbacks.onEnd(error);
        },
      };
      // The CLI may have sent this very SUBSCRIBE already, before loading the runtime (cold start).
      const early = takeEarlySubscription(this.#streamHead, body);
      const stream = early
        ? early.adopt(handlers)
        : new StreamRequest(this.#url, this.#streamHead, body, handlers);
      this.#stream = stream;
    });
  }

  /** Breaks the current subscription as a network failure would (callbacks.onEnd is called). */
  breakStream(): void {
    this.#stream?.destroy(new Error('the subscription was broken'));
  }

  /** Closes the current subscription without calling its `onEnd`. */
  closeStream(): void {
    this.#streamGeneration++;
    this.#stream?.destroy();
    this.#stream = undefined;
  }

  /**
   * Posts a call on the call connection; resolves with the HTTP status.
   *
   * @throws {AgentConnectionError} `AGENT_UNREACHABLE` on a network error.
   */
  call(call: CallBody): Promise<number> {
    return new Promise((resolve, reject) => {
      this.send(call, (error, status) => (error ? reject(error) : resolve(status)), undefined);
    });
  }

  /**
   * Posts a call without a promise: `done` gets the HTTP status, or an `AgentConnectionError`
   * (`AGENT_UNREACHABLE`) on a network error, and `context`.
   */
  send<C>(call: CallBody, done: CallDone<C>, context: C): void {
    const wrapped: SendContext<C> = { call, done, context };
    let body: Uint8Array | undefined;
    if (call.type === 'UPDATE' && call.update !== undefined) {
      if (this.#encoding === 'protobuf') {
        const request = this.#updates.encode(call.update.status, this.#calls.requestHead);
        if (request !== undefined) {
          this.#calls.sendRequest(request, wrapNetworkError as CallDone<SendContext<C>>, wrapped);
          return;
        }
      } else body = this.#jsonUpdates.encode(call.update.status);
    }
    body ??= executorCall.encode({ ...this.#ids, ...call }, this.#encoding);
    this.#calls.send(body, wrapNetworkError as CallDone<SendContext<C>>, wrapped);
  }

  /** Closes both connections. */
  close(): void {
    this.closeStream();
    this.#calls.close();
  }
}

interface SendContext<C> {
  readonly call: CallBody;
  readonly done: CallDone<C>;
  readonly context: C;
}

function wrapNetworkError<C>(error: Error | undefined, status: number, s: SendContext<C>): void {
  if (error === undefined) {
    s.done(undefined, status, s.context);
    return;
  }
  s.done(
    new AgentConnectionError('AGENT_UNREACHABLE', `call ${s.call.type} failed: ${error.message}`, {
      cause: error,
    }),
    0,
    s.context,
  );
}
