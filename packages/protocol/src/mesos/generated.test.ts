/**
 * The generated files are in sync with `proto/`, and the generated types agree with the
 * runtime schema model the codecs use.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { type MessageCodec, schedulerCall, schedulerEvent } from './codec.js';
import { allMessageTypeNames, type FieldModel, messageModel } from './schema.js';
import type { Int64, mesos } from './types.generated.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const PACKAGE = join(HERE, '..', '..');
const REGENERATE = 'run `pnpm --filter @mesoskit/protocol generate` and commit the result';

interface Generated {
  schemaTs: string;
  typesTs: string;
}

async function regenerate(): Promise<Generated> {
  // A computed specifier: the script is plain JavaScript without type declarations.
  const script = pathToFileURL(join(PACKAGE, 'scripts', 'generate.mjs')).href;
  const mod = (await import(script)) as { generate: () => Generated };
  return mod.generate();
}

const committed = (name: string): string => readFileSync(join(HERE, name), 'utf8');

describe('generated files', () => {
  it('are exactly what scripts/generate.mjs makes from proto/', async () => {
    const { schemaTs, typesTs } = await regenerate();
    expect(schemaTs === committed('schema.generated.ts'), `schema.generated.ts is stale: ${REGENERATE}`).toBe(
      true,
    );
    expect(typesTs === committed('types.generated.ts'), `types.generated.ts is stale: ${REGENERATE}`).toBe(
      true,
    );
  });
});

// ---------------------------------------------------------------------------------------------
// types.generated.ts, parsed back

interface ParsedField {
  optional: boolean;
  type: string;
}

/**
 * The interfaces (full name → fields) and enum aliases (full name → names) of
 * types.generated.ts, read from its nesting of `namespace` / `interface` blocks.
 */
