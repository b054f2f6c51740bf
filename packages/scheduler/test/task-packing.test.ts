/** Pure tests of offer packing (firstFit), constraints, pending reasons and resource pieces. */
import { type Offer, parseResources } from '@mesoskit/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AgentCapacity,
  constraintMismatch,
  describePending,
  firstFit,
  nodeExecutor,
  type PackableTask,
} from '../src/index.js';
import { addScalars, offeredScalars, ResourcePool, type Scalars, shortOf } from '../src/tasks/resources.js';

const s = (cpus: number, memMb: number, diskMb = 0): Scalars => ({
  cpus: Math.round(cpus * 1000),
  mem: Math.round(memMb * 1000),
  disk: Math.round(diskMb * 1000),
  gpus: 0,
});
const exec = { name: 'e', resources: s(0.1, 32) };
const agent = (id: string, cpus: number, mem: number, more: Partial<AgentCapacity> = {}): AgentCapacity => ({
  agentId: id,
  hostname: `${id}.local`,
  attributes: [],
  available: s(cpus, mem),
  executors: new Set(),
  ...more,
});
const task = (cpus: number, mem: number, more: Partial<PackableTask> = {}): PackableTask => ({
  resources: s(cpus, mem),
  executor: exec,
  ...more,
});

describe('firstFit', () => {
  it('charges the executor once per agent and fills agents in order', () => {
    // 1 cpu: executor 0.1 + 3 × 0.3 = 1.0 fits exactly; the 4th goes to b.
    const packing = firstFit(
      [agent('a', 1, 1024), agent('b', 1, 1024)],
      [0, 1, 2, 3].map(() => task(0.3, 64)),
    );
    expect(packing.placements).toEqual([
      { task: 0, agent: 0 },
      { task: 1, agent: 0 },
      { task: 2, agent: 0 },
      { task: 3, agent: 1 },
    ]);
    expect(packing.pending.size).toBe(0);
  });

  it('does not charge an executor already on the agent', () => {
    const packing = firstFit(
      [agent('a', 0.6, 1024, { executors: new Set(['e']) })],
      [task(0.3, 1), task(0.3, 1)],
    );
    expect(packing.placements).toHaveLength(2);
  });

  it('skips a task that does not fit and places later ones that do', () => {
    const packing = firstFit([agent('a', 1, 1024)], [task(2, 1), task(0.5, 1)]);
    expect(packing.placements).toEqual([{ task: 1, agent: 0 }]);
    expect(packing.pending.get(0)).toMatchObject({ type: 'insufficient', resource: 'cpus', needed: 2100 });
    expect(describePending(packing.pending.get(0)!)).toBe('not enough cpus: needs 2.1, largest offer has 1');
  });

  it('names mem when mem is short', () => {
    const packing = firstFit([agent('a', 4, 100)], [task(0.1, 512)]);
    expect(describePending(packing.pending.get(0)!)).toBe(
      'not enough mem: needs 544 MB, largest offer has 100 MB',
    );
  });

  it('honours hostname and attribute constraints', () => {
    const agents = [
      agent('a', 4, 4096),
      agent('b', 4, 4096, { attributes: [{ name: 'zone', type: 'TEXT', text: { value: 'eu-1' } }] }),
    ];
    const packing = firstFit(agents, [
      task(0.1, 1, { constraints: { attributes: { zone: /^eu-/ } } }),
      task(0.1, 1, { constraints: { hostname: 'a.local' } }),
      task(0.1, 1, { constraints: { hostname: 'c.local' } }),
    ]);
    expect(packing.placements).toEqual([
      { task: 0, agent: 1 },
      { task: 1, agent: 0 },
    ]);
    expect(packing.pending.get(2)).toMatchObject({ type: 'constraints' });
    expect(describePending(packing.pending.get(2)!)).toContain('hostname a.local does not match c.local');
  });

  it('reports no-offers when there is no agent', () => {
    expect(firstFit([], [task(0.1, 1)]).pending.get(0)).toEqual({ type: 'no-offers' });
  });

  it('never overcommits an agent and places every task that fits an empty cluster (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ cpus: fc.integer({ min: 1, max: 40 }), mem: fc.integer({ min: 1, max: 4096 }) }),
          {
            minLength: 1,
            maxLength: 5,
          },
        ),
        fc.array(
          fc.record({ cpus: fc.integer({ min: 1, max: 20 }), mem: fc.integer({ min: 1, max: 2048 }) }),
          {
            maxLength: 60,
          },
        ),
        (agentSpecs, taskSpecs) => {
          const agents = agentSpecs.map((a, i) => agent(`a${i}`, a.cpus / 10, a.mem));
          const tasks = taskSpecs.map((t) => task(t.cpus / 10, t.mem));
          const { placements } = firstFit(agents, tasks);
          const used = agents.map(() => s(0, 0));
          const withExecutor = agents.map(() => false);
          const placed = new Set<number>();
          for (const p of placements) {
            expect(placed.has(p.task)).toBe(false);
            placed.add(p.task);
            used[p.agent] = addScalars(used[p.agent]!, tasks[p.task]!.resources);
            if (!withExecutor[p.agent]) used[p.agent] = addScalars(used[p.agent]!, exec.resources);
            withExecutor[p.agent] = true;
          }
          agents.forEach((a, i) => {
            expect(shortOf(a.available, used[i]!)).toBeUndefined();
          });
          // First fit never leaves a task out that would fit some agent's remainder.
          tasks.forEach((t, i) => {
            if (placed.has(i)) return;
            agents.forEach((a, j) => {
              const left = {
                cpus: a.available.cpus - used[j]!.cpus,
                mem: a.available.mem - used[j]!.mem,
                disk: 0,
                gpus: 0,
              };
              const need = withExecutor[j] ? t.resources : addScalars(t.resources, exec.resources);
              expect(shortOf(left, need)).toBeDefined();
            });
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('constraintMismatch', () => {
  it('matches scalar attributes as text', () => {
    const a = {
      hostname: 'h',
      attributes: [{ name: 'rack', type: 'SCALAR' as const, scalar: { value: 3 } }],
    };
    expect(constraintMismatch({ attributes: { rack: '3' } }, a)).toBeUndefined();
    expect(constraintMismatch({ attributes: { rack: '4' } }, a)).toBe('attribute rack=3 does not match 4');
    expect(constraintMismatch({ attributes: { gpu: 'yes' } }, a)).toBe('attribute gpu missing');
  });
});

describe('ResourcePool', () => {
  const offer = (resources: string, role?: string): Offer => ({
    id: { value: 'o1' },
    framework_id: { value: 'f' },
    agent_id: { value: 'a' },
    hostname: 'h',
    resources: parseResources(resources).map((r) =>
      role === undefined
        ? { ...r, allocation_info: { role: '*' } }
        : { ...r, allocation_info: { role }, reservations: [{ type: 'STATIC', role }] },
    ),
  });

  it('sums usable scalars across offers and ignores ports', () => {
    expect(offeredScalars([offer('cpus:1;mem:100;ports:[1-2]'), offer('cpus:0.5;disk:10')])).toEqual({
      cpus: 1500,
      mem: 100_000,
      disk: 10_000,
      gpus: 0,
    });
  });

  it('takes exact pieces, keeping allocation info and reservations, across offers', () => {
    const pool = new ResourcePool([offer('cpus:0.25;mem:64', 'web'), offer('cpus:1;mem:64')]);
    const taken = pool.take(s(0.5, 100));
    expect(taken).toEqual([
      {
        name: 'cpus',
        type: 'SCALAR',
        scalar: { value: 0.25 },
        allocation_info: { role: 'web' },
        reservations: [{ type: 'STATIC', role: 'web' }],
      },
      { name: 'cpus', type: 'SCALAR', scalar: { value: 0.25 }, allocation_info: { role: '*' } },
      {
        name: 'mem',
        type: 'SCALAR',
        scalar: { value: 64 },
        allocation_info: { role: 'web' },
        reservations: [{ type: 'STATIC', role: 'web' }],
      },
      { name: 'mem', type: 'SCALAR', scalar: { value: 36 }, allocation_info: { role: '*' } },
    ]);
    expect(pool.take(s(0.75, 28)).map((r) => r.scalar?.value)).toEqual([0.75, 28]);
  });

  it('does not drift over many small takes (thousandths)', () => {
    const pool = new ResourcePool([offer('cpus:1;mem:1000')]);
    for (let i = 0; i < 10; i++) pool.take(s(0.1, 100));
    expect(pool.take(s(0.001, 0))).toEqual([]);
  });
});

describe('nodeExecutor', () => {
  it('builds the command line and ExecutorInfo', () => {
    const e = nodeExecutor({
      name: 'crawl',
      handlers: '/opt/my app/handlers.js',
      concurrency: 4,
      uris: ['https://example.com/app.tgz'],
      environment: { NODE_OPTIONS: '--max-old-space-size=256' },
    });
    const info = e.executorInfo('crawl.1');
    expect(info).toMatchObject({
      type: 'CUSTOM',
      executor_id: { value: 'crawl.1' },
      name: 'crawl',
      command: {
        shell: true,
        value: "mesoskit-executor --handlers '/opt/my app/handlers.js' --concurrency 4",
        uris: [{ value: 'https://example.com/app.tgz', extract: true }],
        environment: {
          variables: [{ name: 'NODE_OPTIONS', type: 'VALUE', value: '--max-old-space-size=256' }],
        },
      },
    });
    expect(e.resources).toEqual({ cpus: 100, mem: 64_000, disk: 0, gpus: 0 });
  });

  it('rejects bad options naming the field', () => {
    expect(() => nodeExecutor({ handlers: '' })).toThrow(/handlers/);
    expect(() => nodeExecutor({ handlers: 'h.js', name: 'no spaces' })).toThrow(/name/);
    expect(() => nodeExecutor({ handlers: 'h.js', concurrency: 0 })).toThrow(/concurrency/);
    expect(() => nodeExecutor({ handlers: 'h.js', resources: { cpus: -1 } })).toThrow(/resources.cpus/);
  });
});
