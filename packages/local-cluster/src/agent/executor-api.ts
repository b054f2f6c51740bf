/**
 * The agent's executor endpoint, `POST /api/v1/executor` (also `/slave(1)/api/v1/executor`),
 * with Mesos' checks in Mesos' order (§1.9): executor authentication (when on), method,
 * Content-Type, body, `Executor::Call` validation, Accept (SUBSCRIBE only), HEARTBEAT, framework,
 * executor, subscription state.
 *
 * With executor authentication every call needs `Authorization: Bearer <token>` holding a token
 * this agent signed (else `401` before anything else is looked at), and the token's claims must
 * name the call's framework and executor (checked once the call is decoded) and the executor's
 * current container (checked once the executor is found). Mesos answers a claims mismatch with
 * `403`; here it is `401`, like a missing token (a deliberate difference, see the README).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '@mesoskit/protocol';
import { executorCall, type MesosEncoding, type mesos } from '@mesoskit/protocol';
import { NOT_ACCEPTABLE, readMesosCall, responseEncoding, sendAccepted, sendText } from '../http.js';
import { isValidUuidBytes } from '../ids.js';
import {
  bearerToken,
  claimsMatch,
  EXECUTOR_REALM,
  type ExecutorClaims,
  type ExecutorTokens,
} from './executor-token.js';
import type { Executor } from './executors.js';

export const EXECUTOR_API_PATHS: readonly string[] = ['/api/v1/executor', '/slave(1)/api/v1/executor'];

/** What the endpoint needs from the agent. */
export interface ExecutorApiHost {
  /** With executor authentication on, what verifies the Bearer tokens. */
  tokens(): ExecutorTokens | undefined;
  hasFramework(frameworkId: string): boolean;
  executor(frameworkId: string, executorId: string): Executor | undefined;
  subscribe(
    executor: Executor,
    subscribe: mesos.v1.executor.Call.Subscribe,
    res: ServerResponse,
    encoding: MesosEncoding,
  ): void;
  update(executor: Executor, status: mesos.v1.TaskStatus): void;
  message(executor: Executor, data: Uint8Array): void;
}

export async function handleExecutorApi(
  req: IncomingMessage,
  res: ServerResponse,
  host: ExecutorApiHost,
  logger: Logger,
): Promise<void> {
  let claims: ExecutorClaims | undefined;
  const tokens = host.tokens();
  if (tokens) {
    const token = bearerToken(req.headers.authorization);
    claims = token === undefined ? undefined : tokens.verify(token);
    if (!claims) {
      req.resume();
      sendUnauthorized(res);
      return;
    }
  }
  const request = await readMesosCall(req, res, executorCall);
  if (!request) return;
  const { call } = request;
  const invalid = validateExecutorCall(call);
  if (invalid !== undefined) {
    sendText(res, 400, `Failed to validate Executor::Call: ${invalid}`);
    return;
  }
  if (claims && !claimsMatch(claims, call.framework_id.value, call.executor_id.value)) {
    // Another executor's token (Mesos: 403 with a reason).
    sendUnauthorized(res);
    return;
  }
  let accept: MesosEncoding = 'json';
  if (call.type === 'SUBSCRIBE') {
    const chosen = responseEncoding(req.headers.accept);
    if (chosen === undefined) {
      sendText(res, NOT_ACCEPTABLE.status, NOT_ACCEPTABLE.body);
      return;
    }
    accept = chosen;
  }
  if (call.type === 'HEARTBEAT') {
    sendAccepted(res);
    return;
  }
  const frameworkId = call.framework_id.value;
  const executorId = call.executor_id.value;
  if (!host.hasFramework(frameworkId)) {
    sendText(res, 400, 'Framework cannot be found');
    return;
  }
  const executor = host.executor(frameworkId, executorId);
  if (!executor) {
    sendText(res, 400, 'Executor cannot be found');
    return;
  }
  if (claims && !claimsMatch(claims, frameworkId, executorId, executor.containerId)) {
    // The token of an earlier run of this executor.
    sendUnauthorized(res);
    return;
  }
  if (executor.commandTask) {
    // The built-in command executor does not speak HTTP here; but Mesos' command executor is a
    // subscribed executor, and without executor authentication the agent takes a MESSAGE call
    // with its id from anyone and forwards it (capture 09: 202, then a MESSAGE event). With
    // executor authentication no one holds its token (the command never sees one).
    if (call.type === 'MESSAGE') {
      sendAccepted(res);
      host.message(executor, call.message!.data);
    } else {
      sendText(res, 400, 'Executor cannot be found');
    }
    return;
  }
  if (executor.state === 'REGISTERING' && call.type !== 'SUBSCRIBE') {
    // After an agent restart, an executor that has not subscribed again is told to wait, as
    // Mesos answers every call but SUBSCRIBE while it recovers.
    if (executor.recovered) sendText(res, 503, 'Agent has not finished recovery');
    else sendText(res, 403, 'Executor is not subscribed');
    return;
  }
  switch (call.type) {
    case 'SUBSCRIBE':
      host.subscribe(executor, call.subscribe ?? {}, res, accept);
      return;
    // Handled before the answer is written, so that what the call causes (the update's event to
    // the scheduler, the ACKNOWLEDGED) is queued first and leaves first (see `RecordIOResponse`).
    case 'UPDATE':
      host.update(executor, call.update!.status);
      sendAccepted(res);
      return;
    case 'MESSAGE':
      host.message(executor, call.message!.data);
      sendAccepted(res);
      return;
    default:
      logger.warn('executor call of unknown type', { frameworkId, executorId });
      res.writeHead(501, { 'Content-Length': '0' });
      res.end();
  }
}

/** `401` with the executor realm, and the body the master's 401 has. */
function sendUnauthorized(res: ServerResponse): void {
  sendText(res, 401, '401 Unauthorized.', { 'WWW-Authenticate': `Bearer realm="${EXECUTOR_REALM}"` });
}

/** Mesos' `validateExecutorCall` (§3.2); returns the error detail or `undefined`. */
export function validateExecutorCall(call: mesos.v1.executor.Call): string | undefined {
  if (call.type === undefined) return "Expecting 'type' to be present";
  const executorId = call.executor_id.value;
  const frameworkId = call.framework_id.value;
  switch (call.type) {
    case 'SUBSCRIBE':
      if (!call.subscribe) return "Expecting 'subscribe' to be present";
      return undefined;
    case 'UPDATE': {
      if (!call.update) return "Expecting 'update' to be present";
      const status = call.update.status;
      if (status.uuid === undefined) return "Expecting 'uuid' to be present";
      if (!isValidUuidBytes(status.uuid)) return 'Not a valid UUID';
      if (status.executor_id && status.executor_id.value !== executorId) {
        return `ExecutorID in Call: ${executorId} does not match ExecutorID in TaskStatus: ${status.executor_id.value}`;
      }
      if (status.source !== 'SOURCE_EXECUTOR') {
        return `Received Call from executor ${executorId} of framework ${frameworkId} with invalid source, expecting 'SOURCE_EXECUTOR'`;
      }
      if (status.state === 'TASK_STAGING') {
        return `Received TASK_STAGING from executor ${executorId} of framework ${frameworkId} which is not allowed`;
      }
      return undefined;
    }
    case 'MESSAGE':
      if (!call.message) return "Expecting 'message' to be present";
      return undefined;
    default:
      return undefined;
  }
}
