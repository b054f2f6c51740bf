/**
 * The published packages as a user gets them: `pnpm pack` each one (workspace: ranges become
 * real versions), `npm install` the tarballs into a fresh directory outside the workspace,
 * `npm i -g --prefix` the executor into an "agent" prefix as an operator would, then run a small
 * framework (test/app/) that imports only the installed packages and runs tasks on the local
 * cluster through the globally installed `mesoskit-executor`.
 *
 * Needs every published package built (turbo's `^build`), `pnpm` and `npm` on PATH, and the npm
 * registry for the third-party dependencies (@msgpack/msgpack, protobufjs); turbo.json passes
 * the network settings (proxies, CA certificates, npm_config_*) through turbo's strict env.
 */
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const PACKAGES_DIR = fileURLToPath(new URL('../../', import.meta.url));
const APP_DIR = fileURLToPath(new URL('./app/', import.meta.url));
const PUBLISHED = ['protocol', 'scheduler', 'executor', 'local-cluster'] as const;

interface Output {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The environment of the child processes: ours without what pnpm and vitest set for their own
 * children (a pnpm user agent or package name would confuse npm; `NODE_PATH`/`NODE_OPTIONS` could
 * let the workspace's modules in). A CI's own npm settings (`npm_config_registry`, a cache) stay.
 */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  const drop =
    /^(npm_(lifecycle|package)_|npm_(command|execpath|node_execpath|config_user_agent)$|pnpm_|NODE_PATH$|NODE_OPTIONS$|VITEST)/i;
  for (const [key, value] of Object.entries(process.env)) if (!drop.test(key)) env[key] = value;
  env.npm_config_update_notifier = 'false';
  return env;
}

/**
 * Runs one step and resolves with its output when it exits 0. Rejects with the step's name, its
 * command line and everything it printed when it fails or outlives `timeoutMs` (then killed).
 */
function step(
  name: string,
  command: string,
  args: string[],
  options: { cwd: string; timeoutMs: number },
): Promise<Output> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const shown = () => `$ ${command} ${args.join(' ')}\n--- stdout\n${stdout}--- stderr\n${stderr}`;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name}: did not finish within ${options.timeoutMs / 1000} s\n${shown()}`));
    }, options.timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${name}: could not start ${command}: ${err.message}`));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve({ code, stdout, stderr });
      else reject(new Error(`${name}: exited with ${code}\n${shown()}`));
    });
  });
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
}

describe('the packed packages, installed outside the workspace', () => {
  let root = '';
  let app = '';
  let agent = '';
  const tarballs: Record<string, string> = {};

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'mesoskit-packaged-'));
    app = join(root, 'app');
    agent = join(root, 'agent');
    const packs = join(root, 'tarballs');
    await mkdir(app);

    for (const pkg of PUBLISHED) {
      await step(`pnpm pack (${pkg})`, 'pnpm', ['pack', '--pack-destination', packs], {
        cwd: join(PACKAGES_DIR, pkg),
        timeoutMs: 15_000,
      });
    }
    for (const file of await readdir(packs)) {
      const m = /^mesoskit-(.+)-\d+\.\d+\.\d+.*\.tgz$/.exec(file);
      if (m) tarballs[m[1]!] = join(packs, file); // absolute: npm reads `dir/x.tgz` as a GitHub repo
    }
    expect(Object.keys(tarballs).sort(), `tarballs in ${packs}`).toEqual([...PUBLISHED].sort());

    // The framework's project: the four tarballs, third-party dependencies from the registry.
    await writeFile(
      join(app, 'package.json'),
      `${JSON.stringify({ name: 'packaged-app', private: true, type: 'module' }, null, 2)}\n`,
    );
    for (const file of ['framework.mjs', 'handlers.mjs', 'tasks.mjs']) {
      await copyFile(join(APP_DIR, file), join(app, file));
    }
    // Cached metadata and tarballs are used when present; a registry that cannot be reached
    // fails within seconds (not npm's minute of retries), with the requests in the message.
    const npmFlags = [
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      '--fetch-retries=2',
      '--fetch-retry-mintimeout=1000',
      '--fetch-retry-maxtimeout=5000',
      '--loglevel=http',
    ];
    await step(
      'npm install (the four tarballs)',
      'npm',
      ['install', ...npmFlags, ...Object.values(tarballs)],
      {
        cwd: app,
        timeoutMs: 60_000,
      },
    );
    // The agent: the executor installed globally into its own prefix. Its dependency
    // @mesoskit/protocol is not on the registry (npm asks, gets a 404, and takes the tarball
    // installed alongside).
    await step(
      'npm i -g --prefix agent (executor)',
      'npm',
      ['install', '--global', '--prefix', agent, ...npmFlags, tarballs.executor!, tarballs.protocol!],
      { cwd: root, timeoutMs: 60_000 },
    );
    // The steps' own limits (4 × 15 s, 2 × 60 s) add up to less than this hook's, so a slow step
    // fails with its own message and output.
  }, 200_000);

  afterAll(async () => {
    if (root !== '') await rm(root, { recursive: true, force: true });
  });

  it('has real versions where the workspace has workspace: ranges', async () => {
    for (const pkg of PUBLISHED) {
      const source = await readJson(join(PACKAGES_DIR, pkg, 'package.json'));
      const installed = await readJson(join(app, 'node_modules', '@mesoskit', pkg, 'package.json'));
      expect(installed.name).toBe(source.name);
      expect(installed.version).toBe(source.version);
      for (const field of ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies']) {
        for (const [dep, range] of Object.entries((installed[field] ?? {}) as Record<string, string>)) {
          expect(range, `${pkg}: ${field}.${dep}`).not.toMatch(/^workspace:/);
        }
      }
    }
    const protocolVersion = (await readJson(join(PACKAGES_DIR, 'protocol', 'package.json'))).version;
    const executor = await readJson(
      join(agent, 'lib', 'node_modules', '@mesoskit', 'executor', 'package.json'),
    );
    expect((executor.dependencies as Record<string, string>)['@mesoskit/protocol']).toBe(
      `^${protocolVersion}`,
    );
  });

  it('runs tasks on the local cluster through the globally installed mesoskit-executor', async () => {
    const executorBin = join(agent, 'bin', 'mesoskit-executor');
    // The agent's PATH as an operator would set it (`--executor_environment_variables`): the
    // global bin directory and node's.
    const agentPath = [join(agent, 'bin'), dirname(process.execPath), '/usr/bin', '/bin'].join(delimiter);
    const r = await step('node framework.mjs', process.execPath, ['framework.mjs', executorBin, agentPath], {
      cwd: app,
      timeoutMs: 45_000,
    });
    const output = `--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
    expect(r.stdout.split('\n').filter(Boolean), output).toEqual([
      `square(1) = 1 by ${executorBin}`,
      `square(2) = 4 by ${executorBin}`,
      `square(3) = 9 by ${executorBin}`,
      'executor processes: 1',
      'square(-1) failed: TASK_FAILED NEGATIVE',
      `resolved from file://${join(app, 'node_modules', '@mesoskit', 'scheduler', 'dist', 'index.js')}`,
    ]);
  });
});
