/**
 * Where the local cluster puts a work dir it makes itself (and removes at `stop()`).
 *
 * An agent checkpoints every task of a checkpointing framework as Mesos does: a directory and
 * two files per task (`task.info`, `task.updates`). On a disk, creating them costs the kernel
 * far more than everything else the cluster does for a task (200–600 µs of CPU per task on the
 * benchmark machine, against ~40 µs on tmpfs). So a throwaway work dir goes to `/dev/shm` when
 * that is a writable tmpfs allowing execution (sandboxes hold fetched scripts) with at least
 * 1 GiB free, and `TMPDIR` is not set; otherwise to `os.tmpdir()`. A RAM-backed checkpoint
 * still survives an agent restart, and like Mesos' nothing survives a reboot.
 */
import { accessSync, constants, readFileSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';

const SHM = '/dev/shm';
const MIN_FREE_BYTES = 1024 ** 3;

let chosen: string | undefined;

/** The directory under which throwaway work dirs are made (decided once per process). */
export function tempRoot(): string {
  chosen ??= chooseTempRoot();
  return chosen;
}

/** `/dev/shm` when it qualifies (see above), else `os.tmpdir()`. */
export function chooseTempRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TMPDIR || process.platform !== 'linux') return tmpdir();
  try {
    const mount = readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((line) => line.split(' '))
      .findLast((fields) => fields[1] === SHM);
    if (!mount || mount[2] !== 'tmpfs') return tmpdir();
    const flags = (mount[3] ?? '').split(',');
    if (flags.includes('noexec') || flags.includes('ro')) return tmpdir();
    accessSync(SHM, constants.W_OK);
    const fs = statfsSync(SHM);
    if (fs.bavail * fs.bsize < MIN_FREE_BYTES) return tmpdir();
    return SHM;
  } catch {
    return tmpdir();
  }
}
