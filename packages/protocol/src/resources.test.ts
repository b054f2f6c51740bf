import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidOptionsError, ResourceError } from './errors.js';
import {
  addResources,
  allocateTo,
  containsResources,
  filterByRole,
  formatResources,
  isUnreserved,
  isValidRole,
  parseResources,
  pickPorts,
  type Resource,
  rangesOf,
  reservationRole,
  resourcesFromSpec,
  scalarOf,
  subtractResources,
  validateResources,
} from './resources.js';

const p = (text: string) => parseResources(text);
const fmt = formatResources;

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

function errorOf(fn: () => unknown): ResourceError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ResourceError);
    return err as ResourceError;
  }
  throw new Error('expected a ResourceError');
}

const scalar = (name: string, value: number, extra: Partial<Resource> = {}): Resource => ({
  name,
  type: 'SCALAR',
  scalar: { value },
  ...extra,
});
const ranges = (name: string, list: [number, number][], extra: Partial<Resource> = {}): Resource => ({
  name,
  type: 'RANGES',
  ranges: { range: list.map(([begin, end]) => ({ begin, end })) },
  ...extra,
});
const set = (name: string, item: string[], extra: Partial<Resource> = {}): Resource => ({
  name,
  type: 'SET',
  set: { item },
  ...extra,
});

/** Deep-freezes a value so any mutation by the code under test throws. */
function frozen<T>(v: T): T {
  if (v && typeof v === 'object') {
    for (const x of Object.values(v)) frozen(x);
    Object.freeze(v);
  }
  return v;
}

describe('parseResources', () => {
  it('parses scalars, ranges, sets and roles', () => {
    expect(p('cpus:2;mem:1024;disk:4096;ports:[31000-32000]')).toEqual([
      scalar('cpus', 2),
      scalar('mem', 1024),
      scalar('disk', 4096),
      ranges('ports', [[31000, 32000]]),
    ]);
    expect(p('cpus(eng):1;zones:{a,b,c}')).toEqual([
      scalar('cpus', 1, { role: 'eng' }),
      set('zones', ['a', 'b', 'c']),
    ]);
    expect(p('ports:[31000-31005,32000-32000]')).toEqual([
      ranges('ports', [
        [31000, 31005],
        [32000, 32000],
      ]),
    ]);
  });

  it('tolerates whitespace and empty tokens', () => {
    expect(p('  cpus : 2 ; mem:1024 ;; ports: [ 1 - 2 , 5-6 ] ; s : { a , b } ;')).toEqual([
      scalar('cpus', 2),
      scalar('mem', 1024),
      ranges('ports', [
        [1, 2],
        [5, 6],
      ]),
      set('s', ['a', 'b']),
    ]);
    expect(p('cpus ( eng ) : 1')).toEqual([scalar('cpus', 1, { role: 'eng' })]);
    expect(p('')).toEqual([]);
    expect(p('  ')).toEqual([]);
  });

  it('sums repeated names and keeps roles apart', () => {
    expect(p('cpus:1;cpus:0.5;ports:[1-2];ports:[3-4];cpus(eng):1')).toEqual([
      scalar('cpus', 1.5),
      ranges('ports', [[1, 4]]),
      scalar('cpus', 1, { role: 'eng' }),
    ]);
  });

  it('leaves role unset for *, applies defaultRole otherwise', () => {
    expect(p('cpus(*):1')).toEqual([scalar('cpus', 1)]);
    expect(parseResources('cpus:1;mem(*):2', { defaultRole: 'eng' })).toEqual([
      scalar('cpus', 1, { role: 'eng' }),
      scalar('mem', 2),
    ]);
    expect(() => parseResources('cpus:1', { defaultRole: '/bad' })).toThrow(InvalidOptionsError);
  });

  it('drops empty resources', () => {
    expect(p('cpus:0;ports:[];s:{}')).toEqual([]);
  });

  it('accepts the JSON array form', () => {
    expect(
      p(
        '[{"name":"cpus","type":"SCALAR","scalar":{"value":2}},{"name":"cpus","type":"SCALAR","scalar":{"value":0.1}}]',
      ),
    ).toEqual([scalar('cpus', 2.1)]);
    expect(p(' [{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":"5","end":"9"}]}}]')).toEqual([
      ranges('ports', [[5, 9]]),
    ]);
    expect(
      parseResources('[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}]', { defaultRole: 'eng' }),
    ).toEqual([scalar('cpus', 1, { role: 'eng' })]);
    expect(codeOf(() => p('[{"name":"cpus"'))).toBe('RESOURCE_PARSE');
    expect(codeOf(() => p('[1]'))).toBe('RESOURCE_PARSE');
    expect(codeOf(() => p('[{"name":"cpus","type":"SCALAR","scalar":{"value":-1}}]'))).toBe('RESOURCE_PARSE');
    expect(codeOf(() => p('[{"name":"t","type":"TEXT"}]'))).toBe('RESOURCE_PARSE');
  });

  it.each([
    ['cpus:', 'missing value'],
    ['cpus:abc', 'not a number'],
    ['ports:[5-3]', 'begin > end'],
    ['mem:-1', 'negative'],
    ['ports:[1-2', 'unbalanced'],
    ['ports:1-2]', 'unbalanced'],
    ['ports:[[1-2]]', 'brackets'],
    ['s:{a,b', 'unbalanced'],
    ['s:a,b}', 'unbalanced'],
    ['s:{a,a}', 'duplicated'],
    ['s:{a,,b}', 'empty set item'],
    ['cpus(eng:1', 'unbalanced'],
    ['cpus(/eng):1', 'invalid role'],
    ['cpus', "expected ':'"],
    [':1', 'missing resource name'],
    ['ports:[1-2,2-3]', 'overlap'],
    ['ports:[1]', 'expected begin-end'],
    ['cpus:0.0001', 'rounds to 0'],
    ['gpus:1.5', 'whole number'],
    ['cpus:1;cpus:[1-2]', 'already given as SCALAR'],
    ['cpus:1e999', 'finite'],
  ])('rejects %j with RESOURCE_PARSE (%s)', (text, why) => {
    const err = errorOf(() => p(text));
    expect(err.code).toBe('RESOURCE_PARSE');
    expect(err.message).toContain(why);
  });

  it('names the bad token and its position', () => {
    const err = errorOf(() => p('cpus:1; mem:abc'));
    expect(err.message).toContain('"mem:abc"');
    expect(err.message).toContain('position 8');
  });
});

