/**
 * The client against what a real Mesos master sent (test/fixtures/real-mesos): captured streams,
 * replayed by the fake master in 97-byte chunks, and captured error responses, replayed byte for
 * byte. Our calls are checked against the calls a real scheduler sent in the same scenarios.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { encodeRecord, RecordIODecoder, schedulerCall } from '@mesoskit/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import {
  MesosHttpError,
  MesosSchedulerClient,
  memoryFrameworkIdStore,
  SubscriptionLostError,
} from '../src/index.js';
import { capturedReply, FakeMaster, type RecordedRequest, within } from './fake-master.js';

const dir = new URL('./fixtures/real-mesos/', import.meta.url);
const fixture = (name: string) => readFileSync(new URL(name, dir));

/** A captured request: its headers (in order) and its JSON body. */
function capturedRequest(name: string): { headers: [string, string][]; body: unknown } {
  const captured = JSON.parse(fixture(`${name}.request.json`).toString('utf8')) as {
    headers: [string, string][];
    body_text_or_json?: unknown;
    body_json?: unknown;
  };
  return { headers: captured.headers, body: captured.body_text_or_json ?? captured.body_json };
}

/** The headers a real scheduler sent that are ours to choose (not Host, Content-Length). */
function callHeaders(headers: [string, string][]): Record<string, string> {
  return Object.fromEntries(
    headers.filter(([k]) => !/^(host|content-length)$/i.test(k)).map(([k, v]) => [k.toLowerCase(), v]),
  );
}

function ourHeaders(r: RecordedRequest, names: string[]): Record<string, string> {
  return Object.fromEntries(names.map((n) => [n, String(r.headers[n])]));
}

/**
 * A call body as Mesos reads it: parsed and rendered again, so that defaults our encoder writes
 * out (`checkpoint: false`, like Mesos' own JSON) compare equal to the same fields left unset.
 */
function asRead(body: unknown): unknown {
  return JSON.parse(schedulerCall.toJSON(schedulerCall.fromJSONValue(body)));
}

function bodyOf(r: RecordedRequest): unknown {
  return asRead(JSON.parse(r.raw.toString('utf8')));
}

/** The records of a captured RecordIO stream. */
function records(name: string): Uint8Array[] {
  return new RecordIODecoder().push(fixture(name));
}

let master: FakeMaster | undefined;
afterEach(async () => {
  await master?.stop();
  master = undefined;
});

