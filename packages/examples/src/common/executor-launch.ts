/**
 * How agents start a demo's executor: the `CommandInfo` of its `ExecutorInfo`.
 *
 * - By default the command names the handler module by its absolute path on this machine
 *   (`dist/<demo>/handlers.js`): right for the embedded local cluster, and for agents that
 *   share this machine's disk.
 * - With `--ship-handlers` this process serves `dist/<demo>/handlers.bundle.mjs` (the handler
 *   module with its dependencies bundled in, one file) over HTTP, the command names it
 *   `./handlers.bundle.mjs`, and `CommandInfo.uris` makes the agent's fetcher download it into
 *   the sandbox (the executor's working directory) before the executor starts. The agents then
 *   need only `node` and the executor (see `--executor-command`).
 *
 * @module
 */
import { createReadStream, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename } from 'node:path';
import type { CommandInfo, mesos } from '@mesoskit/protocol';
import type { CommonArgs } from './args.js';
import { defaultExecutorLauncher, executorCommand, shellQuote, siblingModule } from './executor-command.js';

/** A demo's executor command, and what serves its handler bundle (if shipped). */
export interface ExecutorLaunch {
  /** The `command` of the demo's ExecutorInfo(s). */
  command: CommandInfo;
  /** Its parts, for `nodeExecutor()`: the command before `--handlers`, the handler module, and the URIs. */
  launcher: string;
  handlersModule: string;
  uris: mesos.v1.CommandInfo.URI[];
  /** Where the handler module comes from, for a status line. */
  handlers: string;
  /** Stops serving the bundle (a no-op when nothing is shipped). */
  close(): Promise<void>;
}

/**
 * Prepares the executor command of the demo whose `main` module is `mainUrl` (its
 * `import.meta.url`): its handler module is `handlers.js` next to it, and the bundle
 * `handlers.bundle.mjs`.
 */
export async function prepareExecutorLaunch(mainUrl: string, common: CommonArgs): Promise<ExecutorLaunch> {
  const launcher = common.executorLauncher ?? defaultExecutorLauncher();
  if (!common.shipHandlers) {
    const handlers = siblingModule(mainUrl, './handlers.js');
    return {
      command: { value: executorCommand(handlers, launcher) },
      launcher,
      handlersModule: handlers,
      uris: [],
      handlers,
      close: async () => undefined,
    };
  }
  const bundle = siblingModule(mainUrl, './handlers.bundle.mjs');
  const server = await serveFile(bundle, common.listen, common.advertise);
  const uris = [{ value: server.url, extract: false, cache: false }];
  return {
    command: { value: `${launcher} --handlers ${shellQuote(`./${basename(bundle)}`)}`, uris },
    launcher,
    handlersModule: `./${basename(bundle)}`,
    uris,
    handlers: `${server.url} (fetched into each executor's sandbox)`,
    close: server.close,
  };
}

/** Serves one file at `/<its name>` on `listen`, port chosen by the OS. */
async function serveFile(
  file: string,
  listen: string,
  advertise: string,
): Promise<{ url: string; close(): Promise<void> }> {
  if (!existsSync(file)) throw new Error(`${file} does not exist: build the examples first (pnpm build)`);
  const name = basename(file);
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== `/${name}`) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8' });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, listen, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = advertise.includes(':') ? `[${advertise}]` : advertise;
  return {
    url: `http://${host}:${port}/${name}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
