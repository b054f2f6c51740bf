/**
 * The runtime model of the Mesos v1 messages: protobufjs parses nothing at run time, it only
 * rebuilds its reflection tree from the generated descriptor, and this module flattens each
 * message type into the facts the codecs need (fields in declaration and in number order,
 * enum name/number tables, defaults Mesos prints in JSON).
 */
import protobuf from 'protobufjs';
import { InvalidOptionsError } from '../errors.js';
import { MESOS_SCHEMA } from './schema.generated.js';

export type ScalarKind =
  | 'double'
  | 'float'
  | 'int32'
  | 'uint32'
  | 'sint32'
  | 'fixed32'
  | 'sfixed32'
  | 'int64'
  | 'uint64'
  | 'sint64'
  | 'fixed64'
  | 'sfixed64'
  | 'bool'
  | 'string'
  | 'bytes';

export interface EnumModel {
  readonly fullName: string;
  /** Value name → number. */
  readonly byName: ReadonlyMap<string, number>;
  /** Number → value name (the first declared name for aliases). */
  readonly byNumber: ReadonlyMap<number, string>;
}

interface FieldBase {
  readonly name: string;
  readonly id: number;
  readonly rule: 'required' | 'optional' | 'repeated' | 'map';
  /** Explicit proto2 `[default = …]`, converted to our in-memory shape (enum name, number, …). */
  readonly defaultValue: unknown;
  readonly deprecated: boolean;
}

/** A field's value type: a scalar, an enum or a message. */
export type ValueType =
  | { readonly kind: 'scalar'; readonly scalar: ScalarKind }
  | { readonly kind: 'enum'; readonly enum: EnumModel }
  | { readonly kind: 'message'; readonly message: MessageModel };

export interface FieldModel extends FieldBase {
  readonly value: ValueType;
  /** For map fields: the key's scalar kind. */
  readonly keyType: ScalarKind | undefined;
}

export interface MessageModel {
  /** Full name without the leading dot, e.g. `mesos.v1.TaskStatus`. */
  readonly fullName: string;
  /** Fields in `.proto` declaration order (the order of keys in Mesos' JSON). */
  readonly fields: readonly FieldModel[];
  /** Fields in field-number order (the order Mesos writes protobuf). */
  readonly fieldsByNumber: readonly FieldModel[];
  readonly requiredFields: readonly FieldModel[];
}

let root: protobuf.Root | undefined;
const messages = new Map<string, MessageModel>();
const enums = new Map<string, EnumModel>();

function getRoot(): protobuf.Root {
  if (!root) {
    root = protobuf.Root.fromJSON(MESOS_SCHEMA);
    root.resolveAll();
  }
  return root;
}

function enumModel(e: protobuf.Enum): EnumModel {
  const fullName = e.fullName.slice(1);
  let model = enums.get(fullName);
  if (!model) {
    const byName = new Map<string, number>();
    const byNumber = new Map<number, string>();
    for (const [name, num] of Object.entries(e.values)) {
      byName.set(name, num);
      if (!byNumber.has(num)) byNumber.set(num, name);
    }
    model = { fullName, byName, byNumber };
    enums.set(fullName, model);
  }
  return model;
}

function defaultOf(f: protobuf.Field): unknown {
  const d: unknown = f.options?.default;
  if (d === undefined) return undefined;
  if (f.resolvedType instanceof protobuf.Enum)
    return typeof d === 'number' ? enumModel(f.resolvedType).byNumber.get(d) : d;
  return d;
}

/**
 * The model of a protobufjs message type, built once per `cache` (the Mesos schema uses the
 * module's own; tests pass their own for test-only protos).
 */
export function modelOfType(t: protobuf.Type, cache: Map<string, MessageModel>): MessageModel {
  const fullName = t.fullName.slice(1);
  const existing = cache.get(fullName);
  if (existing) return existing;
  const fields: FieldModel[] = [];
  // Register before resolving fields so recursive types (ContainerID.parent) terminate.
  const model: MessageModel = { fullName, fields, fieldsByNumber: [], requiredFields: [] };
  cache.set(fullName, model);
  for (const f of t.fieldsArray) {
    const rt = f.resolvedType;
    const value: ValueType =
      rt instanceof protobuf.Type
        ? { kind: 'message', message: modelOfType(rt, cache) }
        : rt instanceof protobuf.Enum
          ? { kind: 'enum', enum: enumModel(rt) }
          : { kind: 'scalar', scalar: f.type as ScalarKind };
    const isMap = f instanceof protobuf.MapField;
    fields.push({
      name: f.name,
      id: f.id,
      rule: isMap ? 'map' : f.repeated ? 'repeated' : f.required ? 'required' : 'optional',
      defaultValue: defaultOf(f),
      deprecated: f.options?.deprecated === true,
      value,
      keyType: isMap ? (f.keyType as ScalarKind) : undefined,
    });
  }
  Object.assign(model, {
    fieldsByNumber: [...fields].sort((a, b) => a.id - b.id),
    requiredFields: fields.filter((f) => f.rule === 'required'),
  });
  return model;
}

/** The model of a message type by full name, e.g. `mesos.v1.scheduler.Call`. */
export function messageModel(fullName: string): MessageModel {
  const cached = messages.get(fullName);
  if (cached) return cached;
  let t: protobuf.Type;
  try {
    t = getRoot().lookupType(fullName);
  } catch (cause) {
    throw new InvalidOptionsError(`unknown Mesos message type '${fullName}'`, { cause });
  }
  return modelOfType(t, messages);
}

/** The full names of every message type in the schema (for tests and tooling). */
export function allMessageTypeNames(): string[] {
  const names: string[] = [];
  const walk = (ns: protobuf.NamespaceBase): void => {
    for (const item of ns.nestedArray) {
      if (item instanceof protobuf.Type) names.push(item.fullName.slice(1));
      if (item instanceof protobuf.Namespace || item instanceof protobuf.Type) walk(item);
    }
  };
  walk(getRoot());
  return names;
}