describe('formatResources', () => {
  it('prints the text form', () => {
    expect(fmt([scalar('cpus', 2), scalar('mem', 1024), ranges('ports', [[31000, 32000]])])).toBe(
      'cpus:2;mem:1024;ports:[31000-32000]',
    );
    expect(fmt([scalar('cpus', 1, { role: 'eng' }), scalar('mem', 1, { role: '*' })])).toBe(
      'cpus(eng):1;mem:1',
    );
    expect(fmt([set('s', ['a', 'b'])])).toBe('s:{a,b}');
    expect(fmt([])).toBe('');
  });

  it('prints scalars with at most 3 decimals and no float noise', () => {
    expect(fmt([scalar('cpus', 0.1 + 0.2)])).toBe('cpus:0.3');
    expect(fmt([scalar('cpus', 1.23456)])).toBe('cpus:1.235');
    expect(fmt(addResources([scalar('cpus', 0.1)], [scalar('cpus', 0.2)]))).toBe('cpus:0.3');
  });

  it('sorts and coalesces ranges, converts bigint bounds', () => {
    const r: Resource = {
      name: 'ports',
      type: 'RANGES',
      ranges: {
        range: [
          { begin: 5n, end: 6n },
          { begin: 1, end: 2 },
          { begin: 3, end: 3 },
        ],
      },
    };
    expect(fmt([r])).toBe('ports:[1-3,5-6]');
  });

  it('falls back to JSON for what the text form cannot express, and that parses back', () => {
    const rs = [scalar('cpus', 1, { allocation_info: { role: 'eng' } }), ranges('ports', [[1, 2]])];
    const text = fmt(rs);
    expect(text.startsWith('[')).toBe(true);
    expect(p(text)).toEqual(rs);
  });

  it('round-trips through parseResources', () => {
    for (const text of [
      'cpus:2;mem:1024;disk:4096;ports:[31000-32000]',
      'cpus(eng):1.5;mem(eng/frontend):3;s:{a,b,c};ports:[1-5,7-9]',
      'cpus:0.001',
    ]) {
      expect(fmt(p(text))).toBe(text);
    }
  });

  it('throws RESOURCE_INVALID on invalid resources', () => {
    expect(codeOf(() => fmt([{ name: 'cpus', type: 'SCALAR' }]))).toBe('RESOURCE_INVALID');
  });
});

