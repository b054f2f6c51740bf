/**
 * The local cluster end to end: a minimal raw-HTTP framework (protobuf, in this process) runs
 * no-op tasks on the test executor (protobuf; `finish-at-once`: TASK_FINISHED, no TASK_RUNNING) through
 * `mesoskit-local` (master + agent in their own process, so their CPU is measured alone from
 * /proc), one Mesos task per task, acknowledging every update. Figures: tasks/s, and master +
 * agent CPU per task.
 *
 * `MESOSKIT_BENCH_PROFILE=/some/dir pnpm bench --only local-cluster` writes a CPU profile of the
 * mesoskit-local process there (node --cpu-prof; `MESOSKIT_BENCH_PROFILE_INTERVAL` sets the sampling
 * interval in µs, default 1000); `MESOSKIT_BENCH_LOCAL_CLI=/path/to/cli.js`
 * runs another build of mesoskit-local (to compare before/after, alternating runs).
 *
 * `local-cluster.allocation`: allocation cycle time with 100 agents and 1,000 then 10,000
 * running tasks (in this process; see `allocationTimes`).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import {
  MEDIA_TYPES,
  type mesos,
  parseResources,
  RecordIODecoder,
  type SchedulerCall,
  schedulerCall,
  schedulerEvent,
} from '@mesoskit/protocol';
import { startLocalCluster } from '../packages/local-cluster/dist/index.js';
import type { AsyncBenchCase } from './harness.js';

/** `MESOSKIT_BENCH_LOCAL_CLI` runs another build of mesoskit-local (to compare before/after). */
const CLI =
  process.env.MESOSKIT_BENCH_LOCAL_CLI ??
  fileURLToPath(new URL('../packages/local-cluster/dist/cli.js', import.meta.url));
const EXECUTOR = fileURLToPath(
  new URL('../packages/local-cluster/test/agent/fixtures/test-executor.mjs', import.meta.url),
);
const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
const TASK_RESOURCES = parseResources('cpus:0.01;mem:1');
const EXECUTOR_RESOURCES = parseResources('cpus:0.1;mem:32');
const FINISH = Buffer.from(JSON.stringify({ mode: 'finish-at-once' }));
const RUN = Buffer.from(JSON.stringify({ mode: 'run' }));

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** How `startCluster()` starts mesoskit-local. */
export interface ClusterOptions {
  /** Agents in the cluster process. @default 1 */
  agents?: number;
  /** Each agent's resources (`--resources`). @default {@link DEFAULT_AGENT_RESOURCES} */
  resources?: string;
  /** The allocation interval (`--allocation-interval`). @default mesoskit-local's 50 ms */
  allocationIntervalMs?: number;
}

export const DEFAULT_AGENT_RESOURCES = 'cpus:64;mem:65536;disk:4096;ports:[31000-32000]';

/** A mesoskit-local process: its pid (master and agents; executors are its children). */
export interface BenchCluster {
  child: ChildProcess;
  url: string;
  /** SIGINT, then resolves once the process exited. */
  stop(): Promise<void>;
}

