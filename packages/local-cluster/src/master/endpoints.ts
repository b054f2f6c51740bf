/**
 * The master's read-only endpoints: `/health`, `/version`, `/master/state` (`/state`),
 * `/master/redirect`, `/metrics/snapshot`; anything else is `404 Not Found.`. Shapes follow
 * capture 13-endpoints, limited to the fields tools read.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { mesos } from '@mesoskit/protocol';
import { sendText, writeHead } from '../http.js';
import type { AgentEntry, CompletedFramework, FrameworkEntry, TaskEntry } from './model.js';
import { resourceMap } from './resources.js';

export interface EndpointHost {
  masterInfo: mesos.v1.MasterInfo;
  /** See `LocalMaster.setLeader`. */
  leader: { hostname: string; port: number } | null | undefined;
  startTime: number;
  agents: ReadonlyMap<string, AgentEntry>;
  frameworks: ReadonlyMap<string, FrameworkEntry>;
  completed: ReadonlyMap<string, CompletedFramework>;
  counters: Readonly<Record<string, number>>;
  /** The allocator's figures (`allocator/mesos/…`), for `/metrics/snapshot`. */
  allocatorMetrics(): Record<string, number>;
  now(): number;
}

function sendJson(res: ServerResponse, req: IncomingMessage, value: unknown): void {
  const jsonp = new URL(req.url ?? '/', 'http://x').searchParams.get('jsonp');
  const text = JSON.stringify(value);
  const body = Buffer.from(jsonp ? `${jsonp}(${text})` : text);
  writeHead(res, 200, {
    'Content-Length': String(body.length),
    'Content-Type': jsonp ? 'text/javascript' : 'application/json',
  });
  res.end(body);
}

function taskJson(task: TaskEntry): Record<string, unknown> {
  return {
    id: task.info.task_id.value,
    name: task.info.name,
    framework_id: task.frameworkId,
    executor_id: task.executorId ?? '',
    slave_id: task.agentId,
    state: task.state,
    resources: resourceMap(task.resources),
    role: task.role,
    statuses: task.statuses.map((s) => ({ state: s.state, timestamp: s.timestamp })),
  };
}

function frameworkJson(host: EndpointHost, fw: FrameworkEntry): Record<string, unknown> {
  const all = [...fw.tasks.values()];
  // Tasks of an unreachable agent are listed apart, as Mesos does.
  const tasks = all.filter((t) => !t.unreachable);
  const unreachable = all.filter((t) => t.unreachable);
  const used = tasks.filter((t) => !t.released).flatMap((t) => t.resources);
  const executors = [...host.agents.values()].flatMap((a) =>
    [...(a.executors.get(fw.id)?.values() ?? [])].map((e) => ({
      executor_id: e.info.executor_id.value,
      name: e.info.name ?? '',
      slave_id: a.id,
      resources: resourceMap(e.resources),
    })),
  );
  const usedAll = [
    ...used,
    ...[...host.agents.values()].flatMap((a) =>
      [...(a.executors.get(fw.id)?.values() ?? [])].flatMap((e) => e.resources),
    ),
  ];
  return {
    id: fw.id,
    name: fw.info.name,
    used_resources: resourceMap(usedAll),
    capabilities: (fw.info.capabilities ?? []).map((c) => c.type),
    hostname: fw.info.hostname ?? '',
    webui_url: fw.info.webui_url ?? '',
    active: fw.subscription !== undefined,
    connected: fw.subscription !== undefined,
    // Known from a re-registering agent after a master restart, not re-subscribed yet.
    recovered: fw.recovered === true,
    user: fw.info.user,
    failover_timeout: fw.info.failover_timeout ?? 0,
    checkpoint: fw.info.checkpoint ?? false,
    registered_time: fw.registeredTime / 1000,
    ...(fw.reregisteredTime !== undefined ? { reregistered_time: fw.reregisteredTime / 1000 } : {}),
    // Mesos sets it only when the framework is removed: a disconnected one still shows 0
    // (capture 10, framework-state-after-disconnect).
    unregistered_time: 0,
    resources: resourceMap(usedAll),
    roles: fw.roles,
    ...(fw.info.principal !== undefined ? { principal: fw.info.principal } : {}),
    tasks: tasks.map(taskJson),
    unreachable_tasks: unreachable.map(taskJson),
    completed_tasks: fw.completedTasks.map(taskJson),
    offers: [...fw.offers],
    executors,
  };
}

function completedFrameworks(host: EndpointHost): Record<string, unknown>[] {
  return [...host.completed.values()].map((fw) => ({
    id: fw.id,
    name: fw.info.name,
    active: false,
    user: fw.info.user,
    unregistered_time: fw.unregisteredTime / 1000,
    tasks: [],
    completed_tasks: fw.completedTasks.map(taskJson),
  }));
}

function agentJson(agent: AgentEntry): Record<string, unknown> {
  return {
    id: agent.id,
    hostname: agent.hostname,
    port: agent.port,
    attributes: {},
    pid: `slave(1)@${agent.ip}:${agent.port}`,
    registered_time: agent.registeredTime / 1000,
    resources: resourceMap(agent.total),
    used_resources: resourceMap(agent.used),
    offered_resources: resourceMap(agent.offered),
    reserved_resources: {},
    unreserved_resources: resourceMap(agent.total),
    active: agent.connected,
    deactivated: false,
    version: '',
  };
}

