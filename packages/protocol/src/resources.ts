/**
 * Resource arithmetic for lists of Mesos `Resource`s: Mesos' text form
 * (`cpus:2;mem:1024;ports:[31000-32000]`), sums, differences and containment under Mesos'
 * combining rules, role helpers and port picking.
 *
 * A list of resources is treated as a multiset of "buckets": two resources combine only when
 * they agree on everything except the quantity (name, type, reservation, allocation role, disk,
 * revocable, shared, provider). Scalars are fixed point with 3 decimals, like in Mesos. Every
 * function leaves its inputs untouched and returns fresh objects.
 *
 * @example
 * ```ts
 * const offer = parseResources('cpus:4;mem:4096;ports:[31000-32000]');
 * const task = parseResources('cpus:0.5;mem:128;ports:[31005-31005]');
 * if (containsResources(offer, task)) {
 *   const rest = subtractResources(offer, task);
 *   formatResources(rest); // 'cpus:3.5;mem:3968;ports:[31000-31004,31006-32000]'
 * }
 * ```
 *
 * @module
 */

import { InvalidOptionsError, ResourceError } from './errors.js';
import type { mesos } from './mesos/types.generated.js';

/** A Mesos `Resource` (`mesos.v1.Resource`), the shape every function here takes and returns. */
export type Resource = mesos.v1.Resource;
type Range = mesos.v1.Value.Range;

/** A predicate selecting resources, e.g. `(r) => r.allocation_info?.role === 'eng'`. */
export type ResourceFilter = (resource: Resource) => boolean;

/** Options of {@link parseResources}. */
export interface ParseResourcesOptions {
  /** Role given to resources written without `(role)` (and to JSON resources without a reservation). Default `*`. */
  defaultRole?: string;
}

/** Options of {@link pickPorts}. */
export interface PickPortsOptions {
  /** The RANGES resource to pick from. Default `ports`. */
  name?: string;
  /** Only pick from resources this predicate accepts (e.g. those allocated to one role). */
  filter?: ResourceFilter;
}

/** The result of {@link pickPorts}. */
export interface PickedPorts {
  /** The picked ports, one RANGES resource per bucket they came from. */
  picked: Resource[];
  /** The pool minus the picked ports. */
  remaining: Resource[];
}

/**
 * The scalar part of a task definition, for {@link resourcesFromSpec}. Ports are not a quantity
 * here: pick concrete ports from the offer with {@link pickPorts}.
 */
export interface ResourceSpec {
  /** CPU shares (fractional cores), rounded to 0.001. */
  cpus?: number;
  /** Memory in MB. */
  memMb?: number;
  /** Disk in MB. */
  diskMb?: number;
  /** GPUs; must be a whole number. */
  gpus?: number;
}

/** Options of {@link resourcesFromSpec}. */
export interface ResourceSpecOptions {
  /** Reserve the resources to this role (pre-refinement `role` field). Default `*` (unreserved). */
  role?: string;
}

// ---------------------------------------------------------------------------------------------
// Internal model
// ---------------------------------------------------------------------------------------------

type Kind = 'SCALAR' | 'RANGES' | 'SET';
/** An inclusive `[begin, end]` range of safe integers. */
type Span = [number, number];

/** A validated resource: its bucket key and its quantity in exact form. */
interface Decoded {
  key: string;
  kind: Kind;
  /** Persistent volumes, shared resources, MOUNT/BLOCK/identified RAW disks: combine only when identical. */
  unique: boolean;
  /** SCALAR: value in thousandths. */
  milli: number;
  /** RANGES: sorted, coalesced. */
  spans: Span[];
  /** SET: items (no duplicates). */
  items: string[];
}

