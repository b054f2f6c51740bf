/**
 * Replays the scheduler-endpoint requests of capture 08-http-errors against a LocalMaster with
 * the captured master id, and compares status and body byte for byte.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalMaster } from '../../src/master/index.js';
import { CAPTURES, EventStream, FakeAgent, rawRequest, startMaster, subscribe } from './helpers.js';

const DIR = `${CAPTURES}08-http-errors`;
const MASTER_ID = '17201596-0416-47c6-bfed-1e887c32b3ac';
const CAPTURED_STREAM_ID = 'da7dfadb-959f-4162-b046-2bba3d295b64';

/** Where our answer knowingly differs from Mesos' (the JSON parser's own detail text). */
const PREFIX_ONLY: Record<string, string> = {
  '07-sched-invalid-json': 'Failed to parse body into JSON: ',
};

interface CapturedRequest {
  method: string;
  path: string;
  headers: [string, string][];
  body_base64: string | null;
}

const cases = readdirSync(DIR)
  .filter((f) => /^(0[2-9]|1\d|2[0-3])-sched-.*\.request\.json$/.test(f))
  .map((f) => f.replace('.request.json', ''));

let master: LocalMaster;
let stream: EventStream;

beforeAll(async () => {
  master = await startMaster({ masterId: MASTER_ID });
  await FakeAgent.register(master);
  stream = await subscribe(master.url, {
    user: 'root',
    name: 'capture-http-errors',
    roles: ['*'],
    capabilities: [{ type: 'MULTI_ROLE' }],
    failover_timeout: 0,
  });
  await stream.next('OFFERS');
});

afterAll(async () => {
  stream.close();
  await master.stop();
});

describe('capture 08 replay', () => {
  it('covers the scheduler cases', () => {
    expect(cases.length).toBe(22);
  });

  for (const name of cases) {
    it(name, async () => {
      const request = JSON.parse(readFileSync(join(DIR, `${name}.request.json`), 'utf8')) as CapturedRequest;
      const headers: Record<string, string> = {};
      for (const [k, v] of request.headers) {
        if (k === 'Host' || k === 'Content-Length') continue;
        headers[k] = k === 'Mesos-Stream-Id' && v === CAPTURED_STREAM_ID ? stream.streamId : v;
      }
      const head = readFileSync(join(DIR, `${name}.response.head.txt`), 'utf8');
      const status = Number(head.split(' ')[1]);
      const expectedBody = readFileSync(join(DIR, `${name}.response.body.bin`));
      const body = Buffer.from(request.body_base64 ?? '', 'base64');
      if (status === 200) {
        // SUBSCRIBE with a never-seen id: adopted; compare the first record.
        const adopted = new EventStream('json');
        await adopted.open(master.url, body, headers);
        expect(adopted.status).toBe(200);
        await adopted.next('HEARTBEAT');
        const first = /^\d+\n(\{.*?\}\}\})\d+\n/s
          .exec(expectedBody.toString('utf8'))![1]!
          .replaceAll('5050', String(master.masterInfo.port));
        expect(adopted.chunks[0]?.toString('utf8')).toBe(`${Buffer.byteLength(first)}\n${first}`);
        adopted.close();
        return;
      }
      const r = await rawRequest(master.url, { method: request.method, path: request.path, headers, body });
      expect(r.status).toBe(status);
      const prefix = PREFIX_ONLY[name];
      if (prefix) expect(r.body.startsWith(prefix)).toBe(true);
      else expect(r.body).toBe(expectedBody.toString('utf8'));
      const contentType = /Content-Type: (.*)\r\n/.exec(head)?.[1];
      expect(r.headers['content-type']).toBe(contentType);
    });
  }
});
