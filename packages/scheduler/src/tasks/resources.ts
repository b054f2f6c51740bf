/**
 * The scalar resources the task scheduler packs (cpus, mem, disk, gpus), kept in integer
 * thousandths like Mesos' fixed-point `Value.Scalar`, so that packing never drifts; and taking
 * exact `Resource` pieces out of an agent's offers for a launch.
 *
 * @module
 */
import { InvalidOptionsError, type Offer, type Resource } from '@mesoskit/protocol';

/** Scalar resources in thousandths: `cpus: 100` is 0.1 CPU, `mem: 32000` is 32 MiB. */
export interface Scalars {
  cpus: number;
  mem: number;
  disk: number;
  gpus: number;
}

export const SCALAR_NAMES = ['cpus', 'mem', 'disk', 'gpus'] as const;
export type ScalarName = (typeof SCALAR_NAMES)[number];

export const toMillis = (value: number): number => Math.round(value * 1000);
export const fromMillis = (millis: number): number => millis / 1000;

/** Checks a resource amount from options and returns it in thousandths. */
export function validScalar(name: string, value: number, allowZero = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new InvalidOptionsError(
      `${name} must be a ${allowZero ? 'non-negative' : 'positive'} finite number, got ${String(value)}`,
    );
  }
  return toMillis(value);
}

export function zeroScalars(): Scalars {
  return { cpus: 0, mem: 0, disk: 0, gpus: 0 };
}

export function addScalars(a: Scalars, b: Scalars): Scalars {
  return { cpus: a.cpus + b.cpus, mem: a.mem + b.mem, disk: a.disk + b.disk, gpus: a.gpus + b.gpus };
}

/** The first scalar of `need` that `have` lacks, or `undefined` when it fits. */
export function shortOf(have: Scalars, need: Scalars): ScalarName | undefined {
  if (need.cpus > have.cpus) return 'cpus';
  if (need.mem > have.mem) return 'mem';
  if (need.disk > have.disk) return 'disk';
  if (need.gpus > have.gpus) return 'gpus';
  return undefined;
}

/** Plain scalar pieces a task may use: no persistent volume, not revocable, not shared. */
function usable(r: Resource): boolean {
  return (
    r.type === 'SCALAR' &&
    r.scalar !== undefined &&
    r.disk === undefined &&
    r.revocable === undefined &&
    r.shared === undefined &&
    r.provider_id === undefined &&
    (SCALAR_NAMES as readonly string[]).includes(r.name)
  );
}

/** Sums the usable scalars of some offers (all of one agent). */
export function offeredScalars(offers: readonly Offer[]): Scalars {
  const total = zeroScalars();
  for (const offer of offers) {
    for (const r of offer.resources ?? []) {
      if (usable(r)) total[r.name as ScalarName] += toMillis(r.scalar!.value);
    }
  }
  return total;
}

/**
 * The usable pieces of one agent's offers, to take exact `Resource`s from: each piece keeps its
 * role, reservations and allocation info, as Mesos wants them echoed back in a launch.
 */
export class ResourcePool {
  readonly #pieces: { template: Resource; left: number }[] = [];

  constructor(offers: readonly Offer[]) {
    for (const offer of offers) {
      for (const r of offer.resources ?? []) {
        if (usable(r)) this.#pieces.push({ template: r, left: toMillis(r.scalar!.value) });
      }
    }
  }

  /**
   * Takes `need` out of the pool and returns the pieces as `Resource`s. The caller has checked
   * that it fits (with {@link shortOf} against the pool's sum).
   */
  take(need: Scalars): Resource[] {
    const out: Resource[] = [];
    for (const name of SCALAR_NAMES) {
      let want = need[name];
      for (const piece of this.#pieces) {
        if (want <= 0) break;
        if (piece.template.name !== name || piece.left <= 0) continue;
        const amount = Math.min(want, piece.left);
        piece.left -= amount;
        want -= amount;
        out.push({ ...piece.template, scalar: { value: fromMillis(amount) } });
      }
    }
    return out;
  }
}