function parseGeneratedTypes(text: string): {
  interfaces: Map<string, Map<string, ParsedField>>;
  enums: Map<string, string[]>;
} {
  const interfaces = new Map<string, Map<string, ParsedField>>();
  const enums = new Map<string, string[]>();
  const stack: { name: string; fields?: Map<string, ParsedField> }[] = [];
  const full = (name: string): string => [...stack.map((s) => s.name), name].join('.');
  for (const line of text.split('\n')) {
    const ns = line.match(/^\s*(?:export declare )?namespace (\w+) \{$/);
    const iface = line.match(/^\s*interface (\w+) \{$/);
    const alias = line.match(/^\s*type (\w+) = ((?:'[^']*'(?: \| )?)+);$/);
    const field = line.match(/^\s*(\w+)(\??): (.+);$/);
    if (ns) {
      stack.push({ name: ns[1]! });
    } else if (iface) {
      const fields = new Map<string, ParsedField>();
      interfaces.set(full(iface[1]!), fields);
      stack.push({ name: iface[1]!, fields });
    } else if (alias) {
      enums.set(
        full(alias[1]!),
        [...alias[2]!.matchAll(/'([^']*)'/g)].map((x) => x[1]!),
      );
    } else if (/^\s*\}$/.test(line)) {
      stack.pop();
    } else if (field) {
      const top = stack.at(-1);
      if (!top?.fields) throw new Error(`field outside an interface: ${line}`);
      top.fields.set(field[1]!, { optional: field[2] === '?', type: field[3]! });
    }
  }
  return { interfaces, enums };
}

const TS_SCALAR: Record<string, string> = {
  double: 'number',
  float: 'number',
  int32: 'number',
  uint32: 'number',
  sint32: 'number',
  fixed32: 'number',
  sfixed32: 'number',
  int64: 'Int64',
  uint64: 'Int64',
  sint64: 'Int64',
  fixed64: 'Int64',
  sfixed64: 'Int64',
  bool: 'boolean',
  string: 'string',
  bytes: 'Uint8Array',
};

/** The TypeScript type the generator must print for a field of the model. */
function expectedTsType(f: FieldModel): string {
  const v = f.value;
  const t =
    v.kind === 'scalar' ? TS_SCALAR[v.scalar]! : v.kind === 'enum' ? v.enum.fullName : v.message.fullName;
  if (f.rule === 'map') return `Record<string, ${t}>`;
  return f.rule === 'repeated' ? `${t}[]` : t;
}

describe('types.generated.ts agrees with the schema model', () => {
  const { interfaces, enums } = parseGeneratedTypes(committed('types.generated.ts'));
  const names = allMessageTypeNames();

  it('has one interface per message type, and no other', () => {
    expect([...interfaces.keys()].sort()).toEqual([...names].sort());
  });

  it('makes exactly the required fields non-optional, with matching types', () => {
    const problems: string[] = [];
    for (const name of names) {
      const model = messageModel(name);
      const fields = interfaces.get(name);
      if (!fields) {
        problems.push(`${name}: no interface`);
        continue;
      }
      expect([...fields.keys()], name).toEqual(model.fields.map((f) => f.name));
      for (const f of model.fields) {
        const parsed = fields.get(f.name)!;
        if (parsed.optional === (f.rule === 'required'))
          problems.push(`${name}.${f.name}: ${f.rule} but ${parsed.optional ? 'optional' : 'non-optional'}`);
        if (parsed.type !== expectedTsType(f))
          problems.push(`${name}.${f.name}: type ${parsed.type}, expected ${expectedTsType(f)}`);
      }
    }
    expect(problems).toEqual([]);
    // Sanity: the parse did see required fields.
    const required = names.flatMap((n) => messageModel(n).requiredFields.map((f) => `${n}.${f.name}`));
    expect(required).toContain('mesos.v1.FrameworkInfo.user');
    expect(required.length).toBeGreaterThan(50);
  });

  it('lists every enum value name', () => {
    let checked = 0;
    for (const name of names) {
      for (const f of messageModel(name).fields) {
        if (f.value.kind !== 'enum') continue;
        expect(enums.get(f.value.enum.fullName), f.value.enum.fullName).toEqual([
          ...f.value.enum.byName.keys(),
        ]);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(10);
  });
});

// ---------------------------------------------------------------------------------------------
// Type-level checks (checked by `tsc`; trivially true at run time)

describe('generated types accept and reject the right shapes', () => {
  it('ID messages', () => {
    expectTypeOf<{ value: string }>().toExtend<mesos.v1.TaskID>();
    expectTypeOf<{}>().not.toExtend<mesos.v1.TaskID>();
    expectTypeOf<{ value: number }>().not.toExtend<mesos.v1.TaskID>();
    expectTypeOf<string>().not.toExtend<mesos.v1.FrameworkID>();
  });

  it('required and optional fields, enums by name', () => {
    expectTypeOf<{ user: string; name: string }>().toExtend<mesos.v1.FrameworkInfo>();
    expectTypeOf<{ name: string }>().not.toExtend<mesos.v1.FrameworkInfo>();
    expectTypeOf<{
      type: 'SUBSCRIBE';
      subscribe: { framework_info: { user: string; name: string; roles: string[] } };
    }>().toExtend<mesos.v1.scheduler.Call>();
    expectTypeOf<{ type: 'NOT_A_TYPE' }>().not.toExtend<mesos.v1.scheduler.Call>();
    expectTypeOf<{ type: 1 }>().not.toExtend<mesos.v1.scheduler.Call>();
    expectTypeOf<{ type: 'SUBSCRIBE'; subscribe: {} }>().not.toExtend<mesos.v1.scheduler.Call>();
    expectTypeOf<mesos.v1.scheduler.Call['type']>().toEqualTypeOf<mesos.v1.scheduler.Call.Type | undefined>();
    expectTypeOf<'TASK_RUNNING'>().toExtend<mesos.v1.TaskState>();
  });

  it('64-bit integers, bytes, repeated and map fields', () => {
    expectTypeOf<mesos.v1.TimeInfo['nanoseconds']>().toEqualTypeOf<Int64>();
    expectTypeOf<Int64>().toEqualTypeOf<number | bigint>();
    expectTypeOf<{ nanoseconds: 1n }>().toExtend<mesos.v1.TimeInfo>();
    expectTypeOf<{ nanoseconds: '1' }>().not.toExtend<mesos.v1.TimeInfo>();
    expectTypeOf<mesos.v1.scheduler.Call.Acknowledge['uuid']>().toEqualTypeOf<Uint8Array>();
    expectTypeOf<{
      agent_id: { value: 'a' };
      task_id: { value: 't' };
      uuid: string;
    }>().not.toExtend<mesos.v1.scheduler.Call.Acknowledge>();
    expectTypeOf<mesos.v1.TaskInfo['limits']>().toEqualTypeOf<
      Record<string, mesos.v1.Value.Scalar> | undefined
    >();
    expectTypeOf<mesos.v1.FrameworkInfo['roles']>().toEqualTypeOf<string[] | undefined>();
    expectTypeOf<{ user: 'u'; name: 'n'; roles: 'web' }>().not.toExtend<mesos.v1.FrameworkInfo>();
  });

  it('the named codecs are typed with them', () => {
    expectTypeOf(schedulerCall).toEqualTypeOf<MessageCodec<mesos.v1.scheduler.Call>>();
    expectTypeOf(schedulerCall.encode).parameter(0).toEqualTypeOf<mesos.v1.scheduler.Call>();
    expectTypeOf(schedulerEvent.fromJSON).returns.toEqualTypeOf<mesos.v1.scheduler.Event>();
  });
});