describe('arithmetic', () => {
  it('works through the §5.4 example', () => {
    const offer = p('cpus:4;mem:4096;ports:[31000-32000]');
    const task = p('cpus:0.5;mem:128;ports:[31005-31005]');
    const executor = p('cpus:0.1;mem:32');
    const request = addResources(task, executor);
    expect(containsResources(offer, request)).toBe(true);
    expect(fmt(subtractResources(offer, request))).toBe('cpus:3.4;mem:3936;ports:[31000-31004,31006-32000]');
    // also step by step
    expect(fmt(subtractResources(subtractResources(offer, task), executor))).toBe(
      'cpus:3.4;mem:3936;ports:[31000-31004,31006-32000]',
    );
  });

  it('does fixed-point scalar arithmetic', () => {
    expect(containsResources([scalar('cpus', 0.3)], [scalar('cpus', 0.1), scalar('cpus', 0.2)])).toBe(true);
    expect(
      subtractResources([scalar('cpus', 0.3)], addResources([scalar('cpus', 0.1)], [scalar('cpus', 0.2)])),
    ).toEqual([]);
    let sum: Resource[] = [];
    for (let i = 0; i < 10; i++) sum = addResources(sum, [scalar('cpus', 0.1)]);
    expect(sum).toEqual([scalar('cpus', 1)]);
    expect(scalarOf(sum, 'cpus')).toBe(1);
    expect(subtractResources([scalar('mem', 64)], [scalar('mem', 64)])).toEqual([]);
    expect(subtractResources(p('cpus:1;mem:64'), p('mem:64'))).toEqual([scalar('cpus', 1)]);
  });

  it('rounds at 0.0005 boundaries', () => {
    expect(scalarOf([scalar('cpus', 0.0005)], 'cpus')).toBe(0.001);
    expect(scalarOf([scalar('cpus', 1.0005)], 'cpus')).toBe(1.001);
    expect(scalarOf([scalar('cpus', 1.00049)], 'cpus')).toBe(1);
    expect(codeOf(() => validateResources([scalar('cpus', 0.00049)]))).toBe('RESOURCE_INVALID');
    // 1.0004 and 1 are the same quantity at 3 decimals
    expect(containsResources([scalar('cpus', 1)], [scalar('cpus', 1.0004)])).toBe(true);
    expect(containsResources([scalar('cpus', 1)], [scalar('cpus', 1.0005)])).toBe(false);
  });

  it('allows exact 0 scalars', () => {
    expect(() => validateResources([scalar('cpus', 0)])).not.toThrow();
    expect(containsResources([], [scalar('cpus', 0)])).toBe(true);
    expect(addResources([scalar('cpus', 0)], [])).toEqual([]);
  });

  it('merges ranges', () => {
    expect(rangesOf(addResources(p('ports:[1-2]'), p('ports:[3-4]')), 'ports')).toEqual([
      { begin: 1, end: 4 },
    ]);
    expect(fmt(addResources(p('ports:[1-5]'), p('ports:[3-8]')))).toBe('ports:[1-8]');
    expect(
      fmt(
        addResources(
          [
            ranges('ports', [
              [20, 30],
              [1, 2],
              [10, 12],
            ]),
          ],
          p('ports:[3-9]'),
        ),
      ),
    ).toBe('ports:[1-12,20-30]');
    expect(fmt(addResources(p('ports:[1-10]'), p('ports:[3-4]')))).toBe('ports:[1-10]');
  });

  it('splits ranges on subtract and checks superset', () => {
    expect(fmt(subtractResources(p('ports:[1-10]'), p('ports:[3-4,7-7]')))).toBe('ports:[1-2,5-6,8-10]');
    expect(fmt(subtractResources(p('ports:[1-10,20-30]'), p('ports:[1-10,25-30]')))).toBe('ports:[20-24]');
    expect(fmt(subtractResources(p('ports:[1-10,12-20]'), p('ports:[5-10,12-15]')))).toBe(
      'ports:[1-4,16-20]',
    );
    expect(containsResources(p('ports:[1-10]'), p('ports:[2-3,9-10]'))).toBe(true);
    expect(containsResources(p('ports:[1-5,7-10]'), p('ports:[5-7]'))).toBe(false);
    expect(containsResources(p('ports:[1-5,6-10]'), p('ports:[5-7]'))).toBe(true);
  });

  it('does set arithmetic', () => {
    expect(addResources(p('s:{a,b}'), p('s:{b,c}'))).toEqual([set('s', ['a', 'b', 'c'])]);
    expect(subtractResources(p('s:{a,b,c}'), p('s:{b}'))).toEqual([set('s', ['a', 'c'])]);
    expect(containsResources(p('s:{a,b}'), p('s:{a}'))).toBe(true);
    expect(containsResources(p('s:{a,b}'), p('s:{a,z}'))).toBe(false);
  });

  it('throws RESOURCE_INSUFFICIENT naming what is missing', () => {
    const err = errorOf(() => subtractResources(p('cpus:1;ports:[1-5]'), p('cpus:1.5;ports:[4-6];mem:10')));
    expect(err.code).toBe('RESOURCE_INSUFFICIENT');
    expect(err.message).toContain('cpus:0.5');
    expect(err.message).toContain('ports:[6-6]');
    expect(err.message).toContain('mem:10');
    expect(codeOf(() => subtractResources(p('s:{a}'), p('s:{b}')))).toBe('RESOURCE_INSUFFICIENT');
  });

  it('never mutates its inputs', () => {
    const a = frozen(p('cpus:1;ports:[1-10];s:{a,b}'));
    const b = frozen(p('cpus:0.5;ports:[2-3];s:{a}'));
    const before = JSON.stringify([a, b]);
    const sum = addResources(a, b);
    subtractResources(a, b);
    containsResources(a, b);
    pickPorts(a, 2);
    allocateTo(a, 'eng');
    expect(JSON.stringify([a, b])).toBe(before);
    sum[0]!.scalar!.value = 99;
    expect(a[0]!.scalar!.value).toBe(1);
  });

  it('handles many resources in one bucket (no quadratic merging)', () => {
    const many = Array.from({ length: 50_000 }, (_, i) => ranges('ports', [[2 * i, 2 * i]]));
    const evens = addResources(many, []);
    expect(evens).toHaveLength(1);
    expect(evens[0]!.ranges!.range).toHaveLength(50_000);
    const odds = many.map((r) =>
      ranges('ports', [
        [(r.ranges!.range![0]!.begin as number) + 1, (r.ranges!.range![0]!.begin as number) + 1],
      ]),
    );
    expect(fmt(addResources(evens, odds))).toBe('ports:[0-99999]');
    expect(fmt(subtractResources(addResources(evens, odds), odds))).toBe(fmt(evens));
    expect(
      scalarOf(
        Array.from({ length: 50_000 }, () => scalar('cpus', 0.001)),
        'cpus',
      ),
    ).toBe(50);
  });

  it('converts bigint bounds and rejects unsafe ones', () => {
    const big: Resource = { name: 'ports', type: 'RANGES', ranges: { range: [{ begin: 1n, end: 3n }] } };
    const out = addResources([big], []);
    expect(out).toEqual([ranges('ports', [[1, 3]])]);
    expect(typeof out[0]!.ranges!.range![0]!.begin).toBe('number');
    const huge: Resource = {
      name: 'ports',
      type: 'RANGES',
      ranges: { range: [{ begin: 1n, end: BigInt(Number.MAX_SAFE_INTEGER) + 1n }] },
    };
    expect(codeOf(() => validateResources([huge]))).toBe('RESOURCE_INVALID');
  });

  it('sums with scalarOf and rangesOf, with a filter', () => {
    const rs = p('cpus:1;cpus(eng):2;ports:[5-6];ports(eng):[1-2]');
    expect(scalarOf(rs, 'cpus')).toBe(3);
    expect(scalarOf(rs, 'cpus', isUnreserved)).toBe(1);
    expect(scalarOf(rs, 'mem')).toBe(0);
    expect(rangesOf(rs, 'ports')).toEqual([
      { begin: 1, end: 2 },
      { begin: 5, end: 6 },
    ]);
    expect(rangesOf(rs, 'ports', isUnreserved)).toEqual([{ begin: 5, end: 6 }]);
  });
});

