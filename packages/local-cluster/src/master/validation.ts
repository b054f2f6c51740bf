/**
 * Mesos' validation of scheduler calls, FrameworkInfos and tasks, with the exact error texts of
 * `src/master/validation.cpp` (see the reference, §2.2, §2.3 and §4.1).
 */
import { codecFor, isValidRole, type mesos, validateResources } from '@mesoskit/protocol';
import { isValidUuidBytes, validateId } from '../ids.js';
import { hasCapability } from './model.js';
import { resourcesText } from './resources.js';

type Call = mesos.v1.scheduler.Call;

/** The sub-message each call type requires (`Expecting '<field>' to be present`). */
const REQUIRED_FIELD: Partial<Record<NonNullable<Call['type']>, keyof Call>> = {
  ACCEPT: 'accept',
  DECLINE: 'decline',
  ACCEPT_INVERSE_OFFERS: 'accept_inverse_offers',
  DECLINE_INVERSE_OFFERS: 'decline_inverse_offers',
  KILL: 'kill',
  SHUTDOWN: 'shutdown',
  ACKNOWLEDGE: 'acknowledge',
  ACKNOWLEDGE_OPERATION_STATUS: 'acknowledge_operation_status',
  RECONCILE: 'reconcile',
  RECONCILE_OPERATIONS: 'reconcile_operations',
  MESSAGE: 'message',
  REQUEST: 'request',
  UPDATE_FRAMEWORK: 'update_framework',
};

/**
 * `scheduler::Call` validation (the text after `Failed to validate scheduler::Call: `), or
 * undefined when valid. `principal` is the authenticated principal, if any.
 */
export function validateCall(call: Call, principal: string | undefined): string | undefined {
  if (call.type === undefined) return "Expecting 'type' to be present";
  if (call.type === 'SUBSCRIBE') {
    if (!call.subscribe) return "Expecting 'subscribe' to be present";
    const info = call.subscribe.framework_info;
    if (call.framework_id?.value !== info.id?.value) {
      return "'framework_id' differs from 'subscribe.framework_info.id'";
    }
    if (principal !== undefined && info.principal !== undefined && info.principal !== principal) {
      return `Authenticated principal '${principal}' does not match principal '${info.principal}' set in \`FrameworkInfo\``;
    }
    return undefined;
  }
  if (!call.framework_id) return "Expecting 'framework_id' to be present";
  const field = REQUIRED_FIELD[call.type];
  if (field && call[field] === undefined) return `Expecting '${field}' to be present`;
  if (call.type === 'ACKNOWLEDGE' && !isValidUuidBytes(call.acknowledge?.uuid)) return 'Not a valid UUID';
  if (call.type === 'ACKNOWLEDGE_OPERATION_STATUS') {
    if (!isValidUuidBytes(call.acknowledge_operation_status?.uuid)) return 'Not a valid UUID';
  }
  if (call.type === 'UPDATE_FRAMEWORK') {
    const info = call.update_framework!.framework_info;
    if (info.id?.value !== call.framework_id.value) {
      return "'framework_id' differs from 'update_framework.framework_info.id'";
    }
    if (principal !== undefined && info.principal !== undefined && info.principal !== principal) {
      return `Authenticated principal '${principal}' does not match principal '${info.principal}' set in \`FrameworkInfo\``;
    }
  }
  return undefined;
}

/** FrameworkInfo checks done after a SUBSCRIBE was accepted (reported as an ERROR event). */
export function validateFrameworkInfo(info: mesos.v1.FrameworkInfo): string | undefined {
  const multiRole = hasCapability(info, 'MULTI_ROLE');
  if (multiRole && info.role !== undefined) {
    return "'FrameworkInfo.role' must not be set when the framework is MULTI_ROLE capable";
  }
  if (!multiRole && (info.roles?.length ?? 0) > 0) {
    return "'FrameworkInfo.roles' must not be set when the framework is not MULTI_ROLE capable";
  }
  if (multiRole) {
    const roles = info.roles ?? [];
    const seen = new Set<string>();
    const dupes = new Set<string>();
    for (const r of roles) {
      if (seen.has(r)) dupes.add(r);
      seen.add(r);
    }
    if (dupes.size > 0) return `'FrameworkInfo.roles' contains duplicate items: ${[...dupes].join(', ')}`;
    for (const r of roles) {
      if (!isValidRole(r)) return `'FrameworkInfo.roles' contains invalid role: ${r}`;
    }
  } else if (info.role !== undefined && !isValidRole(info.role)) {
    return `'FrameworkInfo.role' is not a valid role: ${info.role}`;
  }
  if (info.id !== undefined && info.id.value !== '') {
    const err = validateId(info.id.value);
    if (err) return err;
  }
  const ft = info.failover_timeout;
  if (ft !== undefined && (!Number.isFinite(ft) || ft < 0 || ft * 1e9 > Number.MAX_SAFE_INTEGER * 1024)) {
    return `The framework failover_timeout (${ft}) is invalid`;
  }
  return undefined;
}

