/**
 * Hostile input at the local cluster's HTTP endpoints (issue: chaos and hostile input):
 * random methods, paths, content types and bodies, mutated scheduler and executor calls,
 * truncated and oversized bodies. Every request gets an answer below 500; the processes stay
 * up, memory stays bounded, and a well-behaved framework is served throughout.
 *
 * `MESOSKIT_PROPERTY_RUNS` scales the number of cases (default 200 → about 2,000 requests;
 * 20,000 → about 200,000).
 */
import { request as httpRequest } from 'node:http';
import { MEDIA_TYPES, type SchedulerCall, schedulerCall } from '@mesoskit/protocol';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalCluster, startLocalCluster } from '../../src/index.js';
import { type Session, session } from '../master/helpers.js';

const RUNS = (() => {
  const n = Number(process.env.MESOSKIT_PROPERTY_RUNS);
  return Number.isSafeInteger(n) && n > 0 ? n : 200;
})();
const scaled = (runs: number) => Math.max(1, Math.round((runs * RUNS) / 200));

interface Answer {
  status: number;
  body: string;
  streaming: boolean;
}

/**
 * One raw request. A `200` that opens a Mesos event stream (it has `Mesos-Stream-Id`) is
 * answered as soon as its head arrives, and closed.
 */
function send(
  base: string,
  req: { method: string; path: string; headers: Record<string, string>; body: Uint8Array | undefined },
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const u = new URL(req.path, base);
    const r = httpRequest(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method: req.method,
        headers: req.headers,
        agent: false,
      },
      (res) => {
        if (res.headers['mesos-stream-id'] !== undefined && res.statusCode === 200) {
          res.destroy();
          resolve({ status: 200, body: '', streaming: true });
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            streaming: false,
          }),
        );
        res.on('error', reject);
      },
    );
    r.on('error', reject);
    r.end(req.body);
  });
}

const PATHS = [
  '/api/v1/scheduler',
  '/master/api/v1/scheduler',
  '/api/v1/executor',
  '/slave(1)/api/v1/executor',
  '/master/state',
  '/state',
  '/health',
  '/version',
  '/metrics/snapshot',
  '/master/frameworks',
  '/master/tasks',
  '/master/slaves',
  '/master/redirect',
  '/',
  '/nope',
  '/api/v1/scheduler/../executor',
  '/%00',
];
const CONTENT_TYPES = [
  MEDIA_TYPES.json,
  MEDIA_TYPES.protobuf,
  'application/json; charset=utf-8',
  'text/plain',
  'application/recordio',
  '',
];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'];

/** Valid scheduler calls of every type, to mutate. */
function validCalls(frameworkId: string): SchedulerCall[] {
  const fid = { value: frameworkId };
  const agent = { value: 'S0' };
  const task = { value: 't' };
  return [
    { type: 'SUBSCRIBE', subscribe: { framework_info: { user: 'u', name: 'n' } } },
    { type: 'TEARDOWN', framework_id: { value: 'not-this-one' } },
    { type: 'ACCEPT', framework_id: fid, accept: { offer_ids: [{ value: 'o' }], operations: [] } },
    { type: 'DECLINE', framework_id: fid, decline: { offer_ids: [{ value: 'o' }] } },
    { type: 'REVIVE', framework_id: fid },
    { type: 'SUPPRESS', framework_id: fid },
    { type: 'KILL', framework_id: fid, kill: { task_id: task, agent_id: agent } },
    { type: 'SHUTDOWN', framework_id: fid, shutdown: { executor_id: { value: 'e' }, agent_id: agent } },
    {
      type: 'ACKNOWLEDGE',
      framework_id: fid,
      acknowledge: { agent_id: agent, task_id: task, uuid: new Uint8Array(16) },
    },
    { type: 'RECONCILE', framework_id: fid, reconcile: { tasks: [{ task_id: task }] } },
    {
      type: 'MESSAGE',
      framework_id: fid,
      message: { agent_id: agent, executor_id: { value: 'e' }, data: new Uint8Array(3) },
    },
    { type: 'REQUEST', framework_id: fid, request: { requests: [] } },
  ];
}