function state(host: EndpointHost): Record<string, unknown> {
  const info = host.masterInfo;
  const agents = [...host.agents.values()].filter((a) => !a.unreachable);
  const unreachable = host.agents.size - agents.length;
  return {
    version: info.version,
    start_time: host.startTime / 1000,
    elected_time: host.startTime / 1000,
    id: info.id,
    pid: info.pid,
    hostname: info.hostname,
    capabilities: (info.capabilities ?? []).map((c) => c.type),
    activated_slaves: agents.filter((a) => a.connected).length,
    deactivated_slaves: agents.filter((a) => !a.connected).length,
    unreachable_slaves: unreachable,
    leader: info.pid,
    leader_info: { id: info.id, pid: info.pid, port: info.port, hostname: info.hostname },
    flags: {},
    slaves: agents.map(agentJson),
    recovered_slaves: [],
    frameworks: [...host.frameworks.values()].map((fw) => frameworkJson(host, fw)),
    completed_frameworks: completedFrameworks(host),
    orphan_tasks: [],
    unregistered_frameworks: [],
  };
}

function metrics(host: EndpointHost): Record<string, number> {
  const frameworks = [...host.frameworks.values()];
  const agents = [...host.agents.values()];
  const tasks = frameworks.flatMap((f) => [...f.tasks.values()]);
  const count = (s: string): number => tasks.filter((t) => t.state === s).length;
  return {
    'master/elected': 1,
    'master/uptime_secs': (host.now() - host.startTime) / 1000,
    'master/frameworks_active': frameworks.filter((f) => f.subscription).length,
    'master/frameworks_inactive': frameworks.filter((f) => !f.subscription).length,
    'master/frameworks_connected': frameworks.filter((f) => f.subscription).length,
    'master/frameworks_disconnected': frameworks.filter((f) => !f.subscription).length,
    'master/slaves_active': agents.filter((a) => a.connected).length,
    'master/slaves_connected': agents.filter((a) => a.connected).length,
    'master/slaves_disconnected': agents.filter((a) => !a.connected).length,
    'master/tasks_staging': count('TASK_STAGING'),
    'master/tasks_starting': count('TASK_STARTING'),
    'master/tasks_running': count('TASK_RUNNING'),
    'master/tasks_killing': count('TASK_KILLING'),
    'master/outstanding_offers': frameworks.reduce((n, f) => n + f.offers.size, 0),
    'master/offers_sent': host.counters.offersSent ?? 0,
    'master/offers_accepted': host.counters.offersAccepted ?? 0,
    'master/offers_declined': host.counters.offersDeclined ?? 0,
    'master/offers_rescinded': host.counters.offersRescinded ?? 0,
    'master/tasks_launched': host.counters.tasksLaunched ?? 0,
    ...host.allocatorMetrics(),
    ...frameworkMetrics(frameworks),
  };
}

/**
 * Mesos' per-framework metrics (`master/frameworks/<percent-encoded name>/<id>/…`): `subscribed`,
 * `tasks/active/<state>` (gauges), and the counters that are not zero (Mesos lists every call,
 * event, operation type and terminal state, zeros included).
 */
function frameworkMetrics(frameworks: readonly FrameworkEntry[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const fw of frameworks) {
    const prefix = `master/frameworks/${encodeURIComponent(fw.info.name)}/${fw.id}/`;
    out[`${prefix}subscribed`] = fw.subscription ? 1 : 0;
    for (const [name, value] of fw.counters ?? []) out[prefix + name] = value;
    for (const task of fw.tasks.values()) {
      if (task.released) continue;
      const key = `${prefix}tasks/active/${task.state.toLowerCase()}`;
      out[key] = (out[key] ?? 0) + 1;
    }
  }
  return out;
}

/** Serves every non-scheduler path. */
export function handleEndpoint(
  host: EndpointHost,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): void {
  req.resume();
  switch (path) {
    case '/health':
    case '/master/health':
      writeHead(res, 200, { 'Content-Length': '0' });
      res.end();
      return;
    case '/version':
      sendJson(res, req, {
        build_date: '',
        build_time: 0,
        build_user: '',
        version: host.masterInfo.version,
      });
      return;
    case '/state':
    case '/master/state':
    case '/state.json':
    case '/master/state.json':
      sendJson(res, req, state(host));
      return;
    case '/master/frameworks':
      sendJson(res, req, {
        frameworks: [...host.frameworks.values()].map((fw) => frameworkJson(host, fw)),
        // As captured (10-failover): removed frameworks are listed here too.
        completed_frameworks: completedFrameworks(host),
        unregistered_frameworks: [],
      });
      return;
    case '/master/tasks':
      sendJson(res, req, {
        tasks: [...host.frameworks.values()].flatMap((fw) => [...fw.tasks.values()].map(taskJson)),
      });
      return;
    case '/master/slaves':
      sendJson(res, req, {
        slaves: [...host.agents.values()].filter((a) => !a.unreachable).map(agentJson),
        recovered_slaves: [],
      });
      return;
    case '/redirect':
    case '/master/redirect': {
      if (host.leader === null) {
        sendText(res, 503, 'No leader elected');
        return;
      }
      const leader = host.leader ?? {
        hostname: host.masterInfo.hostname ?? host.masterInfo.address?.ip ?? '',
        port: host.masterInfo.port,
      };
      writeHead(res, 307, { Location: `//${leader.hostname}:${leader.port}`, 'Content-Length': '0' });
      res.end();
      return;
    }
    case '/metrics/snapshot':
      sendJson(res, req, metrics(host));
      return;
    default:
      sendText(res, 404, '404 Not Found.');
  }
}
