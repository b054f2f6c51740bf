/**
 * Where the client keeps its framework id between runs, so that a restarted scheduler fails over
 * to its framework (and gets its running tasks back) instead of registering a new one.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * A pluggable store for the framework id. `MesosSchedulerClient.connect()` calls `load()` once
 * and subscribes with the id it returns; every `SUBSCRIBED` with a new id calls `save()`; the
 * master's `ERROR Framework has been removed` and a successful `teardown()` call `clear()`.
 */
export interface FrameworkIdStore {
  /** The stored id, or `undefined` when there is none. */
  load(): Promise<string | undefined>;
  /** Stores `id`, replacing any earlier one. Must be durable when it resolves. */
  save(id: string): Promise<void>;
  /** Forgets the stored id (the framework is gone; the next connect registers a new one). */
  clear(): Promise<void>;
}

/**
 * A store that lives as long as the object: enough for reconnects inside one process and for
 * tests, not for surviving a restart (use {@link fileFrameworkIdStore} for that).
 */
export function memoryFrameworkIdStore(initial?: string): FrameworkIdStore {
  let id = initial;
  return {
    load: async () => id,
    save: async (value) => {
      id = value;
    },
    clear: async () => {
      id = undefined;
    },
  };
}

/** Makes a rename in `dir` durable (POSIX); platforms that cannot open a directory skip it. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // e.g. Windows (EISDIR/EPERM): the rename itself is all we can do
  } finally {
    await handle?.close();
  }
}

/**
 * A store in one file holding the id as text. `save()` writes a temporary file beside it and
 * renames it over the old one (atomic on POSIX file systems, so a crash leaves either the old or
 * the new id, never half of one), creating the directory first. A missing or empty file loads
 * as `undefined`; `clear()` removes the file. The file and the directory are fsynced before
 * `save()` resolves.
 */
export function fileFrameworkIdStore(path: string): FrameworkIdStore {
  return {
    async load() {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
      const id = text.trim();
      return id === '' ? undefined : id;
    },
    async save(id) {
      const dir = dirname(path);
      await mkdir(dir, { recursive: true });
      const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
      try {
        const file = await open(tmp, 'w', 0o644);
        try {
          await file.writeFile(`${id}\n`, 'utf8');
          await file.sync();
        } finally {
          await file.close();
        }
        await rename(tmp, path);
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
      await syncDirectory(dir);
    },
    async clear() {
      await rm(path, { force: true });
    },
  };
}
