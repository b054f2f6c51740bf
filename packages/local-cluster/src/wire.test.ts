import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromWireJson, toWireJson } from './wire.js';

/** What `toWireJson` must match: `JSON.stringify` with the wire replacer. */
const replacer = (_key: string, value: unknown): unknown => {
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString('base64') };
  if (typeof value === 'bigint') return { $int64: value.toString() };
  return value;
};
const reference = (value: unknown): string => JSON.stringify(value, replacer);

const leaf = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.bigInt(),
  fc.uint8Array().map((b) => b),
  fc.uint8Array({ minLength: 4 }).map((b) => b.subarray(1, b.length - 1)),
  fc.uint8Array().map((b) => Buffer.from(b)),
  fc.date({ noInvalidDate: true }),
  fc.constant(() => 1),
  fc.constant(Symbol('s')),
);
const { value } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 4 }),
  object: fc.dictionary(fc.string(), tie('value'), { maxKeys: 5 }),
}));

describe('wire JSON', () => {
  it('writes what JSON.stringify with the wire replacer writes', () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(toWireJson(v)).toBe(reference(v));
      }),
      { numRuns: 2000 },
    );
  });

  it('writes a TaskStatus record as before, and reads it back', () => {
    const status = {
      task_id: { value: 't1' },
      state: 'TASK_RUNNING',
      uuid: Uint8Array.from([0, 1, 254, 255]),
      data: Buffer.from('result'),
      timestamp: 1_763_700_000.123,
      executor_id: { value: 'e' },
      container_status: { executor_pid: 42, network_infos: [] },
      big: 2n ** 63n,
      missing: undefined,
    };
    const record = { update: status };
    expect(toWireJson(record)).toBe(reference(record));
    expect(fromWireJson(toWireJson({ uuid: status.uuid, big: status.big }))).toEqual({
      uuid: status.uuid,
      big: status.big,
    });
  });
});