describe('validateResources', () => {
  it.each<[string, Resource, string]>([
    ['negative scalar', scalar('cpus', -1), 'negative'],
    ['NaN', scalar('cpus', Number.NaN), 'finite'],
    ['begin > end', ranges('ports', [[5, 3]]), 'begin > end'],
    [
      'overlapping ranges',
      ranges('ports', [
        [1, 5],
        [5, 6],
      ]),
      'overlap',
    ],
    ['negative bound', ranges('ports', [[-1, 5]]), 'unsigned'],
    ['duplicate set item', set('s', ['a', 'a']), 'duplicated'],
    ['SCALAR without scalar', { name: 'cpus', type: 'SCALAR' }, "no 'scalar'"],
    ['RANGES without ranges', { name: 'p', type: 'RANGES', scalar: { value: 1 } }, "no 'ranges'"],
    [
      'SCALAR with set',
      { name: 'c', type: 'SCALAR', scalar: { value: 1 }, set: {} },
      "also 'ranges' or 'set'",
    ],
    ['TEXT type', { name: 't', type: 'TEXT' }, 'TEXT'],
    ['unknown type', { name: 't', type: 'BOGUS' } as unknown as Resource, 'unknown type'],
    ['no name', scalar('', 1), 'no name'],
    ['fractional gpus', scalar('gpus', 0.5), 'gpus'],
    ['invalid role', scalar('cpus', 1, { role: 'a b' }), 'invalid role'],
    [
      'mixed formats',
      scalar('cpus', 1, { role: 'eng', reservations: [{ type: 'STATIC', role: 'eng' }] }),
      'mixes',
    ],
    [
      'non-refining stack',
      scalar('cpus', 1, {
        reservations: [
          { type: 'STATIC', role: 'eng' },
          { type: 'DYNAMIC', role: 'ops' },
        ],
      }),
      'sub-role',
    ],
    ['reservation without role', scalar('cpus', 1, { reservation: { principal: 'p' } }), 'no reserved role'],
  ])('rejects %s', (_label, r, why) => {
    const err = errorOf(() => validateResources([scalar('mem', 1), r]));
    expect(err.code).toBe('RESOURCE_INVALID');
    expect(err.message).toContain('resource #1');
    expect(err.message).toContain(why);
  });

  it('accepts valid resources, unsorted ranges and bigint bounds', () => {
    expect(() =>
      validateResources([
        scalar('cpus', 0.5),
        ranges('ports', [
          [10, 20],
          [1, 2],
        ]),
        { name: 'ports', type: 'RANGES', ranges: { range: [{ begin: 1n, end: 2n }] } },
        set('s', []),
        scalar('gpus', 2),
        scalar('cpus', 1, { role: '*', reservations: [{ type: 'STATIC', role: 'eng' }] }),
      ]),
    ).not.toThrow();
  });

  it('is used by the arithmetic', () => {
    expect(codeOf(() => addResources([scalar('cpus', -1)], []))).toBe('RESOURCE_INVALID');
    expect(codeOf(() => containsResources([], [set('s', ['a', 'a'])]))).toBe('RESOURCE_INVALID');
  });
});

