/**
 * The executor side of a scenario: what `capture-executor.mjs` recorded under the local
 * cluster, compared with what the real capture executor recorded under Mesos
 * (`executor-side/executor-<pid>/`).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { executorCall, executorEvent, type mesos } from '@mesoskit/protocol';
import { expect } from 'vitest';
import { waitFor } from '../agent/helpers.js';
import {
  fixturePath,
  hasFixture,
  readBody,
  readHead,
  readRecords,
  readRequest,
  requestBody,
} from './capture.js';
import { keyOrder, normalize, type Replay } from './replay.js';

export const CAPTURE_EXECUTOR = fileURLToPath(new URL('./capture-executor.mjs', import.meta.url));
const LOCAL_FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const PROTOCOL_FIXTURES = fileURLToPath(
  new URL('../../../protocol/test/fixtures/real-mesos/', import.meta.url),
);

/** Where the captures' executor lived, and the rewrites that point it at ours. */
export function executorRewrites(scenario: string, outDir: string): [string, string][] {
  const script = '/srv/mesos-cap/hidden/captures/capture-executor.js';
  return [
    [`/srv/mesos-cap/shared/real-mesos/${scenario}/executor-side`, outDir],
    ['/srv/mesos-cap/hidden/captures/capture-executor-pb.js', `${CAPTURE_EXECUTOR} --protobuf`],
    [script, CAPTURE_EXECUTOR],
    ['/usr/bin/node', process.execPath],
  ];
}

export function tempOut(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'mesoskit-conformance-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

interface LogEntry {
  kind: 'event' | 'response' | 'subscribe' | 'end';
  stream?: number;
  record?: string;
  name?: string;
  status?: number;
  contentType?: string | null;
  body?: string;
  headers?: Record<string, string>;
}

/** One local executor run, as recorded by capture-executor.mjs. */
export interface LocalExecutorRun {
  pid: number;
  env: Record<string, string>;
  argv: string[];
  cwd: string;
  log: LogEntry[];
}

export function localRuns(outDir: string): LocalExecutorRun[] {
  const runs: LocalExecutorRun[] = [];
  for (const f of readdirSync(outDir)) {
    const m = /^executor-env-(\d+)\.json$/.exec(f);
    if (!m) continue;
    const pid = Number(m[1]);
    const dump = JSON.parse(readFileSync(join(outDir, f), 'utf8')) as Omit<LocalExecutorRun, 'pid' | 'log'>;
    const logFile = join(outDir, `executor-${pid}.jsonl`);
    const log = existsSync(logFile)
      ? readFileSync(logFile, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as LogEntry)
      : [];
    runs.push({ pid, ...dump, log });
  }
  return runs;
}

/** The run of executor `executorId` (waits for nothing: call once the scenario is over). */
export function localRun(outDir: string, executorId: string): LocalExecutorRun {
  const run = localRuns(outDir).find((r) => r.env.MESOS_EXECUTOR_ID === executorId);
  if (!run) throw new Error(`no local run of executor ${executorId} recorded in ${outDir}`);
  return run;
}

/** Captured executor-side folders (`executor-<pid>`) of a scenario. */
export function capturedRuns(scenario: string): string[] {
  const dirs = new Set<string>();
  for (const root of [LOCAL_FIXTURES, PROTOCOL_FIXTURES]) {
    const d = join(root, scenario, 'executor-side');
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d)) if (/^executor-(pb-)?\d+$/.test(f)) dirs.add(`executor-side/${f}`);
  }
  return [...dirs].sort();
}

function listFiles(scenario: string, dir: string): string[] {
  const files = new Set<string>();
  for (const root of [LOCAL_FIXTURES, PROTOCOL_FIXTURES]) {
    const d = join(root, scenario, dir);
    if (existsSync(d)) for (const f of readdirSync(d)) files.add(f);
  }
  return [...files].sort();
}

function decodeCall(scenario: string, name: string): mesos.v1.executor.Call {
  const req = readRequest(scenario, name);
  const ct = req.headers.find(([k]) => k.toLowerCase() === 'content-type')?.[1];
  return executorCall.decode(requestBody(req), ct === 'application/x-protobuf' ? 'protobuf' : 'json');
}

function isExecutorSubscribe(scenario: string, name: string): boolean {
  return decodeCall(scenario, name).type === 'SUBSCRIBE';
}

/** The executor id a captured run subscribed with. */
export function capturedExecutorId(scenario: string, dir: string): string {
  const first = listFiles(scenario, dir).find((f) => f.endsWith('.request.json'))!;
  return decodeCall(scenario, `${dir}/${first.replace('.request.json', '')}`).executor_id.value;
}

function eventJson(record: Uint8Array, encoding: 'json' | 'protobuf'): Record<string, unknown> {
  const bytes =
    encoding === 'json' ? record : executorEvent.encode(executorEvent.decode(record, 'protobuf'), 'json');
  return JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
}

export interface CompareExecutorOptions {
  /** Captured subscription files to compare, in stream order (default: every `*subscribe*` with a stream). */
  streams?: string[];
  /** Normalise each event further before comparing (both sides). */
  patch?: (event: Record<string, unknown>) => void;
}