describe('replaying real Mesos streams', () => {
  it('decodes the JSON stream of a command task and acknowledges exactly the updates the real scheduler did', async () => {
    master = await FakeMaster.start();
    master.replay = fixture('03-command-task.stream.bin');
    await using client = await MesosSchedulerClient.connect({
      master: master.url,
      framework: { name: 'replay' },
      encoding: 'json',
    });
    expect(client.frameworkId).toBe('0d793683-1adf-420c-bd87-c24fe18a6afc-0000');
    const expected = readdirSync(dir)
      .filter((f) => f.startsWith('03-') && f.endsWith('.request.json'))
      .sort()
      .map((f) => {
        const captured = JSON.parse(fixture(f).toString('utf8')) as { body_text_or_json: unknown };
        return schedulerCall.fromJSONValue(captured.body_text_or_json).acknowledge;
      });
    expect(expected).toHaveLength(6);
    const acks = await within(
      `${expected.length} ACKNOWLEDGE calls`,
      3000,
      (async () => {
        for (;;) {
          const found = master!.requests.filter((r) => r.call.type === 'ACKNOWLEDGE');
          if (found.length >= expected.length) return found;
          await master!.waitForRequest('one more ACKNOWLEDGE', (r) => r.call.type === 'ACKNOWLEDGE', {
            from: master!.requests.length,
          });
        }
      })(),
    );
    expect(acks.map((r) => r.call.acknowledge)).toEqual(expected);
    for (const r of acks) expect(r.call.framework_id?.value).toBe(client.frameworkId);
  });

  it('decodes the protobuf stream of a subscription: SUBSCRIBED then OFFERS', async () => {
    master = await FakeMaster.start();
    master.replay = fixture('02-subscribe-protobuf.stream.bin');
    await using client = await MesosSchedulerClient.connect({
      master: master.url,
      framework: { name: 'replay' },
    });
    const offers = new Promise<number>((resolve) => client.on('offers', (o) => resolve(o.length)));
    expect(await within('an offers callback', 2000, offers)).toBe(1);
    expect(client.frameworkId).toMatch(/^6e1a5c42-a3a3-4d76-99e3-86670051a92d-\d{4}$/);
  });

  it('fails over like the real scheduler did (scenario 10): same SUBSCRIBE, same implicit RECONCILE, then "Framework failed over"', async () => {
    master = await FakeMaster.start();
    const stream = records('10-05-subscribe-2-same-framework-id.stream.bin');
    expect(stream).toHaveLength(5);
    // everything up to the reconciliation answer now; the ERROR once our RECONCILE arrived
    master.replay = Buffer.concat(stream.slice(0, 4).map((r) => encodeRecord(r)));
    const frameworkId = '2eafb8eb-76b3-40c9-98ae-f2c557717c2f-0000';
    const store = memoryFrameworkIdStore(frameworkId);
    const client = await MesosSchedulerClient.connect({
      master: master.url,
      framework: {
        user: 'root',
        name: 'capture-failover',
        roles: ['*'],
        capabilities: [{ type: 'MULTI_ROLE' }],
        failover_timeout: 60,
      },
      encoding: 'json',
      frameworkIdStore: store,
    });
    const updates: { state: string; uuid: unknown }[] = [];
    client.on('update', (s) => void updates.push({ state: s.state, uuid: s.uuid }));
    const subscribe = capturedRequest('10-05-subscribe-2-same-framework-id');
    expect(bodyOf(master.requests[0]!)).toEqual(asRead(subscribe.body));
    expect(ourHeaders(master.requests[0]!, ['content-type', 'accept'])).toEqual(
      callHeaders(subscribe.headers),
    );
    const ours = await master.waitForCall('RECONCILE');
    const reconcile = capturedRequest('10-06-reconcile-implicit-after-failover');
    expect(bodyOf(ours)).toEqual(asRead(reconcile.body));
    expect(Object.keys(ourHeaders(ours, ['content-type', 'accept', 'mesos-stream-id']))).toEqual(
      Object.keys(callHeaders(reconcile.headers)),
    );
    expect(ours.headers['mesos-stream-id']).toBe(master.last.streamId);
    master.last.response.write(encodeRecord(stream[4]!));
    const err = await within('closed() after the ERROR', 2000, client.closed());
    expect(err).toBeInstanceOf(SubscriptionLostError);
    expect(err?.message).toContain('Framework failed over');
    // the reconciliation answer (no uuid) reached the callback and was not acknowledged
    expect(updates).toEqual([{ state: 'TASK_RUNNING', uuid: undefined }]);
    expect(master.requests.some((r) => r.call.type === 'ACKNOWLEDGE')).toBe(false);
    // failed over is not removed: the id stays for the next run
    expect(await store.load()).toBe(frameworkId);
  });

  it('replays "Framework has been removed" (scenario 10, after TEARDOWN): connect() rejects and the stored id is cleared', async () => {
    master = await FakeMaster.start();
    master.replay = fixture('10-10-subscribe-4-after-teardown.stream.bin');
    const store = memoryFrameworkIdStore('2eafb8eb-76b3-40c9-98ae-f2c557717c2f-0000');
    const err = await MesosSchedulerClient.connect({
      master: master.url,
      framework: { name: 'capture-failover' },
      encoding: 'json',
      frameworkIdStore: store,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SubscriptionLostError);
    expect((err as Error).message).toContain('Framework has been removed');
    expect(await store.load()).toBeUndefined();
  });

  it('rejects with the real 401 (scenario 14) and sends the same Basic credentials as the real scheduler', async () => {
    master = await FakeMaster.start();
    const unauthorized = capturedReply(dir, '14-01-subscribe-no-auth');
    master.respond = () => unauthorized;
    const err = await MesosSchedulerClient.connect({
      master: master.url,
      framework: { name: 'capture-auth' },
      encoding: 'json',
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MesosHttpError);
    expect(err).toMatchObject({ status: 401, body: '401 Unauthorized.', callType: 'SUBSCRIBE' });

    master.respond = () => 'default';
    master.frameworkId = 'bafeebc8-f69d-45bb-be7e-5763e79c2239-0001';
    await using client = await MesosSchedulerClient.connect({
      master: master.url,
      framework: {
        user: 'root',
        name: 'capture-auth',
        roles: ['*'],
        capabilities: [{ type: 'MULTI_ROLE' }],
        failover_timeout: 0,
        principal: 'capture-principal',
      },
      encoding: 'json',
      credentials: { principal: 'capture-principal', secret: 'capture-secret' },
    });
    expect(client.frameworkId).toBe(master.frameworkId);
    const subscribe = capturedRequest('14-09-subscribe-right-auth');
    const ourSubscribe = master.requests.at(-1)!;
    expect(bodyOf(ourSubscribe)).toEqual(asRead(subscribe.body));
    expect(ourHeaders(ourSubscribe, ['content-type', 'accept', 'authorization'])).toEqual(
      callHeaders(subscribe.headers),
    );
    // the update the real scheduler acknowledged, and our automatic ACK of it
    const ack = capturedRequest('14-12-ack-a1-TASK_RUNNING');
    const captured = (ack.body as { acknowledge: { agent_id: { value: string }; uuid: string } }).acknowledge;
    master.last.send({
      type: 'UPDATE',
      update: {
        status: {
          task_id: { value: 'a1' },
          state: 'TASK_RUNNING',
          source: 'SOURCE_EXECUTOR',
          agent_id: captured.agent_id,
          uuid: Uint8Array.from(Buffer.from(captured.uuid, 'base64')),
        },
      },
    });
    const ours = await master.waitForCall('ACKNOWLEDGE');
    expect(bodyOf(ours)).toEqual(asRead(ack.body));
    const expectedHeaders = callHeaders(ack.headers);
    expect(Object.keys(ourHeaders(ours, Object.keys(expectedHeaders)))).toEqual(Object.keys(expectedHeaders));
    expect(ours.headers.authorization).toBe(expectedHeaders.authorization);
    expect(ours.headers['mesos-stream-id']).toBe(master.last.streamId);
  });

  it('rejects calls with the real 400s (scenarios 08, 10) as MesosHttpError carrying status and body; DECLINE matches the real one', async () => {
    master = await FakeMaster.start();
    master.frameworkId = '17201596-0416-47c6-bfed-1e887c32b3ac-0000';
    await using client = await MesosSchedulerClient.connect({
      master: master.url,
      framework: { name: 'capture-errors' },
      encoding: 'json',
    });
    const staleStream = capturedReply(dir, '10-07-decline-with-old-stream-id');
    const unknownFramework = capturedReply(dir, '08-16-sched-call-unknown-framework-id');
    const accepted = capturedReply(dir, '08-21-sched-decline-valid-with-stream-id');
    master.respond = (r) =>
      r.call.type === 'KILL' ? staleStream : r.call.type === 'REVIVE' ? unknownFramework : accepted;
    await client.decline(['17201596-0416-47c6-bfed-1e887c32b3ac-O0'], { refuse_seconds: 1 });
    const decline = capturedRequest('08-21-sched-decline-valid-with-stream-id');
    const ours = master.requests.at(-1)!;
    expect(bodyOf(ours)).toEqual(asRead(decline.body));
    expect(Object.keys(ourHeaders(ours, ['content-type', 'accept', 'mesos-stream-id']))).toEqual(
      Object.keys(callHeaders(decline.headers)),
    );
    expect(ours.headers['content-type']).toBe('application/json');

    const stale = await client.kill('t1').catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(MesosHttpError);
    expect(stale).toMatchObject({ status: 400, callType: 'KILL', body: staleStream.body.toString('utf8') });
    expect((stale as MesosHttpError).body).toMatch(
      /^The stream ID '.*' included in this request didn't match/,
    );
    await expect(client.revive()).rejects.toMatchObject({
      status: 400,
      body: 'Framework cannot be found',
      code: 'MESOS_HTTP_ERROR',
    });
    // refused calls do not end the subscription
    expect(client.subscribed).toBe(true);
  });

  it('acknowledges the protobuf updates of scenario 16 with the same bytes the real scheduler sent', async () => {
    master = await FakeMaster.start();
    master.replay = fixture('16-01-subscribe.stream.bin');
    await using client = await MesosSchedulerClient.connect({
      master: master.url,
      framework: { name: 'replay-protobuf' },
    });
    const names = [
      '16-03-ack-pb1-TASK_STARTING',
      '16-04-ack-pb1-TASK_RUNNING',
      '16-05-ack-pb1-TASK_FINISHED',
    ];
    const expected = names.map((name) => {
      const captured = JSON.parse(fixture(`${name}.request.json`).toString('utf8')) as {
        headers: [string, string][];
        body_base64: string;
      };
      return { headers: captured.headers, body: Buffer.from(captured.body_base64, 'base64') };
    });
    await master.waitForRequest(
      'three ACKNOWLEDGE calls',
      () => master!.requests.filter((r) => r.call.type === 'ACKNOWLEDGE').length === names.length,
    );
    const acks = master.requests.filter((r) => r.call.type === 'ACKNOWLEDGE');
    expect(client.frameworkId).toBe(acks[0]!.call.framework_id?.value);
    for (const [i, ack] of acks.entries()) {
      const want = expected[i]!;
      expect(ack.raw.equals(want.body), `${names[i]}: byte-identical body`).toBe(true);
      expect(ourHeaders(ack, ['content-type', 'accept'])).toEqual(
        Object.fromEntries(
          Object.entries(callHeaders(want.headers)).filter(([k]) => k !== 'mesos-stream-id'),
        ),
      );
      expect(ack.headers['mesos-stream-id']).toBe(master.last.streamId);
    }
  });
});
