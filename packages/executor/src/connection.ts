/**
 * The executor's two HTTP connections to the agent: SUBSCRIBE on a dedicated connection whose
 * response is the RecordIO event stream, and every other call on one separate keep-alive
 * connection, sent in order (Mesos serves a connection's requests strictly in order, so a call
 * behind the endless SUBSCRIBE response would never be answered).
 *
 * @module
 */
import http from 'node:http';
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
import { CallChannel } from './call-channel.js';
import { AgentConnectionError } from './errors.js';

/** Callbacks of one subscription. */
export interface SubscriptionCallbacks {
  onEvent(event: ExecutorEvent): void;
  /** Called once when the stream ends or breaks (never after `closeStream()`/`close()` by us). */
  onEnd(error: Error | undefined): void;
}

export type CallBody = Omit<ExecutorCall, 'executor_id' | 'framework_id'>;

export class AgentConnection {
  readonly #url: URL;
  readonly #ids: Pick<ExecutorCall, 'executor_id' | 'framework_id'>;
  readonly #encoding: MesosEncoding;
  readonly #headers: Record<string, string>;
  readonly #calls: CallChannel;
  #stream: http.ClientRequest | undefined;
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
    this.#calls = new CallChannel(this.#url, this.#headers);
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
      let ended = false;
      const end = (error: Error | undefined): void => {
        if (ended) return;
        ended = true;
        if (generation === this.#streamGeneration) {
          this.#stream = undefined;
          callbacks.onEnd(error);
        }
      };
      const req = http.request(this.#url, {
        method: 'POST',
        agent: false,
        headers: { ...this.#headers, Accept: MEDIA_TYPES[this.#encoding] },
      });
      this.#stream = req;
      req.on('error', (err) => {
        if (!settled) {
          settled = true;
          reject(
            new AgentConnectionError(
              'AGENT_UNREACHABLE',
              `cannot reach the agent at ${this.#url.href}: ${err.message}`,
              {
                cause: err,
              },
            ),
          );
          return;
        }
        end(err);
      });
      req.on('response', (res) => {
        if (res.statusCode !== 200) {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', () => {});
          res.on('end', () => {
            settled = true;
            const text = Buffer.concat(chunks).toString('utf8').slice(0, 500);
            reject(
              new AgentConnectionError(
                'SUBSCRIBE_REFUSED',
                `the agent refused SUBSCRIBE: ${res.statusCode} ${text}`.trim(),
                { status: res.statusCode ?? 0, body: text },
              ),
            );
          });
          return;
        }
        settled = true;
        resolve();
        const encoding = encodingOfMediaType(res.headers['content-type']) ?? this.#encoding;
        const decoder = new RecordIODecoder();
        res.on('data', (chunk: Buffer) => {
          if (ended) return;
          let events: ExecutorEvent[];
          try {
            events = decoder.push(chunk).map((record) => executorEvent.decode(record, encoding));
          } catch (err) {
            req.destroy();
            end(err as Error);
            return;
          }
          for (const event of events) {
            if (ended || generation !== this.#streamGeneration) return;
            callbacks.onEvent(event);
          }
        });
        res.on('end', () => end(undefined));
        res.on('error', (err) => end(err));
        res.on('close', () => end(undefined));
      });
      req.end(body);
    });
  }

  /** Breaks the current subscription as a network failure would (callbacks.onEnd is called). */
  breakStream(): void {
    this.#stream?.destroy();
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
    const body = executorCall.encode({ ...this.#ids, ...call }, this.#encoding);
    return this.#calls.post(body).catch((err: Error) => {
      throw new AgentConnectionError('AGENT_UNREACHABLE', `call ${call.type} failed: ${err.message}`, {
        cause: err,
      });
    });
  }

  /** Closes both connections. */
  close(): void {
    this.closeStream();
    this.#calls.close();
  }
}