describe('roles', () => {
  it('keeps reserved and unreserved resources apart', () => {
    expect(containsResources(p('cpus(eng):1'), p('cpus:1'))).toBe(false);
    expect(containsResources(p('cpus:1'), p('cpus(eng):1'))).toBe(false);
    expect(containsResources(p('cpus(eng):1;cpus:1'), p('cpus(eng):1;cpus:0.5'))).toBe(true);
    expect(addResources(p('cpus(eng):1'), p('cpus:1'))).toHaveLength(2);
  });

  it("combines { role: '*' } with no role", () => {
    expect(addResources([scalar('cpus', 1, { role: '*' })], [scalar('cpus', 2)])).toEqual([
      scalar('cpus', 3, { role: '*' }),
    ]);
    expect(containsResources([scalar('cpus', 1)], [scalar('cpus', 1, { role: '*' })])).toBe(true);
  });

  it('compares new-format reservation stacks', () => {
    const eng = { type: 'STATIC', role: 'eng' } as const;
    const fe = { type: 'DYNAMIC', role: 'eng/fe', principal: 'alice' } as const;
    const a = scalar('cpus', 1, { reservations: [eng, fe] });
    const b = scalar('cpus', 2, { reservations: [eng, fe] });
    const c = scalar('cpus', 2, { reservations: [eng] });
    expect(addResources([a], [b])).toEqual([scalar('cpus', 3, { reservations: [eng, fe] })]);
    expect(addResources([a], [c])).toHaveLength(2);
    expect(containsResources([c], [a])).toBe(false);
    // principal and labels are part of the reservation
    const other = scalar('cpus', 1, { reservations: [eng, { ...fe, principal: 'bob' }] });
    expect(addResources([a], [other])).toHaveLength(2);
    const labelled = (labels: { key: string; value?: string }[]) =>
      scalar('cpus', 1, { reservations: [eng, { ...fe, labels: { labels } }] });
    expect(
      addResources(
        [labelled([{ key: 'a', value: '1' }, { key: 'b' }])],
        [labelled([{ key: 'b' }, { key: 'a', value: '1' }])],
      ),
    ).toHaveLength(1);
    expect(
      addResources([labelled([{ key: 'a', value: '1' }])], [labelled([{ key: 'a', value: '2' }])]),
    ).toHaveLength(2);
  });

  it('treats an old-format role as a STATIC reservation, with reservation as DYNAMIC', () => {
    const old = scalar('cpus', 1, { role: 'eng' });
    expect(
      addResources([old], [scalar('cpus', 1, { reservations: [{ type: 'STATIC', role: 'eng' }] })]),
    ).toEqual([scalar('cpus', 2, { role: 'eng' })]);
    const dyn = scalar('cpus', 1, { role: 'eng', reservation: { principal: 'p' } });
    expect(addResources([old], [dyn])).toHaveLength(2);
    expect(
      addResources(
        [dyn],
        [scalar('cpus', 1, { reservations: [{ type: 'DYNAMIC', role: 'eng', principal: 'p' }] })],
      ),
    ).toHaveLength(1);
  });

  it('keeps allocation roles apart', () => {
    const offer = [...allocateTo(p('cpus:1'), 'a'), ...allocateTo(p('cpus:1'), 'b')];
    expect(offer).toHaveLength(2);
    expect(addResources(offer, [])).toHaveLength(2);
    expect(containsResources(offer, allocateTo(p('cpus:1.5'), 'a'))).toBe(false);
    expect(containsResources(offer, allocateTo(p('cpus:1'), 'a'))).toBe(true);
    expect(containsResources(offer, p('cpus:1'))).toBe(false);
    expect(scalarOf(offer, 'cpus', (r) => r.allocation_info?.role === 'b')).toBe(1);
    expect(() => allocateTo(offer, 'a b')).toThrow(InvalidOptionsError);
  });

  it('gives the reservation role', () => {
    expect(reservationRole(scalar('cpus', 1))).toBe('*');
    expect(reservationRole(scalar('cpus', 1, { role: 'eng' }))).toBe('eng');
    expect(
      reservationRole(
        scalar('cpus', 1, {
          reservations: [
            { type: 'STATIC', role: 'eng' },
            { type: 'DYNAMIC', role: 'eng/fe' },
          ],
        }),
      ),
    ).toBe('eng/fe');
    expect(isUnreserved(scalar('cpus', 1, { role: '*' }))).toBe(true);
    expect(isUnreserved(scalar('cpus', 1, { reservations: [] }))).toBe(true);
    expect(isUnreserved(scalar('cpus', 1, { role: 'eng' }))).toBe(false);
    const rs = p('cpus:1;cpus(eng):2;mem(eng):3');
    expect(filterByRole(rs, 'eng')).toEqual(p('cpus(eng):2;mem(eng):3'));
    expect(filterByRole(rs, '*')).toEqual(p('cpus:1'));
  });

  it('validates role names', () => {
    for (const ok of ['*', 'eng', 'eng/frontend', 'a.b', 'a-b', 'x/y/z']) expect(isValidRole(ok)).toBe(true);
    for (const bad of [
      '',
      '/eng',
      'eng/',
      'eng//x',
      '-eng',
      'eng/-x',
      'a b',
      'a\tb',
      'a\bb',
      '.',
      '..',
      'a/..',
      'a/*',
    ]) {
      expect(isValidRole(bad)).toBe(false);
    }
  });
});

