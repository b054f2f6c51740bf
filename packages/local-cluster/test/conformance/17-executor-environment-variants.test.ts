/**
 * Capture 17: a checkpointing framework. The command task's environment (`env | sort`) and
 * both custom executors' environments (shell and `shell: false` with arguments) hold exactly
 * the variables Mesos gives, with MESOS_CHECKPOINT=1, MESOS_RECOVERY_TIMEOUT=15mins and
 * MESOS_SUBSCRIPTION_BACKOFF_MAX=2secs; `arguments` reach argv unchanged.
 */
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { fixturePath } from './capture.js';
import { capturedEnv, capturedExecutorId, capturedRuns, compareExecutorRun } from './executor-side.js';
import { conformance } from './harness.js';
import { runScenario } from './replay.js';

const SCENARIO = '17-executor-environment-variants';
const setup = conformance();

/** Values that do not depend on ids, paths or ports: compared as they are. */
const FIXED = [
  'LIBPROCESS_IP',
  'LIBPROCESS_PORT',
  'MESOS_ALLOCATION_ROLE',
  'MESOS_CHECKPOINT',
  'MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD',
  'MESOS_HTTP_COMMAND_EXECUTOR',
  'MESOS_RECOVERY_TIMEOUT',
  'MESOS_SUBSCRIPTION_BACKOFF_MAX',
  'PATH',
];

function parseEnv(text: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m && !env.has(m[1]!)) env.set(m[1]!, m[2]!);
  }
  return env;
}

function compareEnv(
  actual: Map<string, string>,
  expected: Map<string, string>,
  map: (s: string) => string,
  what: string,
): void {
  expect([...actual.keys()].sort(), `${what}: variable names`).toEqual([...expected.keys()].sort());
  for (const k of FIXED) if (expected.has(k)) expect(actual.get(k), `${what}: ${k}`).toBe(expected.get(k));
  for (const k of ['MESOS_FRAMEWORK_ID', 'MESOS_SLAVE_ID', 'MESOS_EXECUTOR_ID']) {
    expect(actual.get(k), `${what}: ${k}`).toBe(map(expected.get(k)!));
  }
  expect(actual.get('MESOS_DIRECTORY'), `${what}: MESOS_DIRECTORY`).toBe(actual.get('MESOS_SANDBOX'));
  expect(actual.get('MESOS_SLAVE_PID'), `${what}: MESOS_SLAVE_PID`).toMatch(/^slave\(1\)@127\.0\.0\.1:\d+$/);
  expect(actual.get('MESOS_AGENT_ENDPOINT'), `${what}: MESOS_AGENT_ENDPOINT`).toMatch(/^127\.0\.0\.1:\d+$/);
}

it(`conformance: ${SCENARIO}`, async () => {
  const { cluster, replay, out } = await setup(SCENARIO);
  await runScenario(replay);

  // a. The command task: its own process sees the executor env plus MESOS_ALLOCATION_ROLE.
  const agent = cluster.agents[0]!;
  const fw = replay.stream('subscribe').events[0]!.subscribed!.framework_id.value;
  const sandbox = join(
    agent.workDir,
    'slaves',
    agent.id,
    'frameworks',
    fw,
    'executors',
    'envtask',
    'runs',
    'latest',
  );
  const stdout = readFileSync(join(sandbox, 'stdout'), 'utf8');
  const captured = readFileSync(fixturePath(SCENARIO, 'command-task-envtask-stdout.txt'), 'utf8');
  const local = parseEnv(stdout);
  compareEnv(local, parseEnv(captured), (s) => replay.map(s), 'command task');
  expect(local.get('PWD')).toBe(local.get('MESOS_SANDBOX'));
  expect(stdout).toContain('ARGS: sh \n');

  // With checkpointing the agent writes its state under <work_dir>/meta, for recovery after a
  // restart, in the tree Mesos uses (agent-meta-layout.txt), but for the tasks of a run: a
  // log (`tasks.1.log`, …) where Mesos has a directory per task (a listed difference).
  expect(metaLayout(agent.workDir)).toEqual(capturedMetaLayout());

  // b, c. The custom executors (shell, and shell=false with arguments). They got SHUTDOWN when
  // the capture's scheduler went away (failover_timeout 0): so does ours.
  replay.stream('subscribe').close();
  for (const dir of capturedRuns(SCENARIO)) {
    const run = await compareExecutorRun(replay, dir, out);
    const expected = capturedEnv(SCENARIO, dir);
    const what = `executor ${capturedExecutorId(SCENARIO, dir)}`;
    compareEnv(
      new Map(Object.entries(run.env)),
      new Map(Object.entries(expected.env)),
      (s) => replay.map(s),
      what,
    );
    expect(run.argv, `${what}: argv`).toEqual(expected.argv.map((a) => replay.map(a)));
    expect(run.cwd, `${what}: cwd`).toBe(run.env.MESOS_SANDBOX);
  }
});

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/** Ids out of a meta path: agent, framework and container ids vary between runs. */
function normalize(path: string): string {
  return path
    .replace(new RegExp(`${UUID}-S\\d+`, 'g'), '<agent>')
    .replace(new RegExp(`${UUID}-\\d{4}`, 'g'), '<framework>')
    .replace(new RegExp(UUID, 'g'), '<container>');
}

/**
 * What neither side is compared on: Mesos-only files (the resource provider registry, the
 * scheduler's libprocess pid, the command executor's libprocess pid) and `executor.sentinel`,
 * which depends on whether an executor had ended when the tree was listed.
 */
const IGNORED = /resource_provider_registry|framework\.pid|libprocess\.pid|executor\.sentinel/;

/** A run's `tasks/` directory in Mesos' tree, and anything in it. */
const TASK_DIRS = /(\/runs\/<container>)\/tasks(\/.*)?$/;

function capturedMetaLayout(): string[] {
  const lines = readFileSync(fixturePath(SCENARIO, 'agent-meta-layout.txt'), 'utf8')
    .split('\n')
    .filter((line) => line && !IGNORED.test(line))
    .map(normalize)
    // Ours: `runs/<container>/tasks.1.log` for the whole `tasks/` directory.
    .map((line) => line.replace(TASK_DIRS, '$1/tasks.1.log'));
  return [...new Set(lines)].sort();
}

function metaLayout(workDir: string): string[] {
  const out: string[] = [];
  const walk = (relative: string): void => {
    out.push(relative);
    const full = join(workDir, relative);
    if (!lstatSync(full).isDirectory()) return;
    for (const name of readdirSync(full)) walk(`${relative}/${name}`);
  };
  walk('meta');
  return out
    .filter((line) => !IGNORED.test(line))
    .map(normalize)
    .sort();
}
