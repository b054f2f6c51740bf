import { describe, expect, expectTypeOf, it } from 'vitest';
import { InvalidOptionsError } from './errors.js';
import {
  DEFAULT_TASK_RESOURCES,
  DEFAULT_TASK_VERSION,
  defineTask,
  MAX_TASK_NAME_LENGTH,
  type TaskDefinition,
  type TaskInput,
  type TaskOutput,
} from './task.js';

function invalid(fn: () => unknown): InvalidOptionsError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidOptionsError);
    expect((err as InvalidOptionsError).code).toBe('INVALID_OPTIONS');
    return err as InvalidOptionsError;
  }
  throw new Error('expected an InvalidOptionsError');
}

describe('defineTask', () => {
  it('applies the default version and resources', () => {
    const task = defineTask<{ url: string }, { followers: number }>('pinspider.profile');
    expect(task).toEqual({ name: 'pinspider.profile', version: 1, resources: { cpus: 0.1, memMb: 32 } });
    expect(DEFAULT_TASK_VERSION).toBe(1);
    expect(DEFAULT_TASK_RESOURCES).toEqual({ cpus: 0.1, memMb: 32 });
  });

  it('merges partial resources with the defaults and keeps optional ones only when given', () => {
    expect(defineTask('a', { resources: { memMb: 64 } }).resources).toEqual({ cpus: 0.1, memMb: 64 });
    expect(defineTask('a', { resources: { cpus: 2 } }).resources).toEqual({ cpus: 2, memMb: 32 });
    const full = defineTask('thumbs.resize', {
      version: 3,
      resources: { cpus: 0.5, memMb: 256, diskMb: 0, gpus: 2 },
    });
    expect(full).toEqual({
      name: 'thumbs.resize',
      version: 3,
      resources: { cpus: 0.5, memMb: 256, diskMb: 0, gpus: 2 },
    });
    expect(Object.keys(defineTask('a').resources)).toEqual(['cpus', 'memMb']);
  });

  it('returns a frozen plain object with no run-time brand', () => {
    const task = defineTask('a.b', { resources: { diskMb: 10 } });
    expect(Object.isFrozen(task)).toBe(true);
    expect(Object.isFrozen(task.resources)).toBe(true);
    expect(Object.isFrozen(DEFAULT_TASK_RESOURCES)).toBe(true);
    expect(Object.getPrototypeOf(task)).toBe(Object.prototype);
    expect(Reflect.ownKeys(task)).toEqual(['name', 'version', 'resources']);
    expect(() => {
      (task as { version: number }).version = 2;
    }).toThrow(TypeError);
    expect(JSON.parse(JSON.stringify(task))).toEqual(task);
  });

  it('does not share or change the default resources', () => {
    const a = defineTask('a', { resources: { cpus: 4 } });
    expect(a.resources).not.toBe(DEFAULT_TASK_RESOURCES);
    expect(DEFAULT_TASK_RESOURCES.cpus).toBe(0.1);
  });

  it.each([
    'a',
    'A',
    'pinspider.profile',
    'thumbs.resize-v2',
    'a_b.c-d.1.x_',
    'x'.repeat(MAX_TASK_NAME_LENGTH),
  ])('accepts the name %j', (name) => {
    expect(defineTask(name).name).toBe(name);
  });

  it.each([
    '',
    '1abc',
    '_a',
    '-a',
    'a..b',
    'a.',
    '.a',
    'a b',
    'a/b',
    'é.a',
    'a.b\n',
    'x'.repeat(MAX_TASK_NAME_LENGTH + 1),
  ])('rejects the name %j', (name) => {
    expect(invalid(() => defineTask(name)).message).toMatch(/name/);
  });

  it('rejects a name that is not a string', () => {
    expect(invalid(() => defineTask(42 as unknown as string)).message).toMatch(/name 42/);
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '2' as unknown as number])(
    'rejects the version %j',
    (version) => {
      expect(invalid(() => defineTask('a', { version })).message).toMatch(/defineTask\(a\): version/);
    },
  );

  it.each([0, -0.1, Number.NaN, Number.POSITIVE_INFINITY, '1' as unknown as number])(
    'rejects cpus %j',
    (cpus) => {
      expect(invalid(() => defineTask('a', { resources: { cpus } })).message).toMatch(/resources\.cpus/);
    },
  );

  it.each([0, -1, Number.NaN, Number.POSITIVE_INFINITY])('rejects memMb %j', (memMb) => {
    expect(invalid(() => defineTask('a', { resources: { memMb } })).message).toMatch(/resources\.memMb/);
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY])('rejects diskMb %j', (diskMb) => {
    expect(invalid(() => defineTask('a', { resources: { diskMb } })).message).toMatch(/resources\.diskMb/);
  });

  it.each([-1, 0.5, Number.NaN, Number.POSITIVE_INFINITY])('rejects gpus %j', (gpus) => {
    expect(invalid(() => defineTask('a', { resources: { gpus } })).message).toMatch(/resources\.gpus/);
  });
});

describe('TaskDefinition types', () => {
  const crawl = defineTask<{ url: string }, { followers: number }>('pinspider.profile');

  it('infers the input and output types', () => {
    expectTypeOf<TaskInput<typeof crawl>>().toEqualTypeOf<{ url: string }>();
    expectTypeOf<TaskOutput<typeof crawl>>().toEqualTypeOf<{ followers: number }>();
    expectTypeOf(crawl).toMatchTypeOf<TaskDefinition<{ url: string }, { followers: number }>>();
    expectTypeOf(crawl.resources.cpus).toEqualTypeOf<number>();
  });

  it('keeps a literal name when the types are inferred', () => {
    const named = defineTask('a.b');
    expectTypeOf(named.name).toEqualTypeOf<'a.b'>();
    expectTypeOf(defineTask<void, string, 'x.y'>('x.y').name).toEqualTypeOf<'x.y'>();
    expectTypeOf(crawl.name).toEqualTypeOf<string>();
  });

  it('keeps different definitions apart', () => {
    const other = defineTask<{ id: number }, string>('other');
    expectTypeOf<TaskInput<typeof other>>().not.toEqualTypeOf<TaskInput<typeof crawl>>();
    expectTypeOf<TaskOutput<typeof other>>().toEqualTypeOf<string>();
    expectTypeOf<TaskInput<{ name: string }>>().toEqualTypeOf<never>();
  });
});