describe('unique resources', () => {
  it('combines persistent volumes and shared resources only when identical', () => {
    const vol = scalar('disk', 100, {
      role: 'eng',
      disk: { persistence: { id: 'v1' }, volume: { container_path: 'd', mode: 'RW' } },
    });
    const vol2 = scalar('disk', 100, {
      role: 'eng',
      disk: { persistence: { id: 'v2' }, volume: { container_path: 'd', mode: 'RW' } },
    });
    expect(addResources([vol], [vol2])).toHaveLength(2);
    expect(addResources([vol], [vol])).toHaveLength(2);
    expect(subtractResources([vol, vol2], [vol])).toEqual([vol2]);
    expect(codeOf(() => subtractResources([vol], [{ ...vol, scalar: { value: 50 } }]))).toBe(
      'RESOURCE_INSUFFICIENT',
    );
    const shared = scalar('disk', 10, { shared: {} });
    expect(containsResources([shared, shared], [shared, shared])).toBe(true);
    expect(containsResources([shared], [shared, shared])).toBe(false);
    const path = (v: number) =>
      scalar('disk', v, { disk: { source: { type: 'PATH', path: { root: '/a' } } } });
    expect(addResources([path(1)], [path(2)])).toEqual([path(3)]);
  });
});

describe('pickPorts', () => {
  it('takes the lowest free ports', () => {
    const pool = p('cpus:1;ports:[31005-31006,31000-31001,32000-32010]');
    const { picked, remaining } = pickPorts(pool, 3);
    expect(fmt(picked)).toBe('ports:[31000-31001,31005-31005]');
    expect(fmt(remaining)).toBe('cpus:1;ports:[31006-31006,32000-32010]');
    expect(fmt(addResources(remaining, picked))).toBe(fmt(pool));
  });

  it('takes from several buckets, honours name and filter', () => {
    const pool = p('ports(eng):[1-2];ports:[3-10];p2:[100-200]');
    expect(fmt(pickPorts(pool, 3).picked)).toBe('ports(eng):[1-2];ports:[3-3]');
    expect(fmt(pickPorts(pool, 3, { filter: isUnreserved }).picked)).toBe('ports:[3-5]');
    expect(fmt(pickPorts(pool, 2, { name: 'p2' }).picked)).toBe('p2:[100-101]');
    expect(pickPorts(pool, 0).picked).toEqual([]);
  });

  it('fails when too few ports are free', () => {
    const err = errorOf(() => pickPorts(p('ports:[1-3]'), 4));
    expect(err.code).toBe('RESOURCE_INSUFFICIENT');
    expect(err.message).toContain('only 3 free');
    expect(codeOf(() => pickPorts(p('cpus:1'), 1))).toBe('RESOURCE_INSUFFICIENT');
    expect(() => pickPorts([], -1)).toThrow(InvalidOptionsError);
    expect(() => pickPorts([], 1.5)).toThrow(InvalidOptionsError);
  });
});

