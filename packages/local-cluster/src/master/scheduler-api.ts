/**
 * The HTTP handler of `/api/v1/scheduler` (and `/master/api/v1/scheduler`): authentication,
 * method, content negotiation, decoding, call validation and the framework/stream checks, in
 * the order Mesos evaluates them (§1.8, §1.5), then hands the call to the master.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '@mesoskit/protocol';
import { type MesosEncoding, type mesos, schedulerCall } from '@mesoskit/protocol';
import { NOT_ACCEPTABLE, readMesosCall, responseEncoding, sendText, writeHead } from '../http.js';
import type { FrameworkEntry } from './model.js';
import { validateCall } from './validation.js';

type Call = mesos.v1.scheduler.Call;

/** What the handler needs from the master. */
export interface SchedulerHost {
  credentials?: readonly { principal: string; secret: string }[];
  /** `undefined` while this master leads; otherwise the leader to redirect to, or `null` (none). */
  leader(): { hostname: string; port: number } | null | undefined;
  logger: Logger;
  /** Starts a subscription (the call passed every synchronous check). */
  subscribe(call: Call, principal: string | undefined, encoding: MesosEncoding, res: ServerResponse): void;
  /** A framework the master knows and has not removed. */
  findFramework(id: string): FrameworkEntry | undefined;
  /** Runs a non-SUBSCRIBE call of a subscribed framework and answers it. */
  handleCall(
    framework: FrameworkEntry,
    call: Call,
    res: ServerResponse,
    accept: MesosEncoding,
    principal: string | undefined,
  ): void;
}

const REALM = 'mesos-master-scheduler';

/** The authenticated principal, `null` when authentication is on and fails, `undefined` when off. */
function authenticate(host: SchedulerHost, req: IncomingMessage): string | null | undefined {
  if (!host.credentials) return undefined;
  const header = req.headers.authorization;
  const m = header ? /^Basic\s+(\S+)$/i.exec(header) : null;
  if (!m) return null;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  const principal = decoded.slice(0, colon);
  const secret = decoded.slice(colon + 1);
  return host.credentials.some((c) => c.principal === principal && c.secret === secret) ? principal : null;
}

/** Handles one request to the scheduler endpoint. Never throws. */
export async function handleSchedulerRequest(
  host: SchedulerHost,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const principal = authenticate(host, req);
  if (principal === null) {
    req.resume();
    sendText(res, 401, '401 Unauthorized.', { 'WWW-Authenticate': `Basic realm="${REALM}"` });
    return;
  }
  const leader = host.leader();
  if (leader !== undefined) {
    req.resume();
    if (leader === null) {
      sendText(res, 503, 'No leader elected');
      return;
    }
    const query = req.url?.includes('?') ? req.url.slice(req.url.indexOf('?')) : '';
    writeHead(res, 307, {
      Location: `//${leader.hostname}:${leader.port}/master/api/v1/scheduler${query}`,
      'Content-Length': '0',
    });
    res.end();
    return;
  }
  const request = await readMesosCall(req, res, schedulerCall);
  if (!request) return;
  const { call } = request;
  const invalid = validateCall(call, principal);
  if (invalid) {
    sendText(res, 400, `Failed to validate scheduler::Call: ${invalid}`);
    return;
  }
  let accept: MesosEncoding = 'json';
  if (call.type === 'SUBSCRIBE' || call.type === 'RECONCILE_OPERATIONS') {
    const chosen = responseEncoding(req.headers.accept);
    if (!chosen) {
      sendText(res, NOT_ACCEPTABLE.status, NOT_ACCEPTABLE.body);
      return;
    }
    accept = chosen;
  }
  const streamId = req.headers['mesos-stream-id'];
  if (call.type === 'SUBSCRIBE') {
    if (streamId !== undefined) {
      sendText(res, 400, "Subscribe calls should not include the 'Mesos-Stream-Id' header");
      return;
    }
    host.subscribe(call, principal, accept, res);
    return;
  }
  const frameworkId = call.framework_id!.value;
  const framework = host.findFramework(frameworkId);
  if (!framework) {
    sendText(res, 400, 'Framework cannot be found');
    return;
  }
  const expected = framework.info.principal;
  if (principal !== undefined && expected !== undefined && principal !== expected) {
    sendText(
      res,
      400,
      `Authenticated principal '${principal}' does not match principal '${expected}' set in \`FrameworkInfo\``,
    );
    return;
  }
  if (!framework.subscription) {
    sendText(res, 403, 'Framework is not subscribed');
    return;
  }
  if (streamId === undefined) {
    sendText(res, 400, "All non-subscribe calls should include the 'Mesos-Stream-Id' header");
    return;
  }
  if (streamId !== framework.subscription.streamId) {
    sendText(
      res,
      400,
      `The stream ID '${streamId}' included in this request didn't match the stream ID currently associated with framework ID ${frameworkId}`,
    );
    return;
  }
  if (call.type === 'UNKNOWN') {
    sendText(res, 501, '501 Not Implemented.');
    return;
  }
  host.handleCall(framework, call, res, accept, principal);
}
