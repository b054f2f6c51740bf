/**
 * Capture 10: disconnect and resubscribe with the same id (same id, new stream id, tasks kept,
 * offers at once), a call with the old stream id, a second SUBSCRIBE while connected (`Framework
 * failed over` ERROR on the old stream, which ends), TEARDOWN, SUBSCRIBE after teardown and
 * after failover_timeout expiry (`Framework has been removed`, end of stream).
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import { expect, it } from 'vitest';
import { waitFor } from '../agent/helpers.js';
import { fixturePath, readRecords, readRequest, requestBody } from './capture.js';
import { conformance } from './harness.js';
import { runScenario } from './replay.js';

const setup = conformance();

interface FrameworkSummary {
  id: string;
  active?: boolean;
  connected?: boolean;
}

it('conformance: 10-failover', async () => {
  const { cluster, replay } = await setup(
    '10-failover',
    {},
    {
      // Real value: failover_timeout 3 s (the capture waited 5 s); here 0.3 s.
      patchRequest: (name, body) => {
        const info = (body.subscribe as { framework_info?: { failover_timeout?: number } } | undefined)
          ?.framework_info;
        if (name === '11-subscribe-5-failover-timeout-3s' && info) info.failover_timeout = 0.3;
      },
    },
  );
  const state = async () =>
    (await cluster.state()) as { frameworks: FrameworkSummary[]; completed_frameworks: FrameworkSummary[] };
  const frameworkId = () => replay.stream('subscribe-1').events[0]!.subscribed!.framework_id.value;
  await runScenario(
    replay,
    {
      '05-subscribe-2-same-framework-id': {
        before: async (r) => {
          r.stream('subscribe-1').close();
          // As captured 2 s later: inactive and disconnected, the task still running.
          const fw = await pollState(state, (s) =>
            s.frameworks.find((f) => f.id === frameworkId() && f.connected === false),
          );
          expect(fw).toMatchObject({ active: false, connected: false });
          await expectState(
            cluster.masterUrl,
            capturedState('after-disconnect', (x) => r.map(x)),
          );
        },
        after: (r, live) => {
          expect((live as { streamId: string }).streamId).not.toBe(r.stream('subscribe-1').streamId);
        },
      },
      '07-decline-with-old-stream-id': {
        before: async (r) =>
          expectState(
            cluster.masterUrl,
            capturedState('after-resubscribe', (x) => r.map(x)),
          ),
      },
      '10-subscribe-4-after-teardown': {
        before: async (r) =>
          expectState(
            cluster.masterUrl,
            capturedState('after-teardown', (x) => r.map(x)),
          ),
      },
      '09-teardown': {
        after: async (r) => void (await r.stream('subscribe-3-while-2-still-connected').end()),
      },
      '15-subscribe-6-after-failover-timeout': {
        before: async (r) => {
          const id = r.stream('subscribe-5-failover-timeout-3s').events[0]!.subscribed!.framework_id.value;
          r.stream('subscribe-5-failover-timeout-3s').close();
          await pollState(state, (s) => s.completed_frameworks.find((f) => f.id === id));
          await expectState(
            cluster.masterUrl,
            capturedState('after-failover-timeout-expired', (x) => r.map(x)),
          );
        },
      },
    },
    {
      ended: {
        '05-subscribe-2-same-framework-id': true,
        '08-subscribe-3-while-2-still-connected': true,
        '10-subscribe-4-after-teardown': true,
        '15-subscribe-6-after-failover-timeout': true,
      },
    },
  );
});

function pollState<T>(
  state: () => Promise<{ frameworks: FrameworkSummary[]; completed_frameworks: FrameworkSummary[] }>,
  probe: (s: { frameworks: FrameworkSummary[]; completed_frameworks: FrameworkSummary[] }) => T | undefined,
): Promise<T> {
  let last: Awaited<ReturnType<typeof state>> | undefined;
  let pending = false;
  return waitFor(
    'the master state to change',
    () => {
      if (!pending) {
        pending = true;
        void state().then((s) => {
          last = s;
          pending = false;
        });
      }
      return last ? probe(last) : undefined;
    },
    5000,
  );
}

interface FrameworksJson {
  frameworks: {
    id: string;
    name: string;
    active: boolean;
    connected: boolean;
    recovered: boolean;
    tasks: { id: string; state: string }[];
    registered_time?: number;
    reregistered_time?: number;
    unregistered_time: number;
    failover_timeout: number;
  }[];
  completed_frameworks: {
    id: string;
    name: string;
    active: boolean;
    tasks: unknown[];
    completed_tasks: { id: string; state: string; statuses: { state: string }[] }[];
  }[];
}

/** `GET /master/frameworks`, summarised the way the capture summarised it. */
async function frameworkState(masterUrl: string): Promise<unknown> {
  const json = (await (await fetch(`${masterUrl}/master/frameworks`)).json()) as FrameworksJson;
  return {
    frameworks: json.frameworks.map((f) => ({
      id: f.id,
      name: f.name,
      active: f.active,
      connected: f.connected,
      recovered: f.recovered,
      tasks: f.tasks.map((t) => `${t.id}:${t.state}`),
      ...(f.registered_time !== undefined && { registered_time: '<time>' }),
      ...(f.reregistered_time !== undefined && { reregistered_time: '<time>' }),
      unregistered_time: f.unregistered_time,
      failover_timeout: f.failover_timeout,
    })),
    completed_frameworks: json.completed_frameworks.map((f) => ({
      id: f.id,
      name: f.name,
      active: f.active,
      tasks: f.tasks.length,
      completed_tasks: f.completed_tasks.map(
        (t) => `${t.id}:${t.state}:${t.statuses.map((x) => x.state).join('>')}`,
      ),
    })),
  };
}

