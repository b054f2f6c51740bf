/**
 * Resource helpers the master needs on top of `@mesoskit/protocol`'s arithmetic: the
 * "unallocated" form it keeps its books in, the shapes offers take per framework
 * capabilities, Mesos' text form used in validation messages, and the minimum allocatable
 * check.
 */
import type { mesos } from '@mesoskit/protocol';
import { scalarOf } from '@mesoskit/protocol';

type Resource = mesos.v1.Resource;

/**
 * A shallow copy of `r` without the field `skip` and without a `role: "*"`, keys in their order
 * (built without `delete`, which would leave the copy a slow dictionary-mode object).
 */
function copyWithout(r: Resource, skip: keyof Resource | undefined): Resource {
  const fields = r as unknown as Record<string, unknown>;
  const copy: Record<string, unknown> = {};
  for (const k in fields) {
    if (!Object.hasOwn(fields, k) || k === skip || (k === 'role' && fields[k] === '*')) continue;
    copy[k] = fields[k];
  }
  return copy as unknown as Resource;
}

/** Copies without `allocation_info` and without the redundant `role: "*"`: the master's book-keeping form. */
export function unallocated(resources: readonly Resource[]): Resource[] {
  return resources.map((r) => copyWithout(r, 'allocation_info'));
}

/** Copies allocated to `role` (as Mesos does when it offers them), `role: "*"` dropped. */
export function allocated(resources: readonly Resource[], role: string): Resource[] {
  return unallocated(resources).map((r) => ({ ...r, allocation_info: { role } }));
}

/**
 * Fills in a missing `allocation_info` with the offers' role, as Mesos does while normalising an
 * ACCEPT; a `role: "*"` (old format, unreserved) is dropped so the resource combines with the pool.
 */
export function withAllocation(resources: readonly Resource[] | undefined, role: string): Resource[] {
  return (resources ?? []).map((r) => {
    const copy = copyWithout(r, undefined);
    copy.allocation_info = r.allocation_info ?? { role };
    return copy;
  });
}

/** Ranges and sets first (the order Mesos' offers show: ports, cpus, mem, disk), otherwise stable. */
export function offerOrder(resources: readonly Resource[]): Resource[] {
  const rank = (r: Resource): number => (r.type === 'SCALAR' ? 1 : 0);
  return resources
    .map((r, i) => ({ r, i }))
    .sort((a, b) => rank(a.r) - rank(b.r) || a.i - b.i)
    .map(({ r }) => r);
}

/**
 * The resources of an offer as the framework sees them: without `RESERVATION_REFINEMENT` every
 * unreserved resource carries `role: "*"`; only `MULTI_ROLE` frameworks see `allocation_info`.
 */
export function offerShape(
  resources: readonly Resource[],
  role: string,
  caps: { multiRole: boolean; refinement: boolean },
): Resource[] {
  return offerOrder(resources).map((r) => {
    const copy: Resource = { ...r };
    delete copy.allocation_info;
    if (!caps.refinement && copy.role === undefined && !copy.reservations?.length) copy.role = '*';
    if (caps.multiRole) copy.allocation_info = { role };
    return copy;
  });
}

/** Mesos' `--min_allocatable_resources` default: at least 0.01 cpus or 32 MB of memory. */
export function isAllocatable(resources: readonly Resource[]): boolean {
  return scalarOf(resources, 'cpus') >= 0.01 || scalarOf(resources, 'mem') >= 32;
}

/** A number as C++ streams print doubles (6 significant digits, no trailing zeros). */
function formatNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e6) return String(n);
  const s = Number(n.toPrecision(6));
  return String(s);
}

/** One resource in Mesos' text form, e.g. `cpus(allocated: *):1.9` or `ports(allocated: *):[31000-32000]`. */
export function resourceText(r: Resource): string {
  let s = r.name;
  if (r.allocation_info?.role !== undefined) s += `(allocated: ${r.allocation_info.role})`;
  if (r.role !== undefined && r.role !== '*') s += `(${r.role})`;
  if (r.reservations?.length) {
    s += `(reservations: [${r.reservations.map((x) => `(${x.type ?? 'UNKNOWN'},${x.role ?? ''})`).join(', ')}])`;
  }
  if (r.revocable) s += '{REV}';
  if (r.shared) s += '<SHARED>';
  s += ':';
  if (r.type === 'SCALAR') s += formatNumber(r.scalar?.value ?? 0);
  else if (r.type === 'RANGES') {
    s += `[${(r.ranges?.range ?? []).map((x) => `${x.begin}-${x.end}`).join(', ')}]`;
  } else if (r.type === 'SET') s += `{${(r.set?.item ?? []).join(', ')}}`;
  return s;
}

/** A list in Mesos' text form: resources joined with `; `. */
export function resourcesText(resources: readonly Resource[]): string {
  return resources.map(resourceText).join('; ');
}

/** The scalar totals `/master/state` shows (`{disk, mem, gpus, cpus}` plus `ports` when present). */
export function resourceMap(resources: readonly Resource[]): Record<string, number | string> {
  const out: Record<string, number | string> = {
    disk: scalarOf(resources, 'disk'),
    mem: scalarOf(resources, 'mem'),
    gpus: scalarOf(resources, 'gpus'),
    cpus: scalarOf(resources, 'cpus'),
  };
  const ports = resources.filter((r) => r.name === 'ports' && r.type === 'RANGES');
  if (ports.length > 0) {
    out.ports = `[${ports
      .flatMap((r) => r.ranges?.range ?? [])
      .map((x) => `${x.begin}-${x.end}`)
      .join(', ')}]`;
  }
  return out;
}