interface Bucket {
  rep: Resource;
  kind: Kind;
  unique: boolean;
  milli: number;
  spans: Span[];
  items: Set<string>;
  /** Unique buckets: how many identical copies. */
  count: number;
  /** RANGES spans were appended and need sorting/coalescing. */
  dirty: boolean;
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
/** The spans of what is not RANGES and the items of what is not a SET: shared, never changed. */
const NO_SPANS: Span[] = Object.freeze([]) as unknown as Span[];
const NO_ITEMS: string[] = Object.freeze([]) as unknown as string[];
const NO_ITEM_SET: Set<string> = new Set();

function describe(r: unknown, index: number): string {
  const name = r !== null && typeof r === 'object' ? (r as { name?: unknown }).name : undefined;
  return typeof name === 'string' && name !== ''
    ? `resource #${index} (${JSON.stringify(name)})`
    : `resource #${index}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Rounds a scalar to thousandths, returning a problem description when it is not a valid quantity. */
function toMilli(value: unknown, name: string): number | string {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    return `scalar value ${String(value)} is not a finite number`;
  }
  if (value < 0) return `scalar value ${value} is negative`;
  const milli = Math.round(value * 1000);
  if (milli === 0 && value !== 0) return `scalar value ${value} rounds to 0 at 3 decimals`;
  if (milli > MAX_SAFE) return `scalar value ${value} is too large`;
  if (name === 'gpus' && !Number.isInteger(value)) return `'gpus' must be a whole number, got ${value}`;
  return milli;
}

/** Converts a uint64 range bound to a safe number, or returns undefined. */
function toBound(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
  if (typeof v === 'bigint') return v >= 0n && v <= BigInt(MAX_SAFE) ? Number(v) : undefined;
  return undefined;
}

function showBound(v: unknown): string {
  return typeof v === 'bigint' || typeof v === 'number' ? String(v) : (JSON.stringify(v) ?? String(v));
}

/** Sorts and merges overlapping and adjacent spans (in place on a fresh array). */
function coalesce(spans: Span[]): Span[] {
  if (spans.length < 2) return spans;
  spans.sort((x, y) => x[0] - y[0]);
  const out: Span[] = [];
  let cur: Span = [spans[0]![0], spans[0]![1]];
  for (let i = 1; i < spans.length; i++) {
    const s = spans[i]!;
    if (s[0] <= cur[1] + 1) {
      if (s[1] > cur[1]) cur[1] = s[1];
    } else {
      out.push(cur);
      cur = [s[0], s[1]];
    }
  }
  out.push(cur);
  return out;
}

/** `a \ b` for sorted, coalesced span lists; linear. */
function spansMinus(a: readonly Span[], b: readonly Span[]): Span[] {
  const out: Span[] = [];
  let j = 0;
  for (const [begin, end] of a) {
    let cur = begin;
    while (j < b.length && b[j]![1] < cur) j++;
    let k = j;
    while (k < b.length && b[k]![0] <= end) {
      const [bb, be] = b[k]!;
      if (bb > cur) out.push([cur, bb - 1]);
      if (be + 1 > cur) cur = be + 1;
      if (be > end) break;
      k++;
    }
    if (cur <= end) out.push([cur, end]);
    j = k;
  }
  return out;
}

function countPorts(spans: readonly Span[]): number {
  let n = 0;
  for (const [b, e] of spans) n += e - b + 1;
  return n;
}

/** Canonical, key-order-independent form of an arbitrary value (for bucket keys). */
function canonical(v: unknown): unknown {
  if (typeof v === 'bigint') return v <= BigInt(MAX_SAFE) && v >= -BigInt(MAX_SAFE) ? Number(v) : String(v);
  if (Array.isArray(v)) return v.map(canonical);
  if (isObject(v)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      if (v[k] !== undefined) out[k] = canonical(v[k]);
    }
    return out;
  }
  return v;
}

function labelsKey(labels: { labels?: { key: string; value?: string }[] } | undefined): unknown {
  const list = labels?.labels;
  if (!list || list.length === 0) return null;
  return list
    .map((l) => [l.key, l.value ?? null] as const)
    .sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : String(x[1]) < String(y[1]) ? -1 : 1));
}

/**
 * The reservation stack in the refinement format, whatever format the resource uses: an old-format
 * `role:'r'` is a STATIC reservation, `role:'r'` with `reservation` a DYNAMIC one; `*` is empty.
 */
function reservationStack(r: Resource): unknown[] {
  if (r.reservations && r.reservations.length > 0) {
    return r.reservations.map((x) => [
      x.type ?? 'UNKNOWN',
      x.role ?? null,
      x.principal ?? null,
      labelsKey(x.labels),
    ]);
  }
  const role = r.role ?? '*';
  if (role === '*') return [];
  return [
    [
      r.reservation ? 'DYNAMIC' : 'STATIC',
      role,
      r.reservation?.principal ?? null,
      labelsKey(r.reservation?.labels),
    ],
  ];
}

function isUnique(r: Resource): boolean {
  if (r.shared != null) return true;
  if (!isObject(r.disk)) return false;
  if (r.disk.persistence != null) return true;
  const source = r.disk.source;
  if (!isObject(source)) return false;
  return source.type === 'MOUNT' || source.type === 'BLOCK' || (source.type === 'RAW' && source.id != null);
}

/**
 * Keys of plain resources (no reservation, disk, revocable, shared or provider), by name, type
 * and allocation role; emptied when it holds `PLAIN_KEYS_MAX` keys.
 */
const plainKeys = new Map<string, Map<unknown, Map<string | null, string>>>();
const PLAIN_KEYS_MAX = 4096;
let plainKeyCount = 0;

function qualifierKey(r: Resource): string {
  if (
    r.reservations === undefined &&
    (r.role === undefined || r.role === '*') &&
    r.disk == null &&
    r.revocable == null &&
    r.shared == null &&
    r.provider_id == null
  ) {
    // The same key as below, made once per name, type and allocation role.
    const role = r.allocation_info?.role ?? null;
    let byType = plainKeys.get(r.name);
    if (byType === undefined) {
      byType = new Map();
      plainKeys.set(r.name, byType);
    }
    let byRole = byType.get(r.type);
    if (byRole === undefined) {
      byRole = new Map();
      byType.set(r.type, byRole);
    }
    let key = byRole.get(role);
    if (key === undefined) {
      key = JSON.stringify([r.name, r.type, [], role, null, false, false, null]);
      if (++plainKeyCount > PLAIN_KEYS_MAX) {
        plainKeys.clear();
        plainKeyCount = 0;
      } else {
        byRole.set(role, key);
      }
    }
    return key;
  }
  return JSON.stringify([
    r.name,
    r.type,
    reservationStack(r),
    r.allocation_info?.role ?? null,
    r.disk == null ? null : canonical(r.disk),
    r.revocable != null,
    r.shared != null,
    r.provider_id?.value ?? null,
  ]);
}

function roleProblem(r: Resource): string | undefined {
  if (r.role !== undefined && (typeof r.role !== 'string' || !isValidRole(r.role))) {
    return `invalid role ${JSON.stringify(r.role)}`;
  }
  if (r.allocation_info != null) {
    const role = r.allocation_info.role;
    if (role !== undefined && (typeof role !== 'string' || !isValidRole(role))) {
      return `invalid allocation_info.role ${JSON.stringify(role)}`;
    }
  }
  if (r.reservations !== undefined && !Array.isArray(r.reservations)) return 'reservations is not an array';
  if (r.reservations && r.reservations.length > 0) {
    if ((r.role !== undefined && r.role !== '*') || r.reservation != null) {
      return "mixes the old ('role'/'reservation') and new ('reservations') reservation formats";
    }
    let parent: string | undefined;
    for (let i = 0; i < r.reservations.length; i++) {
      const x = r.reservations[i];
      const role = isObject(x) ? x.role : undefined;
      if (typeof role !== 'string' || role === '*' || !isValidRole(role)) {
        return `reservations[${i}] has invalid role ${JSON.stringify(role)}`;
      }
      if (parent !== undefined && !role.startsWith(`${parent}/`)) {
        return `reservations[${i}] role '${role}' is not a sub-role of '${parent}'`;
      }
      parent = role;
    }
  } else if (r.reservation != null && (r.role ?? '*') === '*') {
    return "has 'reservation' but no reserved role";
  }
  return undefined;
}

/** Validates one resource and brings it to exact form; returns a problem description when invalid. */
function decode(r: Resource): Decoded | string {
  if (!isObject(r)) return 'is not an object';
  if (typeof r.name !== 'string' || r.name === '') return 'has no name';
  const d: Decoded = { key: '', kind: 'SCALAR', unique: false, milli: 0, spans: NO_SPANS, items: NO_ITEMS };
  switch (r.type) {
    case 'SCALAR': {
      if (!isObject(r.scalar)) return "has type SCALAR but no 'scalar'";
      if (r.ranges != null || r.set != null) return "has type SCALAR but also 'ranges' or 'set'";
      const milli = toMilli(r.scalar.value, r.name);
      if (typeof milli === 'string') return milli;
      d.milli = milli;
      break;
    }
    case 'RANGES': {
      if (!isObject(r.ranges)) return "has type RANGES but no 'ranges'";
      if (r.scalar != null || r.set != null) return "has type RANGES but also 'scalar' or 'set'";
      const list = r.ranges.range ?? [];
      if (!Array.isArray(list)) return 'ranges.range is not an array';
      const spans: Span[] = [];
      for (const x of list) {
        const begin = toBound(isObject(x) ? x.begin : undefined);
        const end = toBound(isObject(x) ? x.end : undefined);
        if (begin === undefined || end === undefined) {
          const shown = isObject(x) ? `[${showBound(x.begin)}-${showBound(x.end)}]` : JSON.stringify(x);
          return `range ${shown} does not have unsigned integer bounds up to 2^53-1`;
        }
        if (begin > end) return `range [${begin}-${end}] has begin > end`;
        spans.push([begin, end]);
      }
      spans.sort((x, y) => x[0] - y[0]);
      for (let i = 1; i < spans.length; i++) {
        const prev = spans[i - 1]!;
        const cur = spans[i]!;
        if (cur[0] <= prev[1]) {
          return `ranges [${prev[0]}-${prev[1]}] and [${cur[0]}-${cur[1]}] overlap`;
        }
      }
      d.kind = 'RANGES';
      d.spans = coalesce(spans);
      break;
    }
    case 'SET': {
      if (!isObject(r.set)) return "has type SET but no 'set'";
      if (r.scalar != null || r.ranges != null) return "has type SET but also 'scalar' or 'ranges'";
      const items = r.set.item ?? [];
      if (!Array.isArray(items)) return 'set.item is not an array';
      const seen = new Set<string>();
      for (const item of items) {
        if (typeof item !== 'string') return `set item ${JSON.stringify(item)} is not a string`;
        if (seen.has(item)) return `set item ${JSON.stringify(item)} is duplicated`;
        seen.add(item);
      }
      d.kind = 'SET';
      d.items = [...seen];
      break;
    }
    case 'TEXT':
      return 'has unsupported resource type TEXT';
    default:
      return `has unknown type ${JSON.stringify(r.type)}`;
  }
  const problem = roleProblem(r);
  if (problem !== undefined) return problem;
  d.unique = isUnique(r);
  d.key = qualifierKey(r);
  if (d.unique) {
    const value = d.kind === 'SCALAR' ? d.milli : d.kind === 'RANGES' ? d.spans : [...d.items].sort();
    d.key = `U${d.key}${JSON.stringify(value)}`;
  }
  return d;
}

function decodeOrThrow(r: Resource, index: number, context: string): Decoded {
  const d = decode(r);
  if (typeof d === 'string') {
    throw new ResourceError('RESOURCE_INVALID', `${context}: ${describe(r, index)} ${d}`);
  }
  return d;
}

/** A multiset of resources, bucketed by qualifiers. Insertion order of buckets is kept. */
class Pool {
  readonly buckets = new Map<string, Bucket>();

  static of(rs: readonly Resource[], context: string): Pool {
    if (!Array.isArray(rs))
      throw new ResourceError('RESOURCE_INVALID', `${context}: expected an array of resources`);
    const pool = new Pool();
    for (let i = 0; i < rs.length; i++) {
      const r = rs[i]!;
      pool.add(r, decodeOrThrow(r, i, context));
    }
    return pool.seal();
  }

  add(r: Resource, d: Decoded): void {
    const b = this.buckets.get(d.key);
    if (b === undefined) {
      this.buckets.set(d.key, {
        rep: r,
        kind: d.kind,
        unique: d.unique,
        milli: d.milli,
        spans: d.kind === 'RANGES' ? d.spans.slice() : NO_SPANS,
        items: d.kind === 'SET' ? new Set(d.items) : NO_ITEM_SET,
        count: 1,
        dirty: false,
      });
      return;
    }
    if (b.unique) {
      b.count++;
    } else if (d.kind === 'SCALAR') {
      b.milli += d.milli;
    } else if (d.kind === 'RANGES') {
      for (const s of d.spans) b.spans.push(s);
      b.dirty = true;
    } else {
      for (const item of d.items) b.items.add(item);
    }
  }

  /** Merges a bucket of another pool (same key). */
  merge(key: string, x: Bucket): void {
    const b = this.buckets.get(key);
    if (b === undefined) {
      this.buckets.set(key, {
        ...x,
        spans: x.kind === 'RANGES' ? x.spans.slice() : x.spans,
        items: x.kind === 'SET' ? new Set(x.items) : x.items,
      });
    } else if (b.unique) {
      b.count += x.count;
    } else if (b.kind === 'SCALAR') {
      b.milli += x.milli;
    } else if (b.kind === 'RANGES') {
      for (const s of x.spans) b.spans.push(s);
      b.dirty = true;
    } else {
      for (const item of x.items) b.items.add(item);
    }
  }

  seal(): this {
    for (const b of this.buckets.values()) {
      if (b.dirty) {
        b.spans = coalesce(b.spans);
        b.dirty = false;
      }
    }
    return this;
  }

  toResources(): Resource[] {
    const out: Resource[] = [];
    for (const b of this.buckets.values()) emit(b, out);
    return out;
  }
}

function isEmpty(b: Bucket): boolean {
  if (b.unique) return b.count <= 0;
  if (b.kind === 'SCALAR') return b.milli <= 0;
  if (b.kind === 'RANGES') return b.spans.length === 0;
  return b.items.size === 0;
}

/** Builds a fresh resource from a representative's qualifiers and a quantity. */
function materialize(
  rep: Resource,
  kind: Kind,
  milli: number,
  spans: readonly Span[],
  items: Iterable<string>,
): Resource {
  const out: Record<string, unknown> = { name: rep.name, type: rep.type };
  if (kind === 'SCALAR') out.scalar = { value: milli / 1000 };
  else if (kind === 'RANGES') out.ranges = { range: spans.map(([begin, end]) => ({ begin, end })) };
  else out.set = { item: [...items] };
  const fields = rep as unknown as Record<string, unknown>;
  for (const k in fields) {
    const v = fields[k];
    if (!Object.hasOwn(fields, k) || k === 'name' || k === 'type' || k === 'scalar' || k === 'ranges')
      continue;
    if (k === 'set' || v === undefined) continue;
    out[k] = cloneData(v);
  }
  return out as unknown as Resource;
}

/** A deep copy of message data: plain objects and arrays by hand, anything else by `structuredClone`. */
function cloneData(v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) return v.map(cloneData);
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return structuredClone(v);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) out[k] = cloneData((v as Record<string, unknown>)[k]);
  return out;
}

function emit(b: Bucket, out: Resource[]): void {
  if (isEmpty(b)) return;
  const copies = b.unique ? b.count : 1;
  for (let i = 0; i < copies; i++) out.push(materialize(b.rep, b.kind, b.milli, b.spans, b.items));
}

function bucketWith(b: Bucket, change: Partial<Bucket>): Bucket {
  return { ...b, ...change };
}

/** What of `need` is not in `have` (undefined when `have` covers it). */
function deficit(have: Bucket | undefined, need: Bucket): Bucket | undefined {
  if (isEmpty(need)) return undefined;
  if (need.unique) {
    const missing = need.count - (have?.count ?? 0);
    return missing > 0 ? bucketWith(need, { count: missing }) : undefined;
  }
  switch (need.kind) {
    case 'SCALAR': {
      const missing = need.milli - (have?.milli ?? 0);
      return missing > 0 ? bucketWith(need, { milli: missing }) : undefined;
    }
    case 'RANGES': {
      if (have === undefined) return need;
      const missing = spansMinus(need.spans, have.spans);
      return missing.length > 0 ? bucketWith(need, { spans: missing }) : undefined;
    }
    default: {
      const missing = new Set<string>();
      for (const item of need.items) if (!have?.items.has(item)) missing.add(item);
      return missing.size > 0 ? bucketWith(need, { items: missing }) : undefined;
    }
  }
}

/** `have - need`, where `need` is known to be covered. */
function minus(have: Bucket, need: Bucket | undefined): Bucket {
  if (need === undefined || isEmpty(need)) return have;
  if (have.unique) return bucketWith(have, { count: have.count - need.count });
  switch (have.kind) {
    case 'SCALAR':
      return bucketWith(have, { milli: have.milli - need.milli });
    case 'RANGES':
      return bucketWith(have, { spans: spansMinus(have.spans, need.spans) });
    default: {
      const items = new Set<string>();
      for (const item of have.items) if (!need.items.has(item)) items.add(item);
      return bucketWith(have, { items });
    }
  }
}

function missingOf(pool: Pool, request: Pool): Resource[] {
  const missing: Resource[] = [];
  for (const [key, need] of request.buckets) {
    const d = deficit(pool.buckets.get(key), need);
    if (d !== undefined) emit(d, missing);
  }
  return missing;
}

function insufficient(context: string, missing: Resource[], pool: readonly Resource[]): ResourceError {
  const all = pool.length === 0 ? 'nothing' : formatResources(pool);
  const available = all.length > 500 ? `${all.slice(0, 500)}…` : all;
  return new ResourceError(
    'RESOURCE_INSUFFICIENT',
    `${context}: insufficient resources, missing ${formatResources(missing)} (available: ${available})`,
  );
}

// ---------------------------------------------------------------------------------------------
// Text form
// ---------------------------------------------------------------------------------------------

/** Resource names that the text form can carry. */
const NAME_RE = /^[^\s():;,[\]{}]+$/;
/** Set items that the text form can carry. */
const ITEM_RE = /^[^\s:;,[\]{}()]+$/;
const NUMBER_RE = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const RANGE_RE = /^(\d+)\s*-\s*(\d+)$/;

/** `where` is `position N` (0-based character offset) or `JSON index N`. */
function parseError(token: string, where: string, why: string, cause?: unknown): ResourceError {
  return new ResourceError(
    'RESOURCE_PARSE',
    `Cannot parse resources: ${JSON.stringify(token)} at ${where}: ${why}`,
    cause === undefined ? undefined : { cause },
  );
}

function parseValue(
  value: string,
  fail: (why: string) => never,
): Pick<Resource, 'type' | 'scalar' | 'ranges' | 'set'> {
  const opensRange = value.startsWith('[');
  const opensSet = value.startsWith('{');
  if (opensRange || value.endsWith(']')) {
    if (!opensRange || !value.endsWith(']') || value.length < 2) fail("unbalanced '[' ']' in ranges");
    const inner = value.slice(1, -1);
    if (/[[\]{}]/.test(inner)) fail('unbalanced or nested brackets in ranges');
    const range: Range[] = [];
    if (inner.trim() !== '') {
      for (const part of inner.split(',')) {
        const m = RANGE_RE.exec(part.trim());
        if (!m) fail(`invalid range ${JSON.stringify(part.trim())} (expected begin-end)`);
        const begin = Number(m[1]);
        const end = Number(m[2]);
        if (!Number.isSafeInteger(begin) || !Number.isSafeInteger(end)) {
          fail(`range ${JSON.stringify(part.trim())} has a bound above 2^53-1`);
        }
        range.push({ begin, end });
      }
    }
    return { type: 'RANGES', ranges: { range } };
  }
  if (opensSet || value.endsWith('}')) {
    if (!opensSet || !value.endsWith('}') || value.length < 2) fail("unbalanced '{' '}' in set");
    const inner = value.slice(1, -1);
    if (/[[\]{}]/.test(inner)) fail('unbalanced or nested braces in set');
    const item: string[] = [];
    if (inner.trim() !== '') {
      for (const part of inner.split(',')) {
        const x = part.trim();
        if (x === '') fail('empty set item');
        item.push(x);
      }
    }
    return { type: 'SET', set: { item } };
  }
  if (!NUMBER_RE.test(value)) fail(`scalar value ${JSON.stringify(value)} is not a number`);
  return { type: 'SCALAR', scalar: { value: Number(value) } };
}

function parseToken(token: string, position: number, defaultRole: string): Resource {
  const fail = (why: string): never => {
    throw parseError(token, `position ${position}`, why);
  };
  let i = 0;
  while (i < token.length && !/[\s(:]/.test(token[i]!)) i++;
  const name = token.slice(0, i);
  if (name === '') fail('missing resource name');
  if (!NAME_RE.test(name)) fail(`invalid resource name ${JSON.stringify(name)}`);
  while (i < token.length && /\s/.test(token[i]!)) i++;
  let role = defaultRole;
  if (token[i] === '(') {
    const close = token.indexOf(')', i);
    if (close === -1) fail("unbalanced '(' in role");
    role = token.slice(i + 1, close).trim();
    if (!isValidRole(role)) fail(`invalid role ${JSON.stringify(role)}`);
    i = close + 1;
    while (i < token.length && /\s/.test(token[i]!)) i++;
  }
  if (token[i] !== ':') fail(`expected ':' after ${JSON.stringify(token.slice(0, i).trim())}`);
  const value = token.slice(i + 1).trim();
  if (value === '') fail('missing value');
  const r: Resource = { name, ...parseValue(value, fail) };
  if (role !== '*') r.role = role;
  return r;
}

function parseJson(text: string, defaultRole: string): Resource[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw parseError(
      text.length > 40 ? `${text.slice(0, 40)}…` : text,
      'position 0',
      `invalid JSON (${(err as Error).message})`,
      err,
    );
  }
  if (!Array.isArray(data))
    throw parseError(text.slice(0, 40), 'position 0', 'JSON resources must be an array');
  return data.map((x: unknown, i) => {
    if (!isObject(x)) throw parseError(JSON.stringify(x) ?? String(x), `JSON index ${i}`, 'not an object');
    let r = x as unknown as Resource;
    // uint64 bounds may come as decimal strings (proto3 JSON mapping).
    if (isObject(r.ranges) && Array.isArray(r.ranges.range)) {
      const range = r.ranges.range.map((y: unknown) => {
        if (!isObject(y)) return y;
        const fix = (v: unknown) => (typeof v === 'string' && /^\d+$/.test(v) ? BigInt(v) : v);
        return { ...y, begin: fix(y.begin), end: fix(y.end) };
      });
      r = { ...r, ranges: { ...r.ranges, range: range as Range[] } };
    }
    const reserved = (r.role !== undefined && r.role !== '*') || (r.reservations?.length ?? 0) > 0;
    if (!reserved && r.role === undefined && defaultRole !== '*') r = { ...r, role: defaultRole };
    return r;
  });
}

/**
 * Parses Mesos' resource text, e.g. `cpus:2;mem:1024;disk:4096;ports:[31000-32000]`, with
 * optional roles (`cpus(eng):1`), range lists (`ports:[31000-31005,32000-32000]`) and sets
 * (`zones:{a,b}`); whitespace around tokens is ignored. Like Mesos' `--resources` flag it also
 * accepts a JSON array of `Resource` objects.
 *
 * Resources of the same name and role are summed (`cpus:1;cpus:2` → `cpus:3`), empty ones are
 * dropped, scalars are rounded to 3 decimals. Resources of the default role `*` have no `role`
 * field. One name may not be used with two different types.
 *
 * @throws {ResourceError} `RESOURCE_PARSE` naming the bad token and its 0-based position (for
 *   JSON input, the array index).
 * @throws {InvalidOptionsError} when `defaultRole` is not a valid role.
 */
export function parseResources(text: string, options?: ParseResourcesOptions): Resource[] {
  const defaultRole = options?.defaultRole ?? '*';
  if (typeof defaultRole !== 'string' || !isValidRole(defaultRole)) {
    throw new InvalidOptionsError(`parseResources: invalid defaultRole ${JSON.stringify(defaultRole)}`);
  }
  if (typeof text !== 'string') throw new InvalidOptionsError('parseResources: text must be a string');
  const pool = new Pool();
  const types = new Map<string, string>();
  const take = (r: Resource, token: string, where: string) => {
    const d = decode(r);
    if (typeof d === 'string') throw parseError(token, where, d.replace(/^has /, ''));
    const seen = types.get(r.name);
    if (seen !== undefined && seen !== r.type) {
      throw parseError(token, where, `'${r.name}' was already given as ${seen}, not ${r.type}`);
    }
    types.set(r.name, r.type);
    pool.add(r, d);
  };
  if (text.trimStart().startsWith('[')) {
    const list = parseJson(text.trim(), defaultRole);
    list.forEach((r, i) => {
      take(r, JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? String(v) : v)) ?? '', `JSON index ${i}`);
    });
    return pool.seal().toResources();
  }
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf(';', start);
    if (end === -1) end = text.length;
    const raw = text.slice(start, end);
    const token = raw.trim();
    if (token !== '') {
      const position = start + (raw.length - raw.trimStart().length);
      take(parseToken(token, position, defaultRole), token, `position ${position}`);
    }
    start = end + 1;
  }
  return pool.seal().toResources();
}

function formatSpans(spans: readonly Span[]): string {
  return `[${spans.map(([b, e]) => `${b}-${e}`).join(',')}]`;
}

/** The text form of one decoded resource, or undefined when the text form cannot carry it. */
function textOf(r: Resource, d: Decoded): string | undefined {
  if (
    r.allocation_info?.role !== undefined ||
    r.reservation != null ||
    (r.reservations?.length ?? 0) > 0 ||
    r.disk != null ||
    r.revocable != null ||
    r.shared != null ||
    r.provider_id != null ||
    !NAME_RE.test(r.name)
  ) {
    return undefined;
  }
  const role = r.role ?? '*';
  if (/[();]/.test(role)) return undefined;
  let value: string;
  if (d.kind === 'SCALAR') value = String(d.milli / 1000);
  else if (d.kind === 'RANGES') value = formatSpans(d.spans);
  else {
    if (!d.items.every((x) => ITEM_RE.test(x))) return undefined;
    value = `{${d.items.join(',')}}`;
  }
  return role === '*' ? `${r.name}:${value}` : `${r.name}(${role}):${value}`;
}

/**
 * Prints resources in Mesos' text form: `cpus:2;mem:1024;ports:[31000-32000]`, reserved ones as
 * `cpus(eng):1`. Scalars have at most 3 decimals; ranges are sorted and coalesced. Resources are
 * printed in order and not combined. `parseResources(formatResources(x))` gives back `x` (combined).
 *
 * When a resource carries something the text form cannot express (allocation info, a
 * `reservation`/`reservations` stack, disk, revocable, shared, provider, or names/items with
 * separator characters), the whole list is printed as a JSON array instead, which
 * {@link parseResources} also reads.
 *
 * @throws {ResourceError} `RESOURCE_INVALID` when a resource is invalid.
 */
export function formatResources(resources: readonly Resource[]): string {
  const decoded = resources.map((r, i) => decodeOrThrow(r, i, 'formatResources'));
  const parts: string[] = [];
  for (let i = 0; i < resources.length; i++) {
    const text = textOf(resources[i]!, decoded[i]!);
    if (text === undefined) {
      const normalized = resources.map((r, j) => {
        const d = decoded[j]!;
        return materialize(r, d.kind, d.milli, d.spans, d.items);
      });
      return JSON.stringify(normalized, (_k, v) => (typeof v === 'bigint' ? Number(v) : v));
    }
    parts.push(text);
  }
  return parts.join(';');
}

// ---------------------------------------------------------------------------------------------
// Arithmetic
// ---------------------------------------------------------------------------------------------

/**
 * Checks every resource against Mesos' rules: a name; type SCALAR, RANGES or SET (not TEXT) with
 * the matching value and no other; scalars finite, not negative and not rounding to 0 unless 0
 * (`gpus` whole); ranges of unsigned integers with begin ≤ end and no overlaps; sets without
 * duplicates; valid role names; old and new reservation formats not mixed; a reservation stack
 * whose roles refine each other.
 *
 * @throws {ResourceError} `RESOURCE_INVALID` naming the resource (index and name) and the problem.
 */
export function validateResources(resources: readonly Resource[]): void {
  if (!Array.isArray(resources)) {
    throw new ResourceError('RESOURCE_INVALID', 'validateResources: expected an array of resources');
  }
  for (let i = 0; i < resources.length; i++) decodeOrThrow(resources[i]!, i, 'validateResources');
}

/**
 * The sum of two resource lists: combinable resources merge (scalars add, ranges union and
 * coalesce, sets union); others are kept side by side. Empty resources are dropped.
 *
 * @throws {ResourceError} `RESOURCE_INVALID` when an input resource is invalid.
 */
export function addResources(a: readonly Resource[], b: readonly Resource[]): Resource[] {
  const pool = Pool.of(a, 'addResources (first argument)');
  const more = Pool.of(b, 'addResources (second argument)');
  for (const [key, x] of more.buckets) pool.merge(key, x);
  return pool.seal().toResources();
}

/**
 * `a - b`: scalars subtract, ranges and sets lose the requested elements; what becomes empty is
 * dropped.
 *
 * @throws {ResourceError} `RESOURCE_INSUFFICIENT` naming what is missing when `a` does not contain
 *   `b`; `RESOURCE_INVALID` when an input resource is invalid.
 */
export function subtractResources(a: readonly Resource[], b: readonly Resource[]): Resource[] {
  const pool = Pool.of(a, 'subtractResources (first argument)');
  const request = Pool.of(b, 'subtractResources (second argument)');
  const missing = missingOf(pool, request);
  if (missing.length > 0) throw insufficient('subtractResources', missing, pool.toResources());
  const out: Resource[] = [];
  for (const [key, have] of pool.buckets) emit(minus(have, request.buckets.get(key)), out);
  return out;
}

/**
 * Whether `pool` covers `request`: every requested resource has a combinable counterpart in the
 * pool with at least its scalar (at 3 decimals) or a superset of its ranges/set. Reserved and
 * unreserved resources, or different allocation roles, never stand in for each other.
 *
 * @throws {ResourceError} `RESOURCE_INVALID` when an input resource is invalid.
 */
export function containsResources(pool: readonly Resource[], request: readonly Resource[]): boolean {
  const have = Pool.of(pool, 'containsResources (pool)');
  const need = Pool.of(request, 'containsResources (request)');
  for (const [key, b] of need.buckets) {
    if (deficit(have.buckets.get(key), b) !== undefined) return false;
  }
  return true;
}

/**
 * The total of the SCALAR resources called `name` (optionally only those `filter` accepts), over
 * all roles and buckets, rounded to 3 decimals. 0 when there are none.
 *
 * @throws {ResourceError} `RESOURCE_INVALID` when a counted resource is invalid.
 */
export function scalarOf(resources: readonly Resource[], name: string, filter?: ResourceFilter): number {
  let milli = 0;
  resources.forEach((r, i) => {
    if (r.name !== name || r.type !== 'SCALAR' || (filter && !filter(r))) return;
    milli += decodeOrThrow(r, i, 'scalarOf').milli;
  });
  return milli / 1000;
}

/**
 * The union of the RANGES resources called `name` (optionally only those `filter` accepts), over
 * all roles and buckets: sorted, coalesced `{ begin, end }` ranges (inclusive).
 *
 * @throws {ResourceError} `RESOURCE_INVALID` when a counted resource is invalid.
 */
export function rangesOf(
  resources: readonly Resource[],
  name: string,
  filter?: ResourceFilter,
): { begin: number; end: number }[] {
  const spans: Span[] = [];
  resources.forEach((r, i) => {
    if (r.name !== name || r.type !== 'RANGES' || (filter && !filter(r))) return;
    for (const s of decodeOrThrow(r, i, 'rangesOf').spans) spans.push(s);
  });
  return coalesce(spans).map(([begin, end]) => ({ begin, end }));
}

// ---------------------------------------------------------------------------------------------
// Roles
// ---------------------------------------------------------------------------------------------

/**
 * Whether `name` is a valid Mesos role: `*`, or `/`-separated components none of which is empty,
 * `.`, `..` or `*`, starts with `-`, or contains whitespace or a backspace.
 */
export function isValidRole(name: string): boolean {
  if (typeof name !== 'string') return false;
  if (name === '*') return true;
  if (name === '') return false;
  for (const part of name.split('/')) {
    if (part === '' || part === '.' || part === '..' || part === '*' || part.startsWith('-')) return false;
    if (/\s/.test(part) || part.includes('\b')) return false;
  }
  return true;
}

/**
 * The role a resource is reserved to: in the refinement format the role of the last (innermost)
 * reservation, otherwise `role`; `*` when unreserved. (Not `allocation_info.role`.)
 */
export function reservationRole(resource: Resource): string {
  const stack = resource.reservations;
  if (stack && stack.length > 0) return stack[stack.length - 1]?.role ?? '*';
  return resource.role ?? '*';
}

/** Whether a resource is unreserved (no reservation stack and role `*` or absent). */
export function isUnreserved(resource: Resource): boolean {
  return reservationRole(resource) === '*';
}

/** Copies of the resources reserved to exactly `role` (`*` selects the unreserved ones). */
export function filterByRole(resources: readonly Resource[], role: string): Resource[] {
  return resources.filter((r) => reservationRole(r) === role).map((r) => structuredClone(r));
}

/**
 * Copies of the resources with `allocation_info: { role }` set, as a master does when offering them
 * to a framework for one of its roles.
 *
 * @throws {InvalidOptionsError} when `role` is not a valid role.
 */
export function allocateTo(resources: readonly Resource[], role: string): Resource[] {
  if (typeof role !== 'string' || !isValidRole(role)) {
    throw new InvalidOptionsError(`allocateTo: invalid role ${JSON.stringify(role)}`);
  }
  return resources.map((r) => ({ ...structuredClone(r), allocation_info: { role } }));
}

// ---------------------------------------------------------------------------------------------
// Task helpers
// ---------------------------------------------------------------------------------------------

/**
 * Picks the `count` lowest free ports of the pool (the RANGES resource `options.name`, default
 * `ports`, from every bucket `options.filter` accepts) for a task that asks for that many ports.
 *
 * @returns the picked ports, one resource per bucket they came from (keeping its role and other
 *   qualifiers), and the rest of the pool.
 * @throws {ResourceError} `RESOURCE_INSUFFICIENT` when fewer ports are free.
 * @throws {InvalidOptionsError} when `count` is not a non-negative integer.
 */
export function pickPorts(pool: readonly Resource[], count: number, options?: PickPortsOptions): PickedPorts {
  const name = options?.name ?? 'ports';
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new InvalidOptionsError(`pickPorts: count must be a non-negative integer, got ${String(count)}`);
  }
  const all = Pool.of(pool, 'pickPorts');
  const free: { span: Span; bucket: Bucket }[] = [];
  for (const b of all.buckets.values()) {
    if (b.rep.name !== name || b.kind !== 'RANGES' || b.unique) continue;
    if (options?.filter && !options.filter(b.rep)) continue;
    for (const span of b.spans) free.push({ span, bucket: b });
  }
  free.sort((x, y) => x.span[0] - y.span[0]);
  const chosen = new Map<Bucket, Span[]>();
  let left = count;
  for (const { span, bucket } of free) {
    if (left === 0) break;
    const size = span[1] - span[0] + 1;
    const take = Math.min(size, left);
    const list = chosen.get(bucket) ?? [];
    list.push([span[0], span[0] + take - 1]);
    chosen.set(bucket, list);
    left -= take;
  }
  if (left > 0) {
    const available = countPorts(free.map((f) => f.span));
    throw new ResourceError(
      'RESOURCE_INSUFFICIENT',
      `pickPorts: ${count} '${name}' requested but only ${available} free`,
    );
  }
  const picked: Resource[] = [];
  for (const [bucket, spans] of chosen)
    picked.push(materialize(bucket.rep, 'RANGES', 0, coalesce(spans), []));
  const remaining: Resource[] = [];
  for (const b of all.buckets.values()) {
    const taken = chosen.get(b);
    emit(taken ? bucketWith(b, { spans: spansMinus(b.spans, coalesce(taken)) }) : b, remaining);
  }
  return { picked, remaining };
}

/**
 * SCALAR resources for a task definition: `cpus`, `mem` (from `memMb`), `disk` (from `diskMb`) and
 * `gpus`, skipping zero or missing ones, rounded to 3 decimals, reserved to `options.role` if given
 * (pre-refinement `role` field). Ports are not a quantity in Mesos: pick them from the offer with
 * {@link pickPorts}.
 *
 * @throws {InvalidOptionsError} naming the field when a value is negative, not finite, rounds to 0,
 *   or `gpus` is fractional, or when the role is invalid.
 */
export function resourcesFromSpec(spec: ResourceSpec, options?: ResourceSpecOptions): Resource[] {
  const role = options?.role ?? '*';
  if (typeof role !== 'string' || !isValidRole(role)) {
    throw new InvalidOptionsError(`resourcesFromSpec: invalid role ${JSON.stringify(role)}`);
  }
  const fields: [keyof ResourceSpec, string][] = [
    ['cpus', 'cpus'],
    ['memMb', 'mem'],
    ['diskMb', 'disk'],
    ['gpus', 'gpus'],
  ];
  const out: Resource[] = [];
  for (const [field, name] of fields) {
    const value = spec[field];
    if (value === undefined || value === 0) continue;
    const milli = toMilli(value, name);
    if (typeof milli === 'string') throw new InvalidOptionsError(`resourcesFromSpec: ${field}: ${milli}`);
    const r: Resource = { name, type: 'SCALAR', scalar: { value: milli / 1000 } };
    if (role !== '*') r.role = role;
    out.push(r);
  }
  return out;
}
