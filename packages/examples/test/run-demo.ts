/** Runs a built demo as a child process, the way a user runs it. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const DIST = fileURLToPath(new URL('../dist/', import.meta.url));

export interface DemoResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node dist/<demo>/main.js ...args` and resolves when it exits. Rejects, after killing
 * it, if it runs longer than `timeoutMs`, with what it printed so far. `onLine` sees each
 * stdout line as it comes.
 */
export function runDemo(
  demo: string,
  args: string[],
  timeoutMs = 45_000,
  onLine?: (line: string) => void,
): Promise<DemoResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`${DIST}${demo}/main.js`, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      if (onLine === undefined) return;
      const lines = (partial + c.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) onLine(line);
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `${demo} ${args.join(' ')} did not exit within ${timeoutMs} ms\n--- stdout\n${stdout}--- stderr\n${stderr}`,
        ),
      );
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** A readable assertion message: the demo's whole output. */
export function shown(r: DemoResult): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}
