/**
 * With credentials on, every scheduler call type (and SUBSCRIBE) without credentials, with a
 * wrong secret, an unknown principal or a malformed header is refused with 401 before anything
 * else is looked at, in both encodings; the right credentials get through.
 */
import { createLogger, MEDIA_TYPES, type SchedulerCall, schedulerCall } from '@mesoskit/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalCluster, startLocalCluster } from '../../src/index.js';
import { rawRequest } from '../master/helpers.js';

const CREDENTIALS = { principal: 'ops', secret: 's3cret' };
const basic = (principal: string, secret: string) =>
  `Basic ${Buffer.from(`${principal}:${secret}`).toString('base64')}`;

const TYPES: SchedulerCall['type'][] = [
  'SUBSCRIBE',
  'TEARDOWN',
  'ACCEPT',
  'DECLINE',
  'ACCEPT_INVERSE_OFFERS',
  'DECLINE_INVERSE_OFFERS',
  'REVIVE',
  'KILL',
  'SHUTDOWN',
  'ACKNOWLEDGE',
  'ACKNOWLEDGE_OPERATION_STATUS',
  'RECONCILE',
  'RECONCILE_OPERATIONS',
  'MESSAGE',
  'REQUEST',
  'SUPPRESS',
  'UPDATE_FRAMEWORK',
];

const BAD_AUTH: [string, Record<string, string>][] = [
  ['no credentials', {}],
  ['a wrong secret', { Authorization: basic('ops', 'wrong') }],
  ['an unknown principal', { Authorization: basic('intruder', 's3cret') }],
  ['a malformed header', { Authorization: 'Basic !!!not-base64' }],
  ['another scheme', { Authorization: 'Bearer s3cret' }],
];

let cluster: LocalCluster;
/** Every log line of the cluster, at the most verbose level. */
const logLines: string[] = [];
beforeAll(async () => {
  cluster = await startLocalCluster({
    credentials: [CREDENTIALS],
    executorAuthentication: true,
    logger: createLogger({ level: 'trace', write: (line) => logLines.push(line) }),
  });
});
afterAll(async () => {
  await cluster?.stop();
});

describe('scheduler authentication on every call', () => {
  for (const encoding of ['json', 'protobuf'] as const) {
    for (const [what, headers] of BAD_AUTH) {
      it(`${encoding}: ${what} → 401 for every call type`, async () => {
        for (const type of TYPES) {
          const body = schedulerCall.encode(
            type === 'SUBSCRIBE'
              ? { type, subscribe: { framework_info: { user: 'u', name: 'n', principal: 'ops' } } }
              : { type, framework_id: { value: 'f' } },
            encoding,
          );
          const res = await rawRequest(cluster.masterUrl, {
            headers: { 'Content-Type': MEDIA_TYPES[encoding], Accept: MEDIA_TYPES[encoding], ...headers },
            body,
          });
          expect(res.status, `${type}: ${res.body}`).toBe(401);
          expect(res.headers['www-authenticate']).toMatch(/^Basic realm=/);
          expect(res.body).not.toContain('s3cret');
        }
      });
    }
  }

  it('the right credentials get past authentication (a call of an unknown framework is then a 4xx other than 401)', async () => {
    const res = await rawRequest(cluster.masterUrl, {
      headers: { 'Content-Type': MEDIA_TYPES.json, Authorization: basic('ops', 's3cret') },
      body: schedulerCall.encode({ type: 'REVIVE', framework_id: { value: 'f' } }, 'json'),
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).not.toBe(401);
  });

  it('credentials never appear in the logs (trace level), whatever was sent', async () => {
    // A subscription with the right credentials, so that the successful path logged too.
    const ok = await rawRequest(cluster.masterUrl, {
      headers: {
        'Content-Type': MEDIA_TYPES.json,
        Accept: MEDIA_TYPES.json,
        Authorization: basic('ops', 's3cret'),
      },
      body: schedulerCall.encode({ type: 'TEARDOWN', framework_id: { value: 'f' } }, 'json'),
    });
    expect(ok.status).not.toBe(401);
    expect(logLines.length).toBeGreaterThan(0);
    const all = logLines.join('');
    for (const secret of [
      's3cret',
      basic('ops', 's3cret').slice(6),
      basic('ops', 'wrong').slice(6),
      'Bearer',
    ]) {
      expect(all).not.toContain(secret);
    }
  });
});
