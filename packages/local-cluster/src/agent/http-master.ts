/**
 * The agent's side of the HTTP agent link (`../link-http.ts`): a `MasterApi` that talks to a
 * master in another process. Registration opens the stream that brings the master's calls;
 * the agent's calls are POSTs. When the stream breaks (the master stopped or restarted),
 * `onDisconnected` is called; the owner registers again (`LocalAgent.reregister()`).
 */
import http from 'node:http';
import { type Logger, RecordIODecoder, silentLogger } from '@mesoskit/protocol';
import type {
  AgentApi,
  AgentRegistered,
  AgentRegistration,
  MasterApi,
  StatusUpdateMessage,
} from '../link.js';
import { AGENT_LINK_PATH, type AgentToMaster, type MasterToAgent } from '../link-http.js';
import { fromWireJson, toWireJson } from '../wire.js';
import { flushTaskLogs } from './task-log.js';

export interface HttpMasterLinkOptions {
  /** Called when an established connection to the master breaks. */
  onDisconnected?: () => void;
  logger?: Logger;
}

/** At most this many calls per POST. */
const MAX_BATCH = 500;

export class HttpMasterLink implements MasterApi {
  readonly #url: URL;
  readonly #options: HttpMasterLinkOptions;
  readonly #log: Logger;
  #request: http.ClientRequest | undefined;
  #closing = false;
  /** Calls waiting for the POST in flight to finish. */
  #outbox: AgentToMaster[] = [];
  #sending = false;

  /** `masterUrl` is the master's base URL, e.g. `http://127.0.0.1:5050`. */
  constructor(masterUrl: string, options: HttpMasterLinkOptions = {}) {
    this.#url = new URL(AGENT_LINK_PATH, masterUrl);
    this.#options = options;
    this.#log = options.logger ?? silentLogger;
  }

  registerAgent(registration: AgentRegistration, agent: AgentApi): Promise<AgentRegistered> {
    this.#closing = false;
    const previous = this.#request;
    this.#request = undefined;
    previous?.destroy();
    return new Promise((resolve, reject) => {
      let registered = false;
      const body = toWireJson({ type: 'REGISTER', registration } satisfies AgentToMaster);
      const req = http.request(this.#url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      });
      this.#request = req;
      const lost = (why: string): void => {
        if (!registered) {
          reject(new Error(`registration with the master at ${this.#url.origin} failed: ${why}`));
          return;
        }
        if (this.#request !== req || this.#closing) return;
        this.#request = undefined;
        this.#log.warn('connection to the master lost', { why });
        this.#options.onDisconnected?.();
      };
      req.on('error', (err) => lost(err.message));
      req.on('response', (res) => {
        if (res.statusCode !== 200) {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            text += c;
          });
          res.on('end', () => lost(`${res.statusCode} ${text}`));
          return;
        }
        const decoder = new RecordIODecoder();
        res.on('data', (chunk: Buffer) => {
          let records: Uint8Array[];
          try {
            records = decoder.push(chunk);
          } catch (err) {
            req.destroy(err as Error);
            return;
          }
          for (const record of records) {
            let message: MasterToAgent;
            try {
              message = fromWireJson<MasterToAgent>(Buffer.from(record).toString('utf8'));
            } catch (err) {
              this.#log.error('unreadable record from the master', { error: String(err) });
              continue;
            }
            if (!registered) {
              if (message.type === 'REGISTERED') {
                registered = true;
                resolve({ agentId: message.agentId, masterInfo: message.masterInfo });
              } else {
                lost(message.type === 'ERROR' ? message.message : `unexpected ${message.type}`);
              }
              continue;
            }
            try {
              dispatch(agent, message);
            } catch (err) {
              this.#log.error('master call failed at the agent', { type: message.type, error: String(err) });
            }
          }
        });
        res.on('end', () => lost('end of stream'));
        res.on('error', (err) => lost(err.message));
      });
      req.end(body);
    });
  }

  statusUpdate(agentId: string, update: StatusUpdateMessage): void {
    this.#post({ type: 'STATUS_UPDATE', agentId, update });
  }

  executorMessage(agentId: string, frameworkId: string, executorId: string, data: Uint8Array): void {
    this.#post({ type: 'EXECUTOR_MESSAGE', agentId, frameworkId, executorId, data });
  }

  exitedExecutor(agentId: string, frameworkId: string, executorId: string, status: number): void {
    this.#post({ type: 'EXITED_EXECUTOR', agentId, frameworkId, executorId, status });
  }

  pong(agentId: string): void {
    this.#post({ type: 'PONG', agentId });
  }

  /** The agent stops: closing the stream tells the master. */
  agentGone(_agentId: string): void {
    this.close();
  }

  /** Closes the connection without reporting it as lost. */
  close(): void {
    this.#closing = true;
    this.#request?.destroy();
    this.#request = undefined;
  }

  /**
   * Queues a call. One POST is in flight at a time, carrying every call queued before it (as a
   * JSON array), so calls reach the master in the order made. Best effort, like the libprocess
   * messages they stand for: a failed POST is logged and its calls dropped (status updates are
   * resent by the agent until acknowledged).
   */
  #post(message: AgentToMaster): void {
    this.#outbox.push(message);
    this.#pump();
  }

  #pump(): void {
    if (this.#sending || this.#outbox.length === 0) return;
    const batch = this.#outbox.splice(0, MAX_BATCH);
    this.#sending = true;
    flushTaskLogs(); // the checkpoint first: an update reaches the master once it is on disk
    let finished = false;
    const done = (): void => {
      if (finished) return;
      finished = true;
      this.#sending = false;
      this.#pump();
    };
    const req = http.request(this.#url, { method: 'POST', headers: { 'Content-Type': 'application/json' } });
    req.on('response', (res) => {
      res.resume();
      res.on('end', done);
      res.on('error', done);
      if (res.statusCode !== 202)
        this.#log.debug('master refused calls', { calls: batch.length, status: res.statusCode });
    });
    req.on('error', (err) => {
      this.#log.debug('calls to the master failed', { calls: batch.length, error: err.message });
      done();
    });
    req.end(toWireJson(batch.length === 1 ? batch[0] : batch));
  }
}

function dispatch(agent: AgentApi, m: MasterToAgent): void {
  switch (m.type) {
    case 'RUN_TASK':
      agent.runTask(m.request);
      return;
    case 'KILL_TASK':
      agent.killTask(m.frameworkId, m.taskId, m.killPolicy);
      return;
    case 'SHUTDOWN_EXECUTOR':
      agent.shutdownExecutor(m.frameworkId, m.executorId);
      return;
    case 'SHUTDOWN_FRAMEWORK':
      agent.shutdownFramework(m.frameworkId);
      return;
    case 'ACKNOWLEDGE':
      agent.acknowledge(m.frameworkId, m.taskId, m.uuid);
      return;
    case 'FRAMEWORK_MESSAGE':
      agent.frameworkMessage(m.frameworkId, m.executorId, m.data);
      return;
    case 'UPDATE_FRAMEWORK':
      agent.updateFramework(m.framework);
      return;
    case 'PING':
      agent.ping();
      return;
    default:
      return;
  }
}
