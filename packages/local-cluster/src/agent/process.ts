/**
 * Starting an executor's process the way the Mesos containerizer does (§4.5): in its own
 * process group (`setsid`), cwd = sandbox, stdout/stderr appended to the sandbox files, the
 * environment given exactly; `sh -c value` for shell commands, else `value` with `arguments`
 * as the complete argv (argv[0] included).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import type { mesos } from '@mesoskit/protocol';

export interface SpawnedProcess {
  /** Absent for a process adopted after an agent restart that this Node process did not start. */
  child?: ChildProcess;
  pid: number | undefined;
  /** Resolves once with the raw wait status (exit code × 256, or the signal number; -1 if unknown). */
  exited: Promise<number>;
}

/**
 * Every executor process this Node process started and that has not exited yet, by pid. An
 * agent that restarts in the same Node process (fault injection) adopts its executors from
 * here, so it still learns their real wait status, as Mesos' containerizer does after recovery.
 */
const running = new Map<number, SpawnedProcess>();

/** How often an adopted process that is not our child is checked for liveness. */
const POLL_MS = 100;

/**
 * Finds a process an earlier agent started (its pid from the checkpoint): the one this Node
 * process spawned if it still runs, else (another process started it) a watcher that polls
 * the pid, with an unknown wait status (-1). Undefined if the process is gone.
 */
export function adoptProcess(pid: number): SpawnedProcess | undefined {
  const known = running.get(pid);
  if (known) return known;
  if (!isAlive(pid)) return undefined;
  const exited = new Promise<number>((resolve) => {
    const timer = setInterval(() => {
      if (isAlive(pid)) return;
      clearInterval(timer);
      resolve(-1);
    }, POLL_MS);
    timer.unref();
  });
  return { pid, exited };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie (exited, not yet reaped by its new parent) has exited for us. Linux only.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return true;
  }
}

export function spawnCommand(
  command: mesos.v1.CommandInfo,
  sandbox: string,
  env: Record<string, string>,
): SpawnedProcess {
  const stdout = openSync(join(sandbox, 'stdout'), 'a');
  const stderr = openSync(join(sandbox, 'stderr'), 'a');
  try {
    const options = { cwd: sandbox, env, detached: true, stdio: ['ignore', stdout, stderr] as const };
    let child: ChildProcess;
    if (command.shell ?? true) {
      child = spawn('/bin/sh', ['-c', command.value ?? ''], {
        ...options,
        stdio: [...options.stdio],
        argv0: 'sh',
      });
    } else {
      const value = command.value ?? '';
      const args = command.arguments ?? [];
      child = spawn(value, args.slice(1), { ...options, stdio: [...options.stdio], argv0: args[0] ?? value });
    }
    const exited = new Promise<number>((resolve) => {
      let done = false;
      const finish = (status: number): void => {
        if (done) return;
        done = true;
        resolve(status);
      };
      child.once('exit', (code, signal) => finish(waitStatus(code, signal)));
      // exec failed (e.g. ENOENT): Mesos' launcher would exit 1 inside the container.
      child.once('error', () => finish(256));
    });
    const spawned: SpawnedProcess = { child, pid: child.pid, exited };
    const pid = child.pid;
    if (pid !== undefined) {
      running.set(pid, spawned);
      void exited.then(() => running.delete(pid));
    }
    return spawned;
  } finally {
    closeSync(stdout);
    closeSync(stderr);
  }
}

/** The raw wait status of an exit: `code << 8`, or the signal number. */
export function waitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (signal) return (constants.signals as Record<string, number>)[signal] ?? -1;
  return (code ?? 0) * 256;
}

/** Sends `signal` to the process group `pid` leads; false if it is gone. */
export function killGroup(pid: number | undefined, signal: NodeJS.Signals): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** `strsignal()` text for the signals a command task is likely to die from. */
const SIGNAL_TEXT: Record<number, string> = {
  1: 'Hangup',
  2: 'Interrupt',
  3: 'Quit',
  4: 'Illegal instruction',
  6: 'Aborted',
  7: 'Bus error',
  8: 'Floating point exception',
  9: 'Killed',
  10: 'User defined signal 1',
  11: 'Segmentation fault',
  12: 'User defined signal 2',
  13: 'Broken pipe',
  14: 'Alarm clock',
  15: 'Terminated',
};

/** Mesos' `WSTRINGIFY` of a raw wait status, as in `Command exited with status 3`. */
export function describeWaitStatus(status: number): string {
  if (status >= 0 && status < 256 && status !== 0) {
    return `terminated with signal ${SIGNAL_TEXT[status] ?? `Unknown signal ${status}`}`;
  }
  return `exited with status ${status >> 8}`;
}