/** Checks of `suppressed_roles` against the roles (SUBSCRIBE / UPDATE_FRAMEWORK). */
export function validateSuppressedRoles(
  suppressed: readonly string[],
  roles: readonly string[],
): string | undefined {
  const missing = suppressed.filter((r) => !roles.includes(r));
  if (missing.length > 0) {
    return `Suppressed roles { ${missing.join(', ')} } are not contained in the set of roles`;
  }
  return undefined;
}

/** `offer_constraints` may only constrain roles the framework subscribes to. */
export function validateOfferConstraints(
  constraints: mesos.v1.scheduler.OfferConstraints | undefined,
  roles: readonly string[],
): string | undefined {
  for (const role of Object.keys(constraints?.role_constraints ?? {})) {
    if (!roles.includes(role)) {
      return `Offer constraints specify \`role_constraints\` for a role '${role}'not contained in the set of roles`;
    }
  }
  return undefined;
}

const executorCodec = codecFor<mesos.v1.ExecutorInfo>('mesos.v1.ExecutorInfo');

/**
 * True when two ExecutorInfos are the same message (Mesos requires identity for reuse): equal
 * as plain data, or else equal in JSON (which prints defaults, so an absent field equals its
 * default).
 */
export function sameExecutor(a: mesos.v1.ExecutorInfo, b: mesos.v1.ExecutorInfo): boolean {
  return equalData(a, b) || executorCodec.toJSON(a) === executorCodec.toJSON(b);
}

/** Deep equality of plain message data (objects, arrays, bytes, primitives). */
function equalData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && Buffer.compare(a, b) === 0;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  const keys = Object.keys(x);
  if (keys.length !== Object.keys(y).length) return false;
  for (const k of keys) {
    if (!Object.hasOwn(y, k) || !equalData(x[k], y[k])) return false;
  }
  return true;
}

function negativeDuration(d: mesos.v1.DurationInfo | undefined): boolean {
  return d !== undefined && Number(d.nanoseconds) < 0;
}

function validateEnvironment(env: mesos.v1.Environment | undefined): string | undefined {
  for (const v of env?.variables ?? []) {
    const type = v.type ?? 'VALUE';
    if (type === 'VALUE' && v.value === undefined) {
      return `Environment variable '${v.name}' of type 'VALUE' must have a value set`;
    }
    if (type === 'SECRET') {
      if (v.value !== undefined)
        return `Environment variable '${v.name}' of type 'SECRET' must not have a value set`;
      if (v.secret === undefined)
        return `Environment variable '${v.name}' of type 'SECRET' must have a secret set`;
    }
  }
  return undefined;
}