export async function startCluster(options: ClusterOptions = {}): Promise<BenchCluster> {
  const child = spawn(
    process.execPath,
    [
      ...(process.env.MESOSKIT_BENCH_PROFILE
        ? [
            '--cpu-prof',
            `--cpu-prof-dir=${process.env.MESOSKIT_BENCH_PROFILE}`,
            `--cpu-prof-interval=${process.env.MESOSKIT_BENCH_PROFILE_INTERVAL ?? 1000}`,
          ]
        : []),
      CLI,
      '--port',
      '0',
      '--agents',
      String(options.agents ?? 1),
      '--resources',
      options.resources ?? DEFAULT_AGENT_RESOURCES,
      ...(options.allocationIntervalMs === undefined
        ? []
        : ['--allocation-interval', `${options.allocationIntervalMs}ms`]),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
    await exited;
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /http:\/\/[\d.]+:\d+/.exec(out);
        if (m) resolve(m[0]);
      });
      child.once('exit', (code) =>
        reject(new Error(`mesoskit-local exited (${code}) before printing its URL`)),
      );
    });
    child.stdout!.resume();
    return { child, url, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** A raw-HTTP framework (protobuf, this process): what the cases below drive Mesos with. */
interface RawFramework {
  /** Sends a call (the framework id added); resolves on 202. */
  call(call: SchedulerCall): Promise<void>;
  /** A task for the test executor (`executorId`, one per agent) with `data` as its mode. */
  task(id: string, agentId: mesos.v1.AgentID, data: Buffer, executorId: string): mesos.v1.TaskInfo;
  /** Ends the subscription; errors of the stream after this are not reported. */
  close(): void;
}

/**
 * Subscribes a framework called `name`; hands every OFFERS event to `onOffers` and every
 * update to `onUpdate` after acknowledging it; reports a failed call or a broken subscription
 * (before `close()`) to `onError`.
 */
function rawFramework(
  url: string,
  name: string,
  handlers: {
    onOffers(offers: mesos.v1.Offer[]): void;
    onUpdate(status: mesos.v1.TaskStatus): void;
    onError(err: unknown): void;
  },
): RawFramework {
  const calls = new Agent({ keepAlive: true, maxSockets: 4 });
  let streamId = '';
  let frameworkId = '';
  let closed = false;

  const call = (c: SchedulerCall): Promise<void> =>
    new Promise((resolve, reject) => {
      const body = schedulerCall.encode({ framework_id: { value: frameworkId }, ...c }, 'protobuf');
      const req = request(
        `${url}/api/v1/scheduler`,
        {
          method: 'POST',
          agent: calls,
          headers: { 'Content-Type': MEDIA_TYPES.protobuf, 'Mesos-Stream-Id': streamId },
        },
        (res) => {
          res.resume();
          res.on('end', () =>
            res.statusCode === 202 ? resolve() : reject(new Error(`call got ${res.statusCode}`)),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  const decoder = new RecordIODecoder();
  const body = schedulerCall.encode(
    { type: 'SUBSCRIBE', subscribe: { framework_info: { user: 'bench', name } } },
    'protobuf',
  );
  const subscription = request(
    `${url}/api/v1/scheduler`,
    {
      method: 'POST',
      agent: false,
      headers: { 'Content-Type': MEDIA_TYPES.protobuf, Accept: MEDIA_TYPES.protobuf },
    },
    (res) => {
      streamId = String(res.headers['mesos-stream-id']);
      res.on('data', (chunk: Buffer) => {
        for (const record of decoder.push(chunk)) {
          const event = schedulerEvent.decode(record, 'protobuf');
          if (event.type === 'SUBSCRIBED') frameworkId = event.subscribed!.framework_id.value;
          else if (event.type === 'OFFERS') handlers.onOffers(event.offers?.offers ?? []);
          else if (event.type === 'UPDATE') {
            const status = event.update!.status;
            if (status.uuid) {
              call({
                type: 'ACKNOWLEDGE',
                acknowledge: { agent_id: status.agent_id!, task_id: status.task_id, uuid: status.uuid },
              }).catch(handlers.onError);
            }
            handlers.onUpdate(status);
          }
        }
      });
    },
  );
  subscription.on('error', (err) => {
    if (!closed) handlers.onError(err);
  });
  subscription.end(body);

  return {
    call,
    task: (id, agentId, data, executorId) => ({
      name: id,
      task_id: { value: id },
      agent_id: agentId,
      resources: TASK_RESOURCES,
      data,
      executor: {
        executor_id: { value: executorId },
        framework_id: { value: frameworkId },
        command: {
          value: `exec node ${EXECUTOR}`,
          // Protobuf on the executor's side too, as the framework speaks it.
          environment: { variables: [{ name: 'TEST_EXECUTOR_ENCODING', value: 'protobuf' }] },
        },
        resources: EXECUTOR_RESOURCES,
      },
    }),
    close() {
      closed = true;
      subscription.destroy();
      calls.destroy();
    },
  };
}

/** Runs `total` no-op tasks; resolves with the seconds taken by the last `measured` of them. */
async function runTasks(url: string, total: number, measured: number, pid: number) {
  let launched = 0;
  let finished = 0;
  let executorRunning = false;
  let startTime = 0n;
  let startCpu = 0;
  let framework: RawFramework | undefined;
  try {
    return await new Promise<{ seconds: number; cpu: number }>((resolve, reject) => {
      framework = rawFramework(url, 'bench', {
        onError: reject,
        onOffers(offers) {
          for (const offer of offers) {
            const cpus = (offer.resources ?? []).find((r) => r.name === 'cpus')?.scalar?.value ?? 0;
            const executorCost = executorRunning ? 0 : 0.1;
            const fit = Math.floor((cpus - executorCost) / 0.01);
            const count = Math.max(0, Math.min(total - launched, fit));
            const tasks: mesos.v1.TaskInfo[] = [];
            for (let i = 0; i < count; i++)
              tasks.push(framework!.task(`t${launched++}`, offer.agent_id, FINISH, 'bench'));
            if (tasks.length > 0) executorRunning = true;
            framework!
              .call({
                type: 'ACCEPT',
                accept: {
                  offer_ids: [offer.id],
                  operations: tasks.length > 0 ? [{ type: 'LAUNCH', launch: { task_infos: tasks } }] : [],
                  filters: { refuse_seconds: 0 },
                },
              })
              .catch(reject);
          }
        },
        onUpdate(status) {
          if (status.state === 'TASK_FINISHED') {
            finished++;
            if (finished === total - measured) {
              startTime = process.hrtime.bigint();
              startCpu = cpuSeconds(pid);
            }
            if (finished === total) {
              const seconds = Number(process.hrtime.bigint() - startTime) / 1e9;
              resolve({ seconds, cpu: cpuSeconds(pid) - startCpu });
            }
          } else if (status.state !== 'TASK_RUNNING' && status.state !== 'TASK_STARTING') {
            reject(new Error(`task ${status.task_id.value} ended ${status.state}: ${status.message}`));
          }
        },
      });
    });
  } finally {
    framework?.close();
  }
}

/**
 * Allocation cycle time against the number of running tasks: an in-process cluster of `agents`
 * agents (one test executor each), a raw-HTTP framework that brings the running tasks up to
 * each of `stages` (spread evenly over the agents, tasks that keep running), then declines
 * every offer (`refuse_seconds: 0`) for `samples` cycles, reading each cycle's duration from
 * `/metrics/snapshot` (`allocator/mesos/allocation_run_ms`, offers built and sent included).
 * Resolves with the median cycle time (ms) at each stage.
 */
async function allocationTimes(agents: number, stages: number[], samples: number): Promise<number[]> {
  const cluster = await startLocalCluster({
    agents,
    resources: 'cpus:4;mem:8192;disk:4096;ports:[31000-32000]',
    allocationIntervalMs: 10,
  });
  const url = cluster.masterUrl;
  let stage = 0;
  let launched = 0;
  let running = 0;
  let lastRuns = -1;
  let times: number[] = [];
  const medians: number[] = [];
  const perAgent = new Map<string, number>();
  let framework: RawFramework | undefined;

  const metrics = async (): Promise<Record<string, number>> => {
    const res = await fetch(`${url}/metrics/snapshot`);
    return (await res.json()) as Record<string, number>;
  };

  try {
    return await new Promise<number[]>((resolve, reject) => {
      const decline = (offers: mesos.v1.Offer[]): Promise<void> =>
        framework!.call({
          type: 'DECLINE',
          decline: { offer_ids: offers.map((o) => o.id), filters: { refuse_seconds: 0 } },
        });

      const onOffers = async (offers: mesos.v1.Offer[]): Promise<void> => {
        if (stage === stages.length) return;
        const target = stages[stage]!;
        if (running < target) {
          const idle: mesos.v1.Offer[] = [];
          for (const offer of offers) {
            const agentId = offer.agent_id.value;
            const onAgent = perAgent.get(agentId) ?? 0;
            const count = Math.min(Math.ceil(target / agents) - onAgent, target - launched);
            if (count <= 0) {
              idle.push(offer);
              continue;
            }
            const tasks: mesos.v1.TaskInfo[] = [];
            for (let i = 0; i < count; i++)
              tasks.push(framework!.task(`a${launched++}`, offer.agent_id, RUN, 'alloc'));
            perAgent.set(agentId, onAgent + count);
            await framework!.call({
              type: 'ACCEPT',
              accept: {
                offer_ids: [offer.id],
                operations: [{ type: 'LAUNCH', launch: { task_infos: tasks } }],
                filters: { refuse_seconds: 0 },
              },
            });
          }
          if (idle.length > 0) await decline(idle);
          return;
        }
        // Every task of this stage runs: this OFFERS event came from one cycle; time it.
        const m = await metrics();
        const runs = m['allocator/mesos/allocation_runs']!;
        if (runs === lastRuns + 1) times.push(m['allocator/mesos/allocation_run_ms']!);
        lastRuns = runs;
        if (times.length >= samples) {
          stage++;
          const sorted = [...times].sort((a, b) => a - b);
          medians.push(sorted[Math.floor(sorted.length / 2)]!);
          times = [];
          lastRuns = -1;
          if (stage === stages.length) {
            resolve(medians);
            return;
          }
        }
        await decline(offers);
      };

      framework = rawFramework(url, 'bench-alloc', {
        onError: reject,
        onOffers: (offers) => void onOffers(offers).catch(reject),
        onUpdate(status) {
          if (status.state === 'TASK_RUNNING') running++;
          else if (status.state !== 'TASK_STARTING') {
            reject(new Error(`task ${status.task_id.value} ended ${status.state}: ${status.message}`));
          }
        },
      });
    });
  } finally {
    framework?.close();
    await cluster.stop();
  }
}

export const localClusterCases: AsyncBenchCase[] = [
  {
    name: 'local-cluster.noop-tasks',
    figures: { 'tasks/s': 'tasks/s', 'cpu-us-per-task': 'µs master+agent CPU per task' },
    targets: { 'cpu-us-per-task': { max: 130, text: '≤ 130 µs' } },
    async run(quick) {
      // Measured after a warm-up (the cluster's JIT settles only after some thousands of tasks:
      // after 100, the next 2,000 cost ~550 µs each instead of ~300).
      const measured = quick ? 200 : 10_000;
      const warm = quick ? 100 : 10_000;
      const cluster = await startCluster();
      try {
        const { seconds, cpu } = await runTasks(cluster.url, measured + warm, measured, cluster.child.pid!);
        return { 'tasks/s': measured / seconds, 'cpu-us-per-task': (cpu / measured) * 1e6 };
      } finally {
        await cluster.stop();
      }
    },
  },
  {
    name: 'local-cluster.allocation',
    figures: {
      'us-small': 'µs allocation cycle, 1,000 running tasks on 100 agents (quick: 100 on 10)',
      'us-large': 'µs allocation cycle, 10,000 running tasks on 100 agents (quick: 500 on 10)',
      'large/small-percent': '% cycle time at 10,000 tasks vs 1,000 (flat: ≈ 100)',
    },
    async run(quick) {
      const [small, large] = quick
        ? await allocationTimes(10, [100, 500], 5)
        : await allocationTimes(100, [1000, 10_000], 30);
      return {
        'us-small': small! * 1000,
        'us-large': large! * 1000,
        'large/small-percent': (large! / small!) * 100,
      };
    },
  },
];
