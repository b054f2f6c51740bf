import { codecFor, type mesos } from '@mesoskit/protocol';
import { describe, expect, it } from 'vitest';
import { sameExecutor } from '../../src/master/validation.js';

const json = codecFor<mesos.v1.ExecutorInfo>('mesos.v1.ExecutorInfo');
const executor = (): mesos.v1.ExecutorInfo => ({
  executor_id: { value: 'e' },
  framework_id: { value: 'f' },
  command: { value: 'exec run', environment: { variables: [{ name: 'A', value: '1' }] } },
  resources: [{ name: 'cpus', type: 'SCALAR', scalar: { value: 0.1 }, allocation_info: { role: '*' } }],
  data: Uint8Array.of(1, 2, 3),
});

describe('sameExecutor', () => {
  it('equal data (other objects, other byte arrays) is the same executor', () => {
    expect(sameExecutor(executor(), executor())).toBe(true);
  });

  it('a changed field, byte or array element is another executor', () => {
    const a = executor();
    expect(sameExecutor(a, { ...executor(), data: Uint8Array.of(1, 2, 4) })).toBe(false);
    expect(sameExecutor(a, { ...executor(), command: { value: 'exec other' } })).toBe(false);
    const b = executor();
    b.resources![0]!.scalar!.value = 0.2;
    expect(sameExecutor(a, b)).toBe(false);
  });

  it('what differs only in data but not in JSON (a default written out) is the same, as before', () => {
    const a = executor();
    const b = executor();
    b.command!.shell = true; // the default
    expect(json.toJSON(a)).toBe(json.toJSON(b));
    expect(sameExecutor(a, b)).toBe(true);
    expect(sameExecutor(b, a)).toBe(true);
  });
});