describe('resourcesFromSpec', () => {
  it('builds scalar resources', () => {
    expect(resourcesFromSpec({ cpus: 0.1 + 0.2, memMb: 128, diskMb: 0, gpus: 1 })).toEqual([
      scalar('cpus', 0.3),
      scalar('mem', 128),
      scalar('gpus', 1),
    ]);
    expect(resourcesFromSpec({ cpus: 1 }, { role: 'eng' })).toEqual([scalar('cpus', 1, { role: 'eng' })]);
    expect(resourcesFromSpec({ cpus: 1 }, { role: '*' })).toEqual([scalar('cpus', 1)]);
    expect(resourcesFromSpec({})).toEqual([]);
  });

  it('rejects bad values naming the field', () => {
    expect(() => resourcesFromSpec({ memMb: -1 })).toThrow(/memMb/);
    expect(() => resourcesFromSpec({ gpus: 0.5 })).toThrow(/gpus/);
    expect(() => resourcesFromSpec({ cpus: Number.NaN })).toThrow(InvalidOptionsError);
    expect(() => resourcesFromSpec({ cpus: 1 }, { role: '..' })).toThrow(InvalidOptionsError);
  });
});

describe('properties', () => {
  const roleArb = fc.constantFrom(undefined, 'eng', 'eng/fe');
  const withRole = (role: string | undefined): Partial<Resource> => (role ? { role } : {});
  const scalarArb = fc
    .record({
      name: fc.constantFrom('cpus', 'mem'),
      milli: fc.integer({ min: 0, max: 10_000_000 }),
      role: roleArb,
    })
    .map(({ name, milli, role }) => scalar(name, milli / 1000, withRole(role)));
  const spanArb = fc
    .array(fc.tuple(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 0, max: 20 })), { maxLength: 6 })
    .map((list) => list.map(([b, len]): [number, number] => [b, b + len]));
  // Ranges may overlap across resources (add unions them) but not within one resource.
  const rangesArb = fc
    .record({ name: fc.constantFrom('ports', 'p2'), spans: spanArb, role: roleArb })
    .map(({ name, spans, role }) => {
      const list = rangesOf([ranges(name, [])].concat(spans.map((s) => ranges(name, [s]))), name);
      return ranges(
        name,
        list.map((x) => [x.begin, x.end]),
        withRole(role),
      );
    });
  const itemArb = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f');
  const setArb = fc
    .record({ items: fc.uniqueArray(itemArb), role: roleArb })
    .map(({ items, role }) => set('s', items, withRole(role)));
  const resourcesArb = fc.array(fc.oneof(scalarArb, rangesArb, setArb), { maxLength: 8 });
  const normal = (rs: readonly Resource[]) => addResources(rs, []);

  /**
   * Two lists whose ranges and set items are disjoint (so `a + b - b` must give `a` back):
   * every port block and set item is dealt to one side only.
   */
  const disjointPair = fc
    .record({
      scalarsA: fc.array(scalarArb, { maxLength: 4 }),
      scalarsB: fc.array(scalarArb, { maxLength: 4 }),
      blocks: fc.uniqueArray(
        fc.record({
          at: fc.integer({ min: 0, max: 500 }),
          len: fc.integer({ min: 0, max: 9 }),
          toA: fc.boolean(),
          role: roleArb,
        }),
        { selector: (x) => x.at, maxLength: 20 },
      ),
      items: fc.uniqueArray(fc.record({ item: itemArb, toA: fc.boolean(), role: roleArb }), {
        selector: (x) => x.item,
      }),
    })
    .map(({ scalarsA, scalarsB, blocks, items }) => {
      const a: Resource[] = [...scalarsA];
      const b: Resource[] = [...scalarsB];
      for (const { at, len, toA, role } of blocks) {
        (toA ? a : b).push(ranges('ports', [[at * 10, at * 10 + len]], withRole(role)));
      }
      for (const { item, toA, role } of items) (toA ? a : b).push(set('s', [item], withRole(role)));
      return [a, b] as const;
    });

  it('subtract(add(a, b), b) == a for scalars, disjoint ranges and sets', () => {
    fc.assert(
      fc.property(disjointPair, ([a, b]) => {
        expect(subtractResources(addResources(a, b), b)).toEqual(normal(a));
      }),
    );
  });

  it('contains(add(a, b), b) and contains(add(a, b), a)', () => {
    fc.assert(
      fc.property(resourcesArb, resourcesArb, (a, b) => {
        const sum = addResources(a, b);
        expect(containsResources(sum, b)).toBe(true);
        expect(containsResources(sum, a)).toBe(true);
      }),
    );
  });

  it('add is commutative up to order, and parse(format(x)) == x', () => {
    fc.assert(
      fc.property(resourcesArb, resourcesArb, (a, b) => {
        const ab = addResources(a, b);
        const ba = addResources(b, a);
        expect(containsResources(ab, ba) && containsResources(ba, ab)).toBe(true);
        expect(parseResources(fmt(ab))).toEqual(ab);
      }),
    );
  });

  it('subtract(pool, b) + b covers exactly the pool', () => {
    fc.assert(
      fc.property(resourcesArb, resourcesArb, (a, b) => {
        const pool = addResources(a, b);
        const back = addResources(subtractResources(pool, b), b);
        expect(containsResources(back, pool) && containsResources(pool, back)).toBe(true);
      }),
    );
  });

  it('contains(pool, request) iff subtract(pool, request) does not throw', () => {
    fc.assert(
      fc.property(resourcesArb, resourcesArb, (pool, request) => {
        const fits = containsResources(pool, request);
        expect(codeOf(() => subtractResources(pool, request))).toBe(
          fits ? undefined : 'RESOURCE_INSUFFICIENT',
        );
      }),
    );
  });

  it('matches a milli-unit model for scalar sums', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1_000_000 }), { maxLength: 20 }), (millis) => {
        const rs = millis.map((m) => scalar('cpus', m / 1000));
        const total = millis.reduce((x, y) => x + y, 0);
        expect(scalarOf(rs, 'cpus')).toBe(total / 1000);
        expect(fmt(addResources(rs, []))).toBe(total === 0 ? '' : `cpus:${total / 1000}`);
      }),
    );
  });
});