/** The capture's summary at `point`, ids rewritten, times normalised. */
function capturedState(
  point: string,
  map: (s: string) => string,
  patch?: (s: Record<string, unknown>) => void,
) {
  const text = readFileSync(fixturePath('10-failover', `framework-state-${point}.json`), 'utf8');
  const json = JSON.parse(
    map(text).replace(/"(re)?registered_time": [\d.]+/g, '"$1registered_time": "<time>"'),
  );
  patch?.(json);
  return json;
}

/** Polls `/master/frameworks` until it matches the captured summary (the kills are asynchronous). */
async function expectState(masterUrl: string, expected: unknown): Promise<void> {
  const deadline = Date.now() + 5000;
  let last = await frameworkState(masterUrl);
  while (!isDeepStrictEqual(last, expected) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    last = await frameworkState(masterUrl);
  }
  expect(last, 'the /master/frameworks summary the capture had').toEqual(expected);
}

it('conformance: 10-failover, `Framework has been removed` on the wire: one chunk, the end, the connection kept', async () => {
  const { cluster, replay } = await setup('10-failover');
  // A framework with failover_timeout 0 (as in the captured 01/02 run) goes away with its stream.
  const first = await replay.subscribe('01-subscribe-1');
  const id = first.events[0]!.subscribed!.framework_id.value;
  // Tear it down (as the capture did before this SUBSCRIBE).
  await fetch(`${cluster.masterUrl}/api/v1/scheduler`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Mesos-Stream-Id': first.streamId },
    body: JSON.stringify({ framework_id: { value: id }, type: 'TEARDOWN' }),
  });
  const req = readRequest('10-failover', '10-subscribe-4-after-teardown');
  const body = JSON.parse(requestBody(req).toString('utf8')) as {
    framework_id: { value: string };
    subscribe: { framework_info: { id: { value: string }; failover_timeout?: number } };
  };
  body.framework_id.value = id;
  body.subscribe.framework_info.id.value = id;
  await expectRemoved(cluster.masterUrl, id);
  const bytes = Buffer.from(JSON.stringify(body));
  const url = new URL(cluster.masterUrl);
  const socket = connect(Number(url.port), url.hostname);
  const wire: Buffer[] = [];
  socket.on('data', (b: Buffer) => wire.push(b));
  try {
    socket.write(
      `POST /api/v1/scheduler HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\n` +
        `Accept: application/json\r\nContent-Length: ${bytes.length}\r\n\r\n`,
    );
    socket.write(bytes);
    const text = await waitFor('the ERROR record and the terminating chunk', () => {
      const t = Buffer.concat(wire).toString('latin1');
      return t.endsWith('\r\n0\r\n\r\n') ? t : undefined;
    });
    const captured = readRecords('10-failover', '10-subscribe-4-after-teardown');
    const record = Buffer.from(captured[0]!).toString('utf8');
    const payload = `${Buffer.byteLength(record)}\n${record}`;
    // Exactly one chunk (68 bytes as captured), then the zero chunk.
    expect(text.slice(text.indexOf('\r\n\r\n') + 4)).toBe(
      `${Buffer.byteLength(payload).toString(16)}\r\n${payload}\r\n0\r\n\r\n`,
    );
    // The TCP connection stays open: the next request on it is answered.
    wire.length = 0;
    socket.write(`GET /health HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`);
    await waitFor('an answer to a second request on the same connection', () =>
      Buffer.concat(wire).toString('latin1').startsWith('HTTP/1.1 200 OK') ? true : undefined,
    );
  } finally {
    socket.destroy();
  }
});

async function expectRemoved(masterUrl: string, id: string): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const json = (await (await fetch(`${masterUrl}/master/frameworks`)).json()) as FrameworksJson;
    if (json.completed_frameworks.some((f) => f.id === id)) return;
    if (Date.now() > deadline) throw new Error(`framework ${id} was not removed within 5 s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