function resourceProblem(resources: readonly mesos.v1.Resource[]): string | undefined {
  try {
    validateResources(resources);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** What task validation needs to know about its surroundings. */
export interface TaskContext {
  frameworkId: string;
  /** The agent of the accepted offers. */
  agentId: string;
  /** True when the framework already has a (non-forgotten) task with this id. */
  isDuplicate(taskId: string): boolean;
  /** The executor with this id already known on the agent, if any. */
  existingExecutor(executorId: string): mesos.v1.ExecutorInfo | undefined;
}

/**
 * §4.1 checks 1–11 of one LAUNCH task (the fit check, 12, is done against the pool by the
 * caller). The executor's `framework_id` must already have been filled in.
 */
export function validateTask(task: mesos.v1.TaskInfo, ctx: TaskContext): string | undefined {
  const idError = validateId(task.task_id.value);
  if (idError) return idError;
  if (ctx.isDuplicate(task.task_id.value)) return `Task has duplicate ID: ${task.task_id.value}`;
  if (task.agent_id.value !== ctx.agentId) {
    return `Task uses invalid agent ${task.agent_id.value} while agent ${ctx.agentId} is expected`;
  }
  if (negativeDuration(task.kill_policy?.grace_period)) {
    return "Task's 'kill_policy.grace_period' must be non-negative";
  }
  if (negativeDuration(task.max_completion_time)) return "Task's 'max_completion_time' must be non-negative";
  const resources = task.resources ?? [];
  if (resources.length === 0) return 'Task uses no resources';
  const invalid = resourceProblem(resources);
  if (invalid) return `Task uses invalid resources: ${invalid}`;
  const envError = validateEnvironment(task.command?.environment);
  if (envError) return envError;
  if (task.limits) {
    for (const name of Object.keys(task.limits)) {
      if (name !== 'cpus' && name !== 'mem') return `Task's 'limits' contains unsupported resource '${name}'`;
    }
  }
  if ((task.command === undefined) === (task.executor === undefined)) {
    return 'Task should have at least one (but not both) of CommandInfo or ExecutorInfo present';
  }
  if (task.executor) return validateExecutor(task.executor, ctx, 'CUSTOM');
  return undefined;
}

/** Executor checks of §4.1 rule 10 (`expectedType` is CUSTOM for LAUNCH, DEFAULT or CUSTOM for groups). */
export function validateExecutor(
  executor: mesos.v1.ExecutorInfo,
  ctx: TaskContext,
  expectedType: 'CUSTOM' | 'GROUP',
): string | undefined {
  if (expectedType === 'CUSTOM' && executor.type !== undefined && executor.type !== 'CUSTOM') {
    return "'ExecutorInfo.type' must be 'CUSTOM'";
  }
  if (expectedType === 'GROUP' && executor.type === 'UNKNOWN') return "'ExecutorInfo.type' must be set";
  if ((executor.type ?? 'CUSTOM') === 'CUSTOM' && executor.command === undefined) {
    return "'ExecutorInfo.command' must be set";
  }
  const idError = validateId(executor.executor_id.value);
  if (idError) return idError;
  if (executor.framework_id && executor.framework_id.value !== ctx.frameworkId) {
    return `ExecutorInfo has an invalid FrameworkID (Actual: ${executor.framework_id.value} vs Expected: ${ctx.frameworkId})`;
  }
  if (negativeDuration(executor.shutdown_grace_period)) {
    return "ExecutorInfo's 'shutdown_grace_period' must be non-negative";
  }
  const invalid = resourceProblem(executor.resources ?? []);
  if (invalid) return `Executor uses invalid resources: ${invalid}`;
  if ((executor.resources ?? []).some((r) => r.shared !== undefined)) {
    return 'Executor resources cannot be shared';
  }
  const envError = validateEnvironment(executor.command?.environment);
  if (envError) return envError;
  const existing = ctx.existingExecutor(executor.executor_id.value);
  if (existing && !sameExecutor(existing, executor)) {
    return (
      'ExecutorInfo is not compatible with existing ExecutorInfo with same ExecutorID.\n' +
      '------------------------------------------------------------\n' +
      `Existing ExecutorInfo: ${executorCodec.toJSON(existing)}\n` +
      '------------------------------------------------------------\n' +
      `Task's ExecutorInfo: ${executorCodec.toJSON(executor)}\n` +
      '------------------------------------------------------------'
    );
  }
  return undefined;
}

/** Minimum resources of a task group's executor (hard errors for LAUNCH_GROUP). */
export function validateGroupExecutorResources(executor: mesos.v1.ExecutorInfo): string | undefined {
  const resources = executor.resources ?? [];
  const sum = (name: string): number | undefined => {
    const list = resources.filter((r) => r.name === name && r.type === 'SCALAR');
    if (list.length === 0) return undefined;
    return Math.round(list.reduce((s, r) => s + (r.scalar?.value ?? 0), 0) * 1000) / 1000;
  };
  const id = executor.executor_id.value;
  const cpus = sum('cpus');
  if (cpus === undefined || cpus < 0.01) {
    return `Executor '${id}' uses less CPUs (${cpus ?? 'None'}) than the minimum required (0.01)`;
  }
  const mem = sum('mem');
  if (mem === undefined || mem < 32) {
    return `Executor '${id}' uses less memory (${mem ?? 'None'}) than the minimum required (32MB)`;
  }
  if (sum('disk') === undefined) return `Executor '${id}' uses no disk`;
  return undefined;
}

/** The fit error of §4.1 rule 12. */
export function fitError(
  required: readonly mesos.v1.Resource[],
  available: readonly mesos.v1.Resource[],
): string {
  return `Total resources ${resourcesText(required)} required by task and its executor is more than available ${resourcesText(available)}`;
}
