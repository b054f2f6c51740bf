/**
 * SUBSCRIBE's HTTP plumbing: `node:http` on a dedicated connection, with 307 following; its
 * `IncomingMessage` is the event stream, paused and resumed for backpressure. (Every other call
 * goes through a `CallPipeline`, `call-pipeline.ts`: one connection per master, calls pipelined
 * on it, in order.)
 *
 * @module
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';

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
