/**
 * The master's side of the HTTP agent link (`POST /mesoskit/agent`, see `../link-http.ts`): a
 * registration opens a stream that carries the master's calls to that agent; the agent's own
 * calls come as separate POSTs. A registered agent whose stream breaks is disconnected.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger, mesos } from '@mesoskit/protocol';
import {
  BodyTooLargeError,
  RecordIOResponse,
  readBody,
  sendAccepted,
  sendMethodNotAllowed,
  sendText,
} from '../http.js';
import type { AgentApi, AgentRegistration, MasterApi, RunTaskRequest } from '../link.js';
import { type AgentToMaster, type MasterToAgent, validateAgentMessage } from '../link-http.js';
import { fromWireJson, toWireJson } from '../wire.js';

/** An agent in another process, as the master sees it: its calls become stream records. */
class RemoteAgent implements AgentApi {
  #stream: RecordIOResponse;
  /** Records made before REGISTERED went out (registration calls back into the agent). */
  #held: MasterToAgent[] | undefined = [];

  constructor(stream: RecordIOResponse) {
    this.#stream = stream;
  }

  get closed(): boolean {
    return this.#stream.closed;
  }

  send(message: MasterToAgent): void {
    if (this.#held) {
      this.#held.push(message);
      return;
    }
    this.#stream.send(Buffer.from(toWireJson(message)));
  }

  /** Sends REGISTERED (or ERROR) first, then what was held. */
  open(first: MasterToAgent): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    this.send(first);
    for (const message of held) this.send(message);
  }

  end(): void {
    this.#stream.end();
  }

  runTask(request: RunTaskRequest): void {
    this.send({ type: 'RUN_TASK', request });
  }
  killTask(frameworkId: string, taskId: string, killPolicy?: mesos.v1.KillPolicy): void {
    this.send({ type: 'KILL_TASK', frameworkId, taskId, ...(killPolicy ? { killPolicy } : {}) });
  }
  shutdownExecutor(frameworkId: string, executorId: string): void {
    this.send({ type: 'SHUTDOWN_EXECUTOR', frameworkId, executorId });
  }
  shutdownFramework(frameworkId: string): void {
    this.send({ type: 'SHUTDOWN_FRAMEWORK', frameworkId });
  }
  acknowledge(frameworkId: string, taskId: string, uuid: Uint8Array): void {
    this.send({ type: 'ACKNOWLEDGE', frameworkId, taskId, uuid });
  }
  frameworkMessage(frameworkId: string, executorId: string, data: Uint8Array): void {
    this.send({ type: 'FRAMEWORK_MESSAGE', frameworkId, executorId, data });
  }
  updateFramework(framework: mesos.v1.FrameworkInfo): void {
    this.send({ type: 'UPDATE_FRAMEWORK', framework });
  }
  ping(): void {
    this.send({ type: 'PING' });
  }
}

export class AgentLinkEndpoint {
  readonly #master: MasterApi;
  readonly #logger: Logger;
  /** The current connection of each registered remote agent. */
  readonly #agents = new Map<string, RemoteAgent>();

  constructor(master: MasterApi, logger: Logger) {
    this.#master = master;
    this.#logger = logger;
  }

  /** Ends every agent stream (the master stops). */
  closeAll(): void {
    for (const agent of this.#agents.values()) agent.end();
    this.#agents.clear();
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') {
      req.resume();
      sendMethodNotAllowed(res, req.method);
      return;
    }
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
    if (type !== 'application/json') {
      req.resume();
      sendText(res, 415, 'Expecting Content-Type: application/json');
      return;
    }
    let parsed: AgentToMaster | AgentToMaster[];
    try {
      const body = await readBody(req);
      parsed = fromWireJson<AgentToMaster | AgentToMaster[]>(body.toString('utf8'));
    } catch (err) {
      if (err instanceof BodyTooLargeError) sendText(res, 413, err.message);
      else sendText(res, 400, `Failed to parse body into JSON: ${(err as Error).message}`);
      return;
    }
    const messages = Array.isArray(parsed) ? parsed : [parsed];
    const at = (i: number): string => (Array.isArray(parsed) ? ` (call ${i})` : '');
    for (const [i, message] of messages.entries()) {
      const problem =
        validateAgentMessage(message) ??
        (messages.length > 1 && message.type === 'REGISTER' ? 'REGISTER cannot be batched' : undefined);
      if (problem) {
        sendText(res, 400, `Invalid agent message${at(i)}: ${problem}`);
        return;
      }
    }
    for (const [i, message] of messages.entries()) {
      if (message.type !== 'REGISTER' && !this.#agents.has(message.agentId)) {
        sendText(res, 404, `Agent ${message.agentId} is not registered${at(i)}`);
        return;
      }
    }
    const first = messages[0];
    if (first === undefined) {
      sendText(res, 400, 'Invalid agent message: an empty array');
      return;
    }
    if (first.type === 'REGISTER') {
      await this.#register(first.registration, res);
      return;
    }
    sendAccepted(res);
    for (const message of messages) this.#apply(message);
  }

  #apply(message: AgentToMaster): void {
    switch (message.type) {
      case 'STATUS_UPDATE':
        this.#master.statusUpdate(message.agentId, message.update);
        break;
      case 'EXECUTOR_MESSAGE':
        this.#master.executorMessage(message.agentId, message.frameworkId, message.executorId, message.data);
        break;
      case 'EXITED_EXECUTOR':
        this.#master.exitedExecutor(message.agentId, message.frameworkId, message.executorId, message.status);
        break;
      case 'PONG':
        this.#master.pong(message.agentId);
        break;
    }
  }

  async #register(registration: AgentRegistration, res: ServerResponse): Promise<void> {
    const stream = new RecordIOResponse(res, 'json');
    const remote = new RemoteAgent(stream);
    let agentId: string;
    try {
      const registered = await this.#master.registerAgent(registration, remote);
      agentId = registered.agentId;
      remote.open({ type: 'REGISTERED', agentId, masterInfo: registered.masterInfo });
    } catch (err) {
      remote.open({ type: 'ERROR', message: err instanceof Error ? err.message : String(err) });
      remote.end();
      return;
    }
    const previous = this.#agents.get(agentId);
    this.#agents.set(agentId, remote);
    if (previous && previous !== remote) previous.end();
    const gone = (): void => {
      if (this.#agents.get(agentId) !== remote) return;
      this.#agents.delete(agentId);
      this.#logger.info('agent connection closed', { agentId });
      this.#master.agentGone(agentId);
    };
    stream.onClose(gone);
    if (remote.closed) gone();
  }
}
