/**
 * pinspider, built, run as a child process the way a user runs it: against its own embedded
 * local cluster, with --fail-one, and with --master pointed at a local cluster this test runs.
 * The executors are the real `mesoskit-executor` processes the agents start.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { type LocalCluster, startLocalCluster } from '@mesoskit/local-cluster';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executorCliPath, shellQuote } from '../src/common/index.js';
import { runDemo, shown } from './run-demo.js';

const FINDINGS = [
  'profile ada: Ada Lovelace, 1815 followers, 2 boards (engines, notes)',
  'profile grace: Grace Hopper, 1906 followers, 2 boards (compilers, bugs)',
  'profile edsger: Edsger Dijkstra, 1930 followers, 2 boards (paths, ewd)',
  'board   ada/engines: "Analytical Engines", 3 pins',
  'board   ada/notes: "Notes on Menabrea", 2 pins',
  'board   grace/compilers: "Compilers", 4 pins',
  'board   grace/bugs: "Bugs", 1 pin',
  'board   edsger/paths: "Shortest Paths", 2 pins',
  'board   edsger/ewd: "EWD Manuscripts", 3 pins',
];

/** The finding lines of an output, without the note a finding printed from its result gets. */
function findings(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('profile ') || l.startsWith('board '))
    .map((l) => l.replace(/ \(from the result: .*\)$/, ''));
}

const DONE = /^done: 9 tasks finished \(3 profiles, 6 boards, 15 pins\) in [\d.]+s; framework torn down$/m;

describe('pinspider on its embedded local cluster', () => {
  it('crawls every user and board, prints each finding once, and exits 0', async () => {
    const r = await runDemo('pinspider', []);
    expect(r.code, shown(r)).toBe(0);
    expect(r.stdout, shown(r)).toMatch(/^local cluster: master http:\/\/127\.0\.0\.1:\d+, 1 agent$/m);
    expect(findings(r.stdout).sort(), shown(r)).toEqual([...FINDINGS].sort());
    expect(r.stdout, shown(r)).toMatch(
      /^offer 1 on agent S0 \(cpus 2, mem 2048\): launching profile-ada, profile-grace, profile-edsger$/m,
    );
    expect(r.stdout, shown(r)).toMatch(DONE);
    expect(r.stderr, shown(r)).toBe('');
  });

  it('--fail-one: aborts on the failed task with its state, reason, source and message, and exits 1', async () => {
    const r = await runDemo('pinspider', ['--fail-one']);
    expect(r.code, shown(r)).toBe(1);
    expect(r.stderr, shown(r)).toMatch(
      /^pinspider: aborting: task profile-ghost is TASK_FAILED \(reason: none, source: SOURCE_EXECUTOR\): NonRetryableError\[HTTP_404\]: GET http:\/\/127\.0\.0\.1:\d+\/ghost answered 404 Not Found$/m,
    );
    expect(r.stdout, shown(r)).not.toMatch(/^done:/m);
  });
});

describe('pinspider --master', () => {
  let cluster: LocalCluster;
  let bin: string;
  beforeAll(async () => {
    // As `npm i -g @mesoskit/executor` leaves it: a `mesoskit-executor` on the agents' PATH,
    // linked to the package's CLI.
    bin = await mkdtemp(join(tmpdir(), 'mesoskit-examples-bin-'));
    await symlink(executorCliPath(), join(bin, 'mesoskit-executor'));
    cluster = await startLocalCluster({
      agents: 2,
      executorEnvironment: { PATH: `${bin}:${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin` },
    });
  });
  afterAll(async () => {
    await cluster?.stop();
    if (bin) await rm(bin, { recursive: true, force: true });
  });

  it('runs on a master it did not start, with --executor-command, and tears its framework down', async () => {
    // A launcher that leaves a mark in the executor's sandbox stderr before starting the CLI.
    const launcher = `echo started-by-executor-command >&2; exec ${shellQuote(process.execPath)} ${shellQuote(executorCliPath())}`;
    const r = await runDemo('pinspider', ['--master', cluster.masterUrl, '--executor-command', launcher]);
    expect(r.code, shown(r)).toBe(0);
    expect(r.stdout, shown(r)).not.toContain('local cluster:');
    expect(findings(r.stdout).sort(), shown(r)).toEqual([...FINDINGS].sort());
    expect(r.stdout, shown(r)).toMatch(DONE);

    const state = (await cluster.state()) as { frameworks?: { name: string }[] };
    expect((state.frameworks ?? []).map((f) => f.name)).not.toContain('pinspider');

    const marks: string[] = [];
    for (const file of await sandboxes(cluster, 'stderr')) {
      if ((await readFile(file, 'utf8')).includes('started-by-executor-command')) marks.push(file);
    }
    expect(marks.length, 'executor sandboxes whose stderr has the launcher mark').toBeGreaterThanOrEqual(2);
  });

  it('--ship-handlers with a "globally installed" executor: agents fetch the bundled handlers into each sandbox', async () => {
    const before = await sandboxes(cluster, 'handlers.bundle.mjs');
    const r = await runDemo('pinspider', [
      '--master',
      cluster.masterUrl,
      '--ship-handlers',
      '--executor-command',
      'exec mesoskit-executor',
    ]);
    expect(r.code, shown(r)).toBe(0);
    expect(r.stdout, shown(r)).toMatch(
      /^handlers: shipped from http:\/\/127\.0\.0\.1:\d+\/handlers\.bundle\.mjs \(fetched into each executor's sandbox\)$/m,
    );
    expect(findings(r.stdout).sort(), shown(r)).toEqual([...FINDINGS].sort());
    const fetched = (await sandboxes(cluster, 'handlers.bundle.mjs')).filter((f) => !before.includes(f));
    expect(fetched.length, 'sandboxes with a fetched handlers.bundle.mjs').toBeGreaterThanOrEqual(2);
  });
});

describe('pinspider flags', () => {
  it('--help prints the flags and exits 0', async () => {
    const r = await runDemo('pinspider', ['--help']);
    expect(r.code, shown(r)).toBe(0);
    for (const flag of ['--fail-one', '--master URL', '--executor-command CMD', '--agents N']) {
      expect(r.stdout).toContain(flag);
    }
  });

  it('an unknown flag exits 2 and says which', async () => {
    const r = await runDemo('pinspider', ['--nope']);
    expect(r.code, shown(r)).toBe(2);
    expect(r.stderr).toContain("pinspider: Unknown option '--nope'");
  });
});

/** Files called `name` in the sandboxes of every agent of `cluster`. */
async function sandboxes(cluster: LocalCluster, name: string): Promise<string[]> {
  return (await Promise.all(cluster.agents.map((a) => sandboxFiles(a.workDir, name)))).flat();
}

/**
 * Files called `name` in the sandboxes under an agent's work dir (none when the agent never ran
 * an executor). Only `slaves/`, where sandboxes live: the agent's checkpoint (`meta/`) changes
 * under our feet (removed frameworks are deleted in the background).
 */
async function sandboxFiles(workDir: string, name: string): Promise<string[]> {
  const dir = join(workDir, 'slaves');
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name === name)
    .map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
}