/** A JSON value of any shape, to put where a field was. */
const anyJson = fc.jsonValue({ maxDepth: 4 });

/** `nextInt(lo, hi)` (inclusive) from a small seeded generator (mulberry32). */
function seededInt(seed: number): { nextInt(lo: number, hi: number): number } {
  let a = seed >>> 0;
  return {
    nextInt(lo, hi) {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = Math.imul(a ^ (a >>> 15), a | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return lo + Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * (hi - lo + 1));
    },
  };
}

/** Mutates a JSON object: drop, replace or add a key, at any depth. */
function mutate(value: unknown, rng: ReturnType<typeof seededInt>): unknown {
  if (value === null || typeof value !== 'object') return value;
  const obj: Record<string, unknown> = Array.isArray(value)
    ? { ...value }
    : { ...(value as Record<string, unknown>) };
  const keys = Object.keys(obj);
  const pick = keys[rng.nextInt(0, Math.max(0, keys.length - 1))];
  switch (rng.nextInt(0, 4)) {
    case 0:
      if (pick !== undefined) delete obj[pick];
      break;
    case 1:
      if (pick !== undefined) obj[pick] = mutate(obj[pick], rng);
      break;
    case 2:
      if (pick !== undefined)
        obj[pick] = [null, 0, -1, 1e308, '', 'x'.repeat(1000), true, {}, []][rng.nextInt(0, 8)];
      break;
    case 3:
      obj[['__proto__', 'constructor', 'type', 'unknown_field'][rng.nextInt(0, 3)]!] = { polluted: true };
      break;
    default:
      if (pick !== undefined) obj[pick] = mutate(mutate(obj[pick], rng), rng);
  }
  return Array.isArray(value) ? Object.values(obj) : obj;
}

let cluster: LocalCluster;
let good: Session;
let agentUrl: string;

beforeAll(async () => {
  cluster = await startLocalCluster({ allocationIntervalMs: 20 });
  good = await session(cluster.masterUrl);
  agentUrl = cluster.agents[0]!.url;
});

afterAll(async () => {
  good?.stream.close();
  await cluster?.stop();
});

/** The well-behaved framework is still served: a call of it is accepted. */
async function stillServed(): Promise<void> {
  const res = await good.call({ type: 'REVIVE' });
  expect(res.status, res.body).toBe(202);
  const health = await send(cluster.masterUrl, {
    method: 'GET',
    path: '/health',
    headers: {},
    body: undefined,
  });
  expect(health.status).toBe(200);
}

