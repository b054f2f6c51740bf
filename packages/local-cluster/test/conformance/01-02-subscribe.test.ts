/**
 * Captures 01 and 02: a scheduler SUBSCRIBE in JSON and in protobuf. Head, then SUBSCRIBED,
 * HEARTBEAT and OFFERS, compared field by field (ids, ports and pids normalised).
 */
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type LocalCluster, startLocalCluster } from '../../src/index.js';
import { waitFor } from '../agent/helpers.js';
import { readHead, readRequest, requestBody } from './capture.js';
import { Replay } from './replay.js';

let cluster: LocalCluster | undefined;
let replay: Replay | undefined;
afterEach(async () => {
  replay?.closeAll();
  await cluster?.stop();
  cluster = replay = undefined;
});

describe('conformance: scheduler SUBSCRIBE', () => {
  for (const scenario of ['01-scheduler-subscribe-json', '02-scheduler-subscribe-protobuf']) {
    it(scenario, async () => {
      // Mesos' heartbeat interval is fixed at 15 s; 300 ms here to see the second HEARTBEAT.
      cluster = await startLocalCluster({ heartbeatIntervalMs: 300 });
      replay = new Replay(scenario, cluster.masterUrl, { heartbeatSeconds: 0.3 });
      const live = await replay.subscribe('01-subscribe');
      await replay.compareStream('01-subscribe', { ended: false });
      const cap = replay.capturedStream('01-subscribe');
      // SUBSCRIBED, HEARTBEAT, OFFERS as captured; then HEARTBEATs.
      expect(live.events.slice(0, 3).map((e) => e.type)).toEqual(cap.events.slice(0, 3).map((e) => e.type));
      expect(live.json(0)).toMatchObject({ type: 'SUBSCRIBED' });
      // The HEARTBEAT record itself, byte for byte (JSON `{"type":"HEARTBEAT"}`, protobuf `08 08`).
      const hb = cap.events.findIndex((e) => e.type === 'HEARTBEAT');
      expect(Buffer.from(live.records[1]!)).toEqual(Buffer.from(cap.records[hb]!));
      await live.wait('a second HEARTBEAT', () => live.events.filter((e) => e.type === 'HEARTBEAT')[1]);
    });
  }
});

describe('conformance: scheduler SUBSCRIBE on the wire', () => {
  for (const scenario of ['01-scheduler-subscribe-json', '02-scheduler-subscribe-protobuf']) {
    it(`${scenario}: response head and one RecordIO record per HTTP chunk`, async () => {
      cluster = await startLocalCluster();
      const req = readRequest(scenario, '01-subscribe');
      const body = requestBody(req);
      const type = req.headers.find(([k]) => k === 'Content-Type')![1];
      const url = new URL(cluster.masterUrl);
      const socket = connect(Number(url.port), url.hostname);
      const wire: Buffer[] = [];
      socket.on('data', (b: Buffer) => wire.push(b));
      socket.write(
        `POST /api/v1/scheduler HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: ${type}\r\nAccept: ${type}\r\n` +
          `Content-Length: ${body.length}\r\n\r\n`,
      );
      socket.write(body);
      try {
        // SUBSCRIBED, HEARTBEAT and OFFERS: three chunks after the head.
        const chunks = await waitFor('the head and three chunks on the socket', () => {
          const parsed = parseChunked(Buffer.concat(wire));
          return parsed && parsed.chunks.length >= 3 ? parsed : undefined;
        });
        const captured = readHead(scenario, '01-subscribe');
        // Header names in Mesos' order; Node's `Connection`/`Keep-Alive` are a known difference.
        const names = chunks.head
          .map((h) => h.split(':')[0]!.toLowerCase())
          .filter((n) => n !== 'connection' && n !== 'keep-alive');
        expect(chunks.status).toBe('HTTP/1.1 200 OK');
        expect(names).toEqual(Object.keys(captured.headers));
        // Every chunk is exactly one record: `<length>\n<record>`.
        for (const chunk of chunks.chunks) {
          const nl = chunk.indexOf(0x0a);
          expect(Number(chunk.subarray(0, nl).toString('latin1'))).toBe(chunk.length - nl - 1);
        }
      } finally {
        socket.destroy();
      }
    });
  }
});

/** Splits raw HTTP/1.1 bytes into the status line, header lines and the complete chunks so far. */
function parseChunked(bytes: Buffer): { status: string; head: string[]; chunks: Buffer[] } | undefined {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [status, ...head] = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const chunks: Buffer[] = [];
  let at = end + 4;
  for (;;) {
    const eol = bytes.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = Number.parseInt(bytes.subarray(at, eol).toString('latin1'), 16);
    if (size === 0 || bytes.length < eol + 2 + size + 2) break;
    chunks.push(bytes.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return { status: status!, head, chunks };
}