describe('bucket keys of plain and qualified resources', () => {
  const cpus = (extra: Partial<Resource>): Resource => ({
    name: 'cpus',
    type: 'SCALAR',
    scalar: { value: 1 },
    ...extra,
  });

  it('every spelling of "unreserved" combines, whichever comes first', () => {
    const forms = [
      cpus({}),
      cpus({ role: '*' }),
      cpus({ reservations: [] }),
      cpus({ role: '*', reservations: [] }),
    ];
    for (const a of forms) {
      for (const b of forms) {
        expect(addResources([a], [b])).toHaveLength(1);
        expect(containsResources([a], [b])).toBe(true);
      }
    }
  });

  it('allocation roles, reservations and revocable keep resources apart', () => {
    const distinct = [
      cpus({}),
      cpus({ allocation_info: { role: 'a' } }),
      cpus({ allocation_info: { role: 'b' } }),
      cpus({ reservations: [{ type: 'STATIC', role: 'a' }] }),
      cpus({ revocable: {} }),
    ];
    for (const [i, a] of distinct.entries()) {
      for (const [j, b] of distinct.entries()) {
        expect(addResources([a], [b])).toHaveLength(i === j ? 1 : 2);
      }
    }
    // The old-format static reservation is the same as the refined one.
    expect(addResources([cpus({ role: 'a' })], [distinct[3]!])).toHaveLength(1);
  });
});
