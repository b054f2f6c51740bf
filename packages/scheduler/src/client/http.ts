/**
 * The HTTP plumbing of the scheduler client, both with 307 following:
 * - SUBSCRIBE: `node:http` on a dedicated connection; its `IncomingMessage` is the event
 *   stream, paused and resumed for backpressure.
 * - every other call: an undici `Agent` keeping one connection per master, calls pipelined
 *   on it (in order). undici costs about half the CPU per call of `node:http`
 *   with a keep-alive agent (see the README).
 *
 * @module
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { Agent, request } from 'undici';

export interface PostOptions {
  headers: Record<string, string>;
  body: Uint8Array;
  /** `false` for a dedicated connection (SUBSCRIBE); a keep-alive agent for calls. */
  agent: http.Agent | false;
  ca: string | Buffer | (string | Buffer)[] | undefined;
  timeoutMs: number;
  maxRedirects: number;
  /** Aborts the request (the client's close()). */
  signal?: AbortSignal;
}

export interface PostResult {
  response: IncomingMessage;
  /** The URL that finally answered (after redirects). */
  url: URL;
}

/** POSTs once; resolves with the response headers (body unread). */
function postOnce(url: URL, options: PostOptions): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === 'https:' ? https : http;
    const req = mod.request(url, {
      method: 'POST',
      headers: { ...options.headers, 'Content-Length': String(options.body.byteLength) },
      agent: options.agent,
      ...(options.signal !== undefined && { signal: options.signal }),
      ...(options.ca !== undefined && url.protocol === 'https:' && { ca: options.ca }),
    });
    const timer = setTimeout(() => {
      req.destroy(new Error(`no response from ${url.host} within ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    req.once('response', (res) => {
      clearTimeout(timer);
      resolve(res);
    });
    req.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(options.body);
  });
}

/** Reads a (small) response body as text. */
export async function readText(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * POSTs and follows `307` (a scheme-less `Location` is resolved against the URL used; the same
 * body is re-sent) up to `maxRedirects` hops. Any other status is returned as is.
 */
export async function post(url: URL, options: PostOptions): Promise<PostResult> {
  let current = url;
  for (let hop = 0; ; hop++) {
    const res = await postOnce(current, options);
    if (res.statusCode !== 307) return { response: res, url: current };
    const location = res.headers.location;
    if (location === undefined || location === '') return { response: res, url: current };
    res.resume();
    if (hop >= options.maxRedirects) {
      throw new Error(`too many redirects (more than ${options.maxRedirects}), last to ${location}`);
    }
    current = new URL(location, current);
  }
}

/** The result of a call: status, body text, and the URL that finally answered. */
export interface CallResult {
  status: number;
  text: string;
  url: URL;
}

export interface CallOptions {
  headers: Record<string, string>;
  body: Uint8Array;
  dispatcher: Agent;
  timeoutMs: number;
  maxRedirects: number;
  signal?: AbortSignal;
}

/** The undici dispatcher for calls: one connection per master, calls pipelined on it in order. */
export function callAgent(ca: string | Buffer | (string | Buffer)[] | undefined): Agent {
  return new Agent({
    connections: 1,
    // Calls are pipelined: written without waiting for the previous answer (libprocess
    // answers a connection's requests in order), so a burst of ACKNOWLEDGEs is not paced by
    // round trips.
    pipelining: 64,
    keepAliveTimeout: 60_000,
    ...(ca !== undefined && { connect: { ca } }),
  });
}

/**
 * POSTs a call and reads its (small) body, following `307` like {@link post}. Rejects on network
 * errors, on no response headers within `timeoutMs`, and when `signal` aborts.
 */
export async function postCall(url: URL, options: CallOptions): Promise<CallResult> {
  let current = url;
  for (let hop = 0; ; hop++) {
    const res = await request(current, {
      method: 'POST',
      headers: options.headers,
      body: options.body,
      dispatcher: options.dispatcher,
      // undici pipelines only requests marked idempotent. Mesos calls are safe to pipeline:
      // the master handles a connection's calls in order.
      idempotent: true,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      ...(options.signal !== undefined && { signal: options.signal }),
    });
    const location = res.headers.location;
    const target = Array.isArray(location) ? location[0] : location;
    if (res.statusCode !== 307 || target === undefined || target === '') {
      return { status: res.statusCode, text: await res.body.text(), url: current };
    }
    await res.body.dump();
    if (hop >= options.maxRedirects) {
      throw new Error(`too many redirects (more than ${options.maxRedirects}), last to ${target}`);
    }
    current = new URL(target, current);
  }
}
