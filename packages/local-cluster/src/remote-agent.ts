/**
 * `startRemoteAgent()`: one agent that registers with a master over HTTP (the agent link of
 * `link-http.ts`), as `mesoskit-local agent --master URL` runs it in its own process. When the
 * connection to the master breaks it registers again (with backoff) until it works, reporting
 * everything it runs, as a Mesos agent does after a master failover.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type Logger, silentLogger } from '@mesoskit/protocol';
import { HttpMasterLink } from './agent/http-master.js';
import { LocalAgent, type LocalAgentOptions } from './agent/index.js';
import { tempRoot } from './temp-dir.js';

export interface RemoteAgentOptions extends Omit<LocalAgentOptions, 'master' | 'workDir'> {
  /** The master's base URL, e.g. `http://127.0.0.1:5050`. */
  masterUrl: string;
  /**
   * The agent's work dir. By default a fresh temporary directory, removed by `stop()`. With a
   * given one the agent recovers from its checkpoint there (`recover` defaults to true), so an
   * agent process that is restarted keeps its id and its executors.
   */
  workDir?: string;
}

export interface RemoteAgent {
  readonly agentId: string;
  /** The agent's base URL (executor API at `/api/v1/executor`). */
  readonly url: string;
  readonly agent: LocalAgent;
  /** Kills every executor, closes the connection to the master. Idempotent. */
  stop(): Promise<void>;
}

const MAX_BACKOFF_MS = 2000;

export async function startRemoteAgent(options: RemoteAgentOptions): Promise<RemoteAgent> {
  const logger: Logger = options.logger ?? silentLogger;
  const ownWorkDir = options.workDir === undefined;
  const workDir = options.workDir ?? (await mkdtemp(join(tempRoot(), 'mesoskit-agent-')));
  let agent: LocalAgent | undefined;
  let stopped = false;
  let reconnecting: Promise<void> | undefined;
  const reconnect = (): void => {
    reconnecting ??= (async () => {
      for (let delay = 100; !stopped && agent; delay = Math.min(delay * 2, MAX_BACKOFF_MS)) {
        try {
          await agent.reregister();
          logger.info('re-registered with the master', { agentId: agent.agentId });
          return;
        } catch (err) {
          logger.debug('re-registration failed; retrying', { error: String(err) });
          await new Promise((resolve) => setTimeout(resolve, delay));
        }
      }
    })().finally(() => {
      reconnecting = undefined;
    });
  };
  const link = new HttpMasterLink(options.masterUrl, { onDisconnected: reconnect, logger });
  const { masterUrl: _m, workDir: _w, ...agentOptions } = options;
  try {
    agent = await LocalAgent.start({
      ...agentOptions,
      master: link,
      workDir,
      recover: options.recover ?? !ownWorkDir,
    });
  } catch (err) {
    link.close();
    if (ownWorkDir) await rm(workDir, { recursive: true, force: true });
    throw err;
  }
  const started = agent;
  let stopping: Promise<void> | undefined;
  return {
    agentId: started.agentId,
    url: started.url,
    agent: started,
    stop() {
      stopping ??= (async () => {
        stopped = true;
        await reconnecting; // ends after its current attempt
        await started.stop();
        link.close();
        if (ownWorkDir) await rm(workDir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}
