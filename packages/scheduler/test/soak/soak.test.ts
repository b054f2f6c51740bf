/**
 * Soak (manual: `pnpm test:soak`, 30 minutes by default): continuous submission of small tasks
 * through the TaskScheduler at a fixed rate, with the master and the agent each in its own
 * process (`mesoskit-local --no-agents` and `mesoskit-local agent`), and the real
 * mesoskit-executor. RSS is sampled in the scheduler (this process), the master, the agent and
 * the executor; after the warm-up (the first sixth) no process may grow more than 10 %.
 *
 * MESOSKIT_SOAK_MINUTES (default 30) and MESOSKIT_SOAK_RATE (tasks/s, default 1000: about half
 * the benchmarked throughput on the 2-core dev machine). Skipped unless MESOSKIT_SOAK is set.
 *
 * Every failed task is kept with its error (class, message, code, cause chain, attempts) and the
 * scheduler's log lines about it; the end prints them grouped and the test fails with that
 * summary. MESOSKIT_SOAK_LOG_DIR=dir writes the master's and the agent's logs there
 * (MESOSKIT_SOAK_CLUSTER_LOG_LEVEL, default debug) to look the failed task ids up in.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '@mesoskit/protocol';
import { expect, it } from 'vitest';
import { TaskScheduler } from '../../src/index.js';
import { work } from '../fixtures/handlers/tasks.js';
import { testExecutor, within } from '../helpers/executor.js';
import { FailureLog } from './failures.js';

const MINUTES = Number(process.env.MESOSKIT_SOAK_MINUTES ?? 30);
const RATE = Number(process.env.MESOSKIT_SOAK_RATE ?? 1000);
const LOG_DIR = process.env.MESOSKIT_SOAK_LOG_DIR;
const CLUSTER_LOG_LEVEL = process.env.MESOSKIT_SOAK_CLUSTER_LOG_LEVEL ?? 'debug';
const CLI = fileURLToPath(new URL('../../../local-cluster/dist/cli.js', import.meta.url));

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(line?.replace(/\D+/g, '') ?? 0) / 1024;
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * The scheduler's log, kept per task: the lines naming a task (its id, or an attempt's
 * `<id>.<attempt>`) until it succeeds (for at most 10,000 tasks at once), the first 1,000 warn
 * and error lines, and the last 200 other lines.
 */
class SoakLog {
  readonly byTask = new Map<string, string[]>();
  readonly warnings: string[] = [];
  readonly recent: string[] = [];
  /** Entries by level and message, e.g. `info killing a task this scheduler does not track`. */
  readonly counts: Record<string, number> = {};
  /** The first entry of each level and message. */
  readonly firsts: Record<string, string> = {};
  readonly logger: Logger;

  constructor() {
    const make =
      (level: keyof Logger) =>
      (message: string, meta?: Record<string, unknown>): void => {
        const line = `${new Date().toISOString()} ${level} ${message} ${JSON.stringify(
          meta ?? {},
          (_k, v: unknown) =>
            v instanceof Error ? { name: v.name, message: v.message } : typeof v === 'bigint' ? String(v) : v,
        )}`;
        const kind = `${level} ${message}`;
        this.counts[kind] = (this.counts[kind] ?? 0) + 1;
        this.firsts[kind] ??= line;
        if ((level === 'warn' || level === 'error') && this.warnings.length < 1000) this.warnings.push(line);
        const id = meta?.taskId;
        if (typeof id === 'string') {
          const key = id.replace(/\.\d+$/, '');
          let lines = this.byTask.get(key);
          if (lines === undefined) {
            // Bounded: lines about a task that already settled (an orphan's kill) are never read.
            if (this.byTask.size >= 10_000) return;
            lines = [];
            this.byTask.set(key, lines);
          }
          if (lines.length < 50) lines.push(line);
        } else {
          this.recent.push(line);
          if (this.recent.length > 200) this.recent.shift();
        }
      };
    this.logger = {
      trace: make('trace'),
      debug: make('debug'),
      info: make('info'),
      warn: make('warn'),
      error: make('error'),
    };
  }
}

/** SIGINTs a CLI process and waits for it to exit. */
function stopProcess(child: ChildProcess, name: string): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGINT');
  return within(exited, 30_000, `mesoskit-local ${name} did not exit on SIGINT`);
}

/** Starts a CLI process and resolves with the first line matching `pattern`. */
function startProcess(
  args: string[],
  pattern: RegExp,
  logFile?: string,
): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const fd = logFile === undefined ? undefined : openSync(logFile, 'a');
  const child = spawn(
    process.execPath,
    [CLI, ...args, ...(fd === undefined ? [] : ['--log-level', CLUSTER_LOG_LEVEL])],
    { stdio: ['ignore', 'pipe', fd ?? 'inherit'] },
  );
  if (fd !== undefined) closeSync(fd);
  return within(
    new Promise((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = pattern.exec(out);
        if (m) resolve({ child, match: m });
      });
      child.once('exit', (code) => reject(new Error(`mesoskit-local ${args[0]} exited (${code}): ${out}`)));
    }),
    30_000,
    `mesoskit-local ${args.join(' ')} did not start`,
  );
}

