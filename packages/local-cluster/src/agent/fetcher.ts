/**
 * A subset of the Mesos fetcher (§4.4): `file://` URIs and absolute paths are copied,
 * `http(s)://` URIs downloaded; `output_file` renames; `executable` → mode 0755 (never
 * extracted); else archives (`.tar`, `.tgz`, `.tar.gz`, `.tbz2`, `.tar.bz2`, `.txz`, `.tar.xz`,
 * `.zip`) are unpacked into the sandbox with the system `tar`/`unzip`, and a plain `.gz` is
 * gunzipped. Everything runs offline except explicit http(s) downloads.
 */
import { execFile } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createGunzip } from 'node:zlib';
import type { mesos } from '@mesoskit/protocol';

const TAR = ['.tar', '.tgz', '.tar.gz', '.tbz2', '.tar.bz2', '.txz', '.tar.xz'];

/** Fetches every URI into `sandbox`; rejects with a readable reason on the first failure. */
export async function fetchUris(uris: readonly mesos.v1.CommandInfo.URI[], sandbox: string): Promise<void> {
  for (const uri of uris) await fetchOne(uri, sandbox);
}

async function fetchOne(uri: mesos.v1.CommandInfo.URI, sandbox: string): Promise<void> {
  const value = uri.value;
  let name = uri.output_file;
  if (!name) {
    const path = value.replace(/[?#].*$/, '');
    name = basename(path);
  }
  if (!name || name === '.' || name === '..')
    throw new Error(`Failed to determine the file name of URI '${value}'`);
  const target = resolve(sandbox, name);
  if (!target.startsWith(`${resolve(sandbox)}/`))
    throw new Error(`Output file '${name}' is outside the sandbox`);
  await mkdir(dirname(target), { recursive: true });

  if (/^https?:\/\//i.test(value)) {
    const response = await fetch(value);
    if (!response.ok) throw new Error(`Failed to download '${value}': HTTP ${response.status}`);
    await writeFile(target, new Uint8Array(await response.arrayBuffer()));
  } else if (value.startsWith('file://')) {
    await copyFile(fileURLToPath(value), target);
  } else if (isAbsolute(value)) {
    await copyFile(value, target);
  } else {
    throw new Error(
      `Unsupported URI '${value}' (the local agent fetches file://, absolute paths and http(s)://)`,
    );
  }

  if (uri.executable) {
    await chmod(target, 0o755);
    return;
  }
  if (uri.extract === false) return;
  const lower = target.toLowerCase();
  if (TAR.some((ext) => lower.endsWith(ext))) {
    await run('tar', ['-C', sandbox, '-xf', target]);
  } else if (lower.endsWith('.zip')) {
    await run('unzip', ['-o', '-q', '-d', sandbox, target]);
  } else if (lower.endsWith('.gz')) {
    const out = target.slice(0, -3);
    await pipeline(createReadStream(target), createGunzip(), createWriteStream(out));
    await rm(target, { force: true });
  }
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    execFile(command, args, (error, _stdout, stderr) => {
      if (error)
        reject(new Error(`${command} ${args.join(' ')} failed: ${String(stderr).trim() || error.message}`));
      else resolvePromise();
    });
  });
}