/**
 * Compares one captured executor run with the local one: the SUBSCRIBE response heads, every
 * event (normalised, ids rewritten), and the status and body of every call it made.
 */
export async function compareExecutorRun(
  replay: Replay,
  dir: string,
  outDir: string,
  options: CompareExecutorOptions = {},
): Promise<LocalExecutorRun> {
  const scenario = replay.scenario;
  const files = listFiles(scenario, dir);
  const subs =
    options.streams ??
    files.filter((f) => f.endsWith('.stream.bin')).map((f) => f.replace('.stream.bin', ''));
  const executorId = capturedExecutorId(scenario, dir);
  const callFiles = files
    .filter((x) => x.endsWith('.request.json'))
    .map((f) => f.replace('.request.json', ''))
    .filter((f) => !isExecutorSubscribe(scenario, `${dir}/${f}`));
  const calls = callFiles.map((f) => f.replace(/^\d+-/, ''));
  const counts = subs.map((sub) => readRecords(scenario, `${dir}/${sub}`).length);
  // Wait (polling the executor's log file) until it recorded every event and call response.
  const run = await waitFor(
    `executor ${executorId} to record ${counts.join('+')} events and responses to ${calls.join(', ')}`,
    () => {
      const r = localRuns(outDir).find((x) => x.env.MESOS_EXECUTOR_ID === executorId);
      if (!r) return undefined;
      const events = counts.every(
        (n, i) => r.log.filter((e) => e.kind === 'event' && e.stream === i + 1).length >= n,
      );
      const responses = calls.every((c) => r.log.some((e) => e.kind === 'response' && e.name === c));
      return events && responses ? r : undefined;
    },
    10_000,
  );
  subs.forEach((sub, i) => {
    const name = `${dir}/${sub}`;
    const head = readHead(scenario, name);
    const local = run.log.find((e) => e.kind === 'subscribe' && e.stream === i + 1);
    expect(local, `${name}: local subscription ${i + 1}`).toBeDefined();
    expect(local!.status, `${name}: status`).toBe(head.status);
    expect(local!.headers?.['content-type'], `${name}: Content-Type`).toBe(head.headers['content-type']);
    expect('mesos-stream-id' in local!.headers!, `${name}: Mesos-Stream-Id present`).toBe(false);
    expect(local!.headers?.['transfer-encoding'], `${name}: Transfer-Encoding`).toBe(
      head.headers['transfer-encoding'],
    );
    const encoding = head.headers['content-type'] === 'application/x-protobuf' ? 'protobuf' : 'json';
    const expected = readRecords(scenario, name).map((r) => eventJson(r, encoding));
    const actual = run.log
      .filter((e) => e.kind === 'event' && e.stream === i + 1)
      .map((e) => eventJson(Buffer.from(e.record!, 'base64'), encoding));
    const types = (l: Record<string, unknown>[]) => l.map((e) => String(e.type));
    expect(types(actual), `${name}: executor event types`).toEqual(types(expected));
    for (let k = 0; k < expected.length; k++) {
      const exp = replay.rewrite(expected[k]!);
      const act = actual[k]!;
      options.patch?.(exp);
      options.patch?.(act);
      if (encoding === 'json') {
        expect(keyOrder(act), `${name}: key order of executor event #${k + 1}`).toEqual(keyOrder(exp));
      }
      expect(normalizeExecutor(act), `${name}: executor event #${k + 1} ${String(exp.type)}`).toEqual(
        normalizeExecutor(exp),
      );
    }
  });
  // Every call the captured executor made, by name: status, Content-Type and body.
  for (const file of callFiles) {
    const name = `${dir}/${file}`;
    const callName = file.replace(/^\d+-/, '');
    const local = run.log.find((e) => e.kind === 'response' && e.name === callName);
    expect(local, `${name}: the local executor made this call`).toBeDefined();
    const head = readHead(scenario, name);
    expect(local!.status, `${name}: status`).toBe(head.status);
    expect(local!.contentType ?? undefined, `${name}: Content-Type`).toBe(head.headers['content-type']);
    expect(local!.body, `${name}: body`).toBe(replay.map(readBody(scenario, name).toString()));
  }
  // The environment: the same variable names (the agent's own environment is not inherited).
  if (hasCapturedEnv(scenario, dir)) {
    const expected = capturedEnv(scenario, dir).env;
    expect(Object.keys(run.env).sort(), `${dir}: environment variable names`).toEqual(
      Object.keys(expected).sort(),
    );
  }
  return run;
}

/** Executor events: like scheduler events, plus agent ports and the sandbox-dependent values. */
function normalizeExecutor(event: Record<string, unknown>): unknown {
  return normalize(event);
}

/** The captured executor's environment dump for a pid folder (`executor-env-<pid>.json`). */
export function capturedEnv(
  scenario: string,
  dir: string,
): { argv: string[]; cwd: string; env: Record<string, string> } {
  const pid = /(\d+)$/.exec(dir)![1];
  return JSON.parse(readFileSync(fixturePath(scenario, `executor-side/executor-env-${pid}.json`), 'utf8'));
}

export function hasCapturedEnv(scenario: string, dir: string): boolean {
  const pid = /(\d+)$/.exec(dir)![1];
  return hasFixture(scenario, `executor-side/executor-env-${pid}.json`);
}

export type { mesos };
