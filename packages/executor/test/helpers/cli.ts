/** Runs the executor CLI from source (node --import tsx src/cli.ts), as the agent would start it. */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
export const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
export const CLUSTER_HANDLERS = fileURLToPath(
  new URL('../fixtures/handlers/cluster-handlers.ts', import.meta.url),
);
export const FIXTURE_DIR = fileURLToPath(new URL('../fixtures/handlers/', import.meta.url));

/** The shell command an ExecutorInfo can use to start the CLI from source. */
export function cliCommand(args: string): string {
  return `exec ${process.execPath} --import ${TSX} ${CLI} ${args}`;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with exactly `env` (plus PATH), like an agent; resolves when it exits. */
export function runCli(args: string[], env: Record<string, string>, timeoutMs = 15_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX, CLI, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
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
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the CLI did not exit within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      // let the pipes drain
      setImmediate(() => resolve({ code, signal, stdout, stderr }));
    });
  });
}
