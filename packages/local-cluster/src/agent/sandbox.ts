/**
 * Executor sandboxes (§4.3): `<workDir>/slaves/<agentId>/frameworks/<fid>/executors/<eid>/runs/<cid>`
 * with `stdout` and `stderr` files and a `runs/latest` symlink to the current run.
 */
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export function sandboxPath(
  workDir: string,
  agentId: string,
  frameworkId: string,
  executorId: string,
  containerId: string,
): string {
  return join(
    workDir,
    'slaves',
    agentId,
    'frameworks',
    frameworkId,
    'executors',
    executorId,
    'runs',
    containerId,
  );
}

/** Creates the sandbox with empty `stdout`/`stderr` and points `runs/latest` at it. */
export async function createSandbox(path: string): Promise<void> {
  await mkdir(path, { recursive: true });
  await writeFile(join(path, 'stdout'), '');
  await writeFile(join(path, 'stderr'), '');
  const latest = join(path, '..', 'latest');
  await rm(latest, { force: true });
  await symlink(path, latest);
}
