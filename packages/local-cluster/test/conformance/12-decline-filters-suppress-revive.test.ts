/**
 * Capture 12: DECLINE filters (refuse_seconds 3, default, 0, -1), SUPPRESS keeps a held offer
 * and stops new ones, REVIVE re-offers at once and clears decline filters, SUPPRESS/REVIVE with
 * roles (even unknown ones) → 202. Every call is replayed and compared; offer pacing is checked
 * against the filter durations.
 */
import type { SchedulerEvent } from '@mesoskit/protocol';
import { expect, it } from 'vitest';
import { conformance } from './harness.js';
import { type LiveStream, type Replay, runScenario } from './replay.js';

const setup = conformance();

/** Real `refuse_seconds: 3` → 0.3 s here; the default (5 s) and -1 (→ default) stay real. */
const SCALE: Record<string, number> = { '02-decline-refuse-3s': 0.3 };

it('conformance: 12-decline-filters-suppress-revive', async () => {
  const { replay } = await setup(
    '12-decline-filters-suppress-revive',
    // Mesos: heartbeats every 15 s; here 250 ms, used as a clock to bound "nothing arrives".
    { heartbeatIntervalMs: 250 },
    {
      heartbeatSeconds: 0.25,
      patchRequest: (name, body) => {
        const decline = body.decline as { filters?: { refuse_seconds?: number } } | undefined;
        if (SCALE[name] !== undefined && decline?.filters) decline.filters.refuse_seconds = SCALE[name];
      },
    },
  );
  const live = () => replay.stream('subscribe');
  // Measured from just before the DECLINE is sent, which is before the master starts the filter,
  // so the next offer can never come sooner than the filter's duration after it, however loaded
  // the machine is (a few ms of slack cover timer and clock rounding).
  let declinedAt = 0;
  let eventsBefore = 0;
  const declining = () => {
    declinedAt = Date.now();
    eventsBefore = live().events.length;
  };
  /** Milliseconds from the last DECLINE to the first OFFERS that arrived after it was sent. */
  const nextOfferAfter = (r: Replay) => {
    const s = r.stream('subscribe');
    const i = s.events.findIndex((e, k) => k >= eventsBefore && e.type === 'OFFERS');
    expect(i, 'no OFFERS after the DECLINE').toBeGreaterThanOrEqual(0);
    return s.times[i]! - declinedAt;
  };
  await runScenario(replay, {
    '02-decline-refuse-3s': { before: declining },
    '03-decline-no-filters-default': {
      before: (r) => {
        expect(nextOfferAfter(r)).toBeGreaterThanOrEqual(295);
        declining();
      },
    },
    '04-decline-refuse-0': {
      before: (r) => {
        expect(nextOfferAfter(r)).toBeGreaterThanOrEqual(4995);
        declining();
      },
    },
    '05-decline-refuse-negative': {
      before: (r) => {
        expect(nextOfferAfter(r)).toBeLessThan(1000);
        declining();
      },
    },
    '06-suppress-no-roles': {
      before: (r) => expect(nextOfferAfter(r)).toBeGreaterThanOrEqual(4995),
      // The held offer is not rescinded (Mesos: none within 2 s; here: two heartbeats).
      after: () => quiet(live(), (e) => e.type === 'RESCIND'),
    },
    // While suppressed, a declined offer (refuse 0) does not come back (Mesos: 8 s watched).
    '07-decline-held-offer-refuse-0-while-suppressed': {
      after: () => quiet(live(), (e) => e.type === 'OFFERS'),
    },
    // REVIVE re-offers at once.
    '08-revive-no-roles': { after: () => nextOffer(live(), 1000) },
    // REVIVE {roles:["*"]} clears the 3600 s decline filter: an offer at once.
    '10-revive-with-role-star': { after: () => nextOffer(live(), 1000) },
  });
});

/** No event matching `pred` arrives before two more HEARTBEATs. */
async function quiet(s: LiveStream, pred: (e: SchedulerEvent) => boolean): Promise<void> {
  const from = s.events.length;
  const beats = () => s.events.slice(from).filter((e) => e.type === 'HEARTBEAT').length;
  await s.wait('two HEARTBEATs', () => (beats() >= 2 ? true : undefined));
  expect(
    s.events
      .slice(from)
      .filter(pred)
      .map((e) => e.type),
  ).toEqual([]);
}

/** An OFFERS event within `ms` (it may already have arrived with the 202). */
async function nextOffer(s: LiveStream, ms: number): Promise<void> {
  const from = Date.now() - 50;
  await s.wait(
    'an OFFERS event right after REVIVE',
    () => (s.events.some((e, i) => e.type === 'OFFERS' && s.times[i]! >= from) ? true : undefined),
    ms,
  );
}