it.skipIf(!process.env.MESOSKIT_SOAK)(
  `soak: ${MINUTES} min at ${RATE} tasks/s, RSS growth after warm-up under 10 % everywhere`,
  async () => {
    const workDir = await mkdtemp(join(tmpdir(), 'mesoskit-soak-'));
    if (LOG_DIR !== undefined) mkdirSync(LOG_DIR, { recursive: true });
    const { child: master, match } = await startProcess(
      ['--port', '0', '--no-agents'],
      /http:\/\/[\d.]+:\d+/,
      LOG_DIR && join(LOG_DIR, 'master.log'),
    );
    const masterUrl = match[0];
    const { child: agent } = await startProcess(
      [
        'agent',
        '--master',
        masterUrl,
        '--port',
        '0',
        '--work-dir',
        workDir,
        '--resources',
        'cpus:16;mem:16384;disk:4096;ports:[31000-32000]',
      ],
      /registered with/,
      LOG_DIR && join(LOG_DIR, 'agent.log'),
    );
    const log = new SoakLog();
    const failures = new FailureLog();
    const scheduler = await TaskScheduler.connect({
      master: masterUrl,
      framework: { name: 'soak' },
      logger: log.logger,
      executors: testExecutor({ concurrency: 256 }),
    });
    const samples: { t: number; scheduler: number; master: number; agent: number; executor: number }[] = [];
    const end = Date.now() + MINUTES * 60_000;
    let submitted = 0;
    let settled = 0;
    let onDrained: (() => void) | undefined;
    const settle = (): void => {
      settled++;
      if (settled === submitted) onDrained?.();
    };
    const sample = (): void => {
      const executors = childrenOf(agent.pid!);
      samples.push({
        t: Date.now(),
        scheduler: process.memoryUsage.rss() / 2 ** 20,
        master: rssMb(master.pid!),
        agent: rssMb(agent.pid!),
        executor: executors.reduce((s, pid) => s + rssMb(pid), 0),
      });
    };
    const sampler = setInterval(sample, 10_000);
    let counters: ReturnType<TaskScheduler['counters']> | undefined;
    const reportFailures = (): void => {
      if (failures.count === 0) return;
      const logs = failures.records
        .slice(0, 20)
        .map((r) =>
          [`  ${r.taskId}:`, ...(log.byTask.get(r.taskId) ?? ['    (no log line)'])].join('\n    '),
        );
      console.log(
        [
          failures.summary(),
          'scheduler log of the first failed tasks:',
          ...logs,
          `scheduler warnings (${log.warnings.length}):`,
          ...log.warnings.slice(0, 50),
          LOG_DIR
            ? `master and agent logs: ${LOG_DIR}`
            : 'set MESOSKIT_SOAK_LOG_DIR for the master and agent logs',
        ].join('\n'),
      );
    };
    try {
      // Submit in 10 ms slices at RATE, never more than 4 × RATE unsettled.
      while (Date.now() < end) {
        const slice = Math.max(1, Math.round(RATE / 100));
        for (let i = 0; i < slice && submitted - settled < 4 * RATE; i++) {
          const n = submitted++;
          const handle = scheduler.submit(work, { n, ms: 1 });
          handle.result().then(
            (out) => {
              if (out.square !== n * n || out.n !== n) {
                failures.add(handle.taskId, n, new Error(`wrong result ${JSON.stringify(out)} for n=${n}`));
              } else {
                log.byTask.delete(handle.taskId);
              }
              settle();
            },
            (err: unknown) => {
              failures.add(handle.taskId, n, err);
              settle();
            },
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      if (settled < submitted) {
        await within(
          new Promise<void>((resolve) => {
            onDrained = resolve;
          }),
          120_000,
          'not every submitted task settled at the end',
        );
      }
      sample();
    } finally {
      clearInterval(sampler);
      counters = scheduler.counters();
      // Reported here too, so a drain that times out still shows what failed.
      reportFailures();
      await scheduler.stop({ teardown: true });
      await Promise.all([stopProcess(master, 'master'), stopProcess(agent, 'agent')]);
      await rm(workDir, { recursive: true, force: true, maxRetries: 5 });
    }
    const warm = samples.filter((s) => s.t >= samples[0]!.t + (MINUTES * 60_000) / 6);
    const first = warm[0]!;
    const last = warm.at(-1)!;
    const growth = Object.fromEntries(
      (['scheduler', 'master', 'agent', 'executor'] as const).map((k) => [
        k,
        ((last[k] - first[k]) / first[k]) * 100,
      ]),
    );
    const figures = {
      minutes: MINUTES,
      rate: RATE,
      submitted,
      failed: failures.count,
      counters,
      schedulerLog: log.counts,
      schedulerLogFirsts: log.firsts,
      rssAfterWarmupMb: Object.fromEntries(
        Object.entries(first)
          .filter(([k]) => k !== 't')
          .map(([k, v]) => [k, Math.round(v)]),
      ),
      rssAtEndMb: Object.fromEntries(
        Object.entries(last)
          .filter(([k]) => k !== 't')
          .map(([k, v]) => [k, Math.round(v)]),
      ),
      growthPct: Object.fromEntries(Object.entries(growth).map(([k, v]) => [k, Math.round(v * 10) / 10])),
    };
    console.log('soak figures', JSON.stringify(figures));
    const summary = failures.summary();
    expect.soft(failures.count, summary).toBe(0);
    for (const [k, v] of Object.entries(growth))
      expect.soft(v, `${k} RSS grew ${v.toFixed(1)} %`).toBeLessThan(10);
  },
  (MINUTES + 10) * 60_000,
);