describe('hostile requests to the local cluster', () => {
  it('random methods, paths, content types and bodies: always an answer below 500', async () => {
    await fc.assert(
      fc.asyncProperty(
        // Mostly POSTs to the two APIs, where the parsing happens; the rest of the surface too.
        fc.oneof(
          { weight: 3, arbitrary: fc.constant('POST') },
          { weight: 1, arbitrary: fc.constantFrom(...METHODS) },
        ),
        fc.oneof(
          { weight: 3, arbitrary: fc.constantFrom('/api/v1/scheduler', '/api/v1/executor') },
          { weight: 1, arbitrary: fc.constantFrom(...PATHS) },
        ),
        fc.constantFrom(...CONTENT_TYPES),
        fc.constantFrom(...CONTENT_TYPES),
        fc.boolean(),
        fc.uint8Array({ maxLength: 512 }),
        fc.boolean(),
        async (method, path, contentType, accept, toAgent, body, withBody) => {
          const headers: Record<string, string> = {};
          if (contentType !== '') headers['Content-Type'] = contentType;
          if (accept !== '') headers.Accept = accept;
          const answer = await send(toAgent ? agentUrl : cluster.masterUrl, {
            method,
            path,
            headers,
            body: withBody && method !== 'GET' && method !== 'HEAD' ? body : undefined,
          });
          expect(answer.status, `${method} ${path} → ${answer.status} ${answer.body}`).toBeLessThan(500);
          expect(answer.status).toBeGreaterThanOrEqual(200);
        },
      ),
      { numRuns: scaled(800) },
    );
    await stillServed();
  }, 120_000);

  it('mutated scheduler calls, JSON and protobuf, with and without the stream id: 4xx with a message, never 5xx', async () => {
    const calls = validCalls(good.frameworkId);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...calls),
        fc.integer({ min: 0, max: 5 }),
        fc.boolean(),
        fc.boolean(),
        anyJson,
        fc.nat(),
        async (call, mutations, protobuf, withStream, junk, seed) => {
          const rng = seededInt(seed); // deterministic per case: fast-check replays it on failure
          let json: unknown = JSON.parse(new TextDecoder().decode(schedulerCall.encode(call, 'json')));
          for (let i = 0; i < mutations; i++) json = mutate(json, rng);
          if (mutations === 5) json = junk;
          let body: Uint8Array;
          if (protobuf) {
            // Encodable mutations go as protobuf; others as their JSON bytes under the protobuf type.
            try {
              body = schedulerCall.encode(json as SchedulerCall, 'protobuf');
            } catch {
              body = new TextEncoder().encode(JSON.stringify(json));
            }
          } else {
            body = new TextEncoder().encode(JSON.stringify(json));
          }
          const headers: Record<string, string> = {
            'Content-Type': protobuf ? MEDIA_TYPES.protobuf : MEDIA_TYPES.json,
            Accept: protobuf ? MEDIA_TYPES.protobuf : MEDIA_TYPES.json,
          };
          if (withStream) headers['Mesos-Stream-Id'] = good.stream.streamId;
          const answer = await send(cluster.masterUrl, {
            method: 'POST',
            path: '/api/v1/scheduler',
            headers,
            body,
          });
          expect(
            answer.status,
            `${JSON.stringify(json)?.slice(0, 200)} → ${answer.status} ${answer.body}`,
          ).toBeLessThan(500);
          if (answer.status >= 400) expect(answer.body.length, 'a 4xx says why').toBeGreaterThan(0);
        },
      ),
      { numRuns: scaled(800) },
    );
    await stillServed();
  }, 120_000);

  it('truncations of every valid call, and oversized bodies', async () => {
    for (const call of validCalls(good.frameworkId)) {
      const full = schedulerCall.encode(call, 'json');
      for (const cut of [1, Math.floor(full.length / 3), full.length - 1]) {
        const answer = await send(cluster.masterUrl, {
          method: 'POST',
          path: '/api/v1/scheduler',
          headers: { 'Content-Type': MEDIA_TYPES.json, 'Mesos-Stream-Id': good.stream.streamId },
          body: full.subarray(0, cut),
        });
        expect(answer.status).toBeGreaterThanOrEqual(400);
        expect(answer.status).toBeLessThan(500);
      }
    }
    const big = new Uint8Array(20 * 1024 * 1024).fill(0x20);
    for (const base of [cluster.masterUrl, agentUrl]) {
      const path = base === agentUrl ? '/api/v1/executor' : '/api/v1/scheduler';
      const answer = await send(base, {
        method: 'POST',
        path,
        headers: { 'Content-Type': MEDIA_TYPES.json },
        body: big,
      }).catch((err: Error) => ({ status: 0, body: err.message, streaming: false }));
      // Either a 4xx, or the server cut the connection while we were still sending: never a 5xx.
      expect(answer.status < 500, `${path}: ${answer.status} ${answer.body.slice(0, 100)}`).toBe(true);
    }
    await stillServed();
  }, 120_000);

  it('memory stays bounded over the run', async () => {
    (globalThis as { gc?: () => void }).gc?.();
    const before = process.memoryUsage().heapUsed;
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 4096 }), async (body) => {
        const answer = await send(cluster.masterUrl, {
          method: 'POST',
          path: '/api/v1/scheduler',
          headers: { 'Content-Type': MEDIA_TYPES.protobuf, 'Mesos-Stream-Id': good.stream.streamId },
          body,
        });
        expect(answer.status).toBeLessThan(500);
      }),
      { numRuns: scaled(400) },
    );
    (globalThis as { gc?: () => void }).gc?.();
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(64 * 1024 * 1024);
    await stillServed();
  }, 120_000);
});
