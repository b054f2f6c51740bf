/**
 * The client against streams captured from a real Mesos master (test/fixtures/real-mesos),
 * replayed by the fake master in 97-byte chunks; our ACKs are checked against the real ones.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { schedulerCall } from '@mesoskit/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { MesosSchedulerClient } from '../src/index.js';
import { FakeMaster, within } from './fake-master.js';

const dir = new URL('./fixtures/real-mesos/', import.meta.url);
const fixture = (name: string) => readFileSync(new URL(name, dir));

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
});
