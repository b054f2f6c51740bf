/**
 * The agent ↔ master link over HTTP, for agents in their own processes
 * (`mesoskit-local agent --master URL`). It carries exactly the calls of `link.ts`:
 *
 * - The agent `POST`s `{"type":"REGISTER","registration":{…}}` to `<master>/mesoskit/agent`.
 *   The answer is a `200` stream of RecordIO records (`Content-Type: application/json`), the
 *   first `{"type":"REGISTERED","agentId":…,"masterInfo":{…}}` (or one `{"type":"ERROR",
 *   "message":…}` and the end of the stream), then the master's calls: `RUN_TASK`, `KILL_TASK`,
 *   `SHUTDOWN_EXECUTOR`, `SHUTDOWN_FRAMEWORK`, `ACKNOWLEDGE`, `FRAMEWORK_MESSAGE`,
 *   `UPDATE_FRAMEWORK`, `PING`. The stream is the agent's connection: when it breaks, the master
 *   handles the agent as disconnected (`agentGone`), and the agent registers again.
 * - The agent's own calls are `POST`s to the same path, answered `202`: `STATUS_UPDATE`,
 *   `EXECUTOR_MESSAGE`, `EXITED_EXECUTOR`, `PONG`, each with the agent's `agentId`. A body is
 *   one call or a JSON array of calls, applied in order (all or, if one is malformed, none).
 *   The agent keeps one POST in flight and sends what queued meanwhile as the next array, so
 *   its calls reach the master in the order it made them, as on libprocess' one connection.
 *
 * Bodies and records are the JSON of `wire.ts` (bytes as `{"$bytes": base64}`). A body that does
 * not parse or lacks a field gets `400` with a text message; other methods `405`; a call for an
 * agent that is not registered `404`.
 */
import type { mesos } from '@mesoskit/protocol';
import type { AgentRegistration, RunTaskRequest, StatusUpdateMessage } from './link.js';

export const AGENT_LINK_PATH = '/mesoskit/agent';

/** What an agent sends. */
export type AgentToMaster =
  | { type: 'REGISTER'; registration: AgentRegistration }
  | { type: 'STATUS_UPDATE'; agentId: string; update: StatusUpdateMessage }
  | { type: 'EXECUTOR_MESSAGE'; agentId: string; frameworkId: string; executorId: string; data: Uint8Array }
  | { type: 'EXITED_EXECUTOR'; agentId: string; frameworkId: string; executorId: string; status: number }
  | { type: 'PONG'; agentId: string };

/** What the master streams to a registered agent. */
export type MasterToAgent =
  | { type: 'REGISTERED'; agentId: string; masterInfo: mesos.v1.MasterInfo }
  | { type: 'ERROR'; message: string }
  | { type: 'RUN_TASK'; request: RunTaskRequest }
  | { type: 'KILL_TASK'; frameworkId: string; taskId: string; killPolicy?: mesos.v1.KillPolicy }
  | { type: 'SHUTDOWN_EXECUTOR'; frameworkId: string; executorId: string }
  | { type: 'SHUTDOWN_FRAMEWORK'; frameworkId: string }
  | { type: 'ACKNOWLEDGE'; frameworkId: string; taskId: string; uuid: Uint8Array }
  | { type: 'FRAMEWORK_MESSAGE'; frameworkId: string; executorId: string; data: Uint8Array }
  | { type: 'UPDATE_FRAMEWORK'; framework: mesos.v1.FrameworkInfo }
  | { type: 'PING' };

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/** Checks an agent's message; returns the problem, or undefined if it is well-formed. */
export function validateAgentMessage(m: unknown): string | undefined {
  if (!isObject(m)) return 'Expecting a JSON object';
  switch (m.type) {
    case 'REGISTER': {
      const r = m.registration;
      if (!isObject(r)) return "Expecting 'registration' to be present";
      if (!isString(r.hostname)) return "Expecting 'registration.hostname' to be a string";
      if (!isString(r.ip)) return "Expecting 'registration.ip' to be a string";
      if (!Number.isInteger(r.port)) return "Expecting 'registration.port' to be an integer";
      if (!Array.isArray(r.resources)) return "Expecting 'registration.resources' to be an array";
      if (r.agentId !== undefined && !isString(r.agentId))
        return "Expecting 'registration.agentId' to be a string";
      for (const key of ['frameworks', 'executors', 'tasks'] as const) {
        if (r[key] !== undefined && !Array.isArray(r[key]))
          return `Expecting 'registration.${key}' to be an array`;
      }
      const hasId = (v: unknown, key: string): boolean =>
        isObject(v) && isObject(v[key]) && isString(v[key].value);
      if (!((r.frameworks as unknown[] | undefined) ?? []).every((f) => hasId(f, 'id'))) {
        return "Expecting every 'registration.frameworks' entry to have an 'id'";
      }
      const executorOk = (e: unknown): boolean =>
        isObject(e) && isString(e.frameworkId) && hasId(e.info, 'executor_id');
      if (!((r.executors as unknown[] | undefined) ?? []).every(executorOk)) {
        return "Expecting every 'registration.executors' entry to have 'frameworkId' and 'info.executor_id'";
      }
      const taskOk = (t: unknown): boolean =>
        isObject(t) && isString(t.frameworkId) && isString(t.state) && hasId(t.info, 'task_id');
      if (!((r.tasks as unknown[] | undefined) ?? []).every(taskOk)) {
        return "Expecting every 'registration.tasks' entry to have 'frameworkId', 'state' and 'info.task_id'";
      }
      return undefined;
    }
    case 'STATUS_UPDATE': {
      if (!isString(m.agentId)) return "Expecting 'agentId' to be a string";
      const u = m.update;
      if (!isObject(u) || !isString(u.frameworkId) || !isObject(u.status)) {
        return "Expecting 'update' with 'frameworkId' and 'status'";
      }
      const status = u.status;
      if (!isObject(status.task_id) || !isString(status.task_id.value)) {
        return "Expecting 'update.status.task_id'";
      }
      if (!isString(status.state)) return "Expecting 'update.status.state'";
      return undefined;
    }
    case 'EXECUTOR_MESSAGE':
      if (!isString(m.agentId) || !isString(m.frameworkId) || !isString(m.executorId)) {
        return "Expecting 'agentId', 'frameworkId' and 'executorId'";
      }
      if (!(m.data instanceof Uint8Array)) return 'Expecting \'data\' as {"$bytes": base64}';
      return undefined;
    case 'EXITED_EXECUTOR':
      if (!isString(m.agentId) || !isString(m.frameworkId) || !isString(m.executorId)) {
        return "Expecting 'agentId', 'frameworkId' and 'executorId'";
      }
      if (!Number.isInteger(m.status)) return "Expecting 'status' to be an integer";
      return undefined;
    case 'PONG':
      return isString(m.agentId) ? undefined : "Expecting 'agentId' to be a string";
    default:
      return `Unknown message type ${JSON.stringify(m.type)}`;
  }
}
