/**
 * pi's task: count how many of `points` pseudo-random points in the unit square fall inside
 * the quarter circle. Shared by the scheduler and the executor.
 *
 * @module
 */
import { defineTask } from '@mesoskit/protocol';

export const sample = defineTask<{ points: number; seed: number }, { inside: number; points: number }>(
  'pi.sample',
  { resources: { cpus: 0.1, memMb: 32 } },
);

/** mulberry32: a small, fast, seedable PRNG (deterministic per task, so a retry agrees). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The work itself, pure: also what the handler runs. */
export function countInside(points: number, seed: number): number {
  const random = mulberry32(seed);
  let inside = 0;
  for (let i = 0; i < points; i++) {
    const x = random();
    const y = random();
    if (x * x + y * y <= 1) inside++;
  }
  return inside;
}
