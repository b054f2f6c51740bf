#!/usr/bin/env node
/**
 * pinspider: a Mesos framework written against the low-level `MesosSchedulerClient`, the way
 * the original pinspider post composed its own scheduler from raw Mesos events.
 *
 * - The **driver** builds a FrameworkInfo (name, `failover_timeout`, `checkpoint`) and two
 *   ExecutorInfos (a profile executor and a board executor, each `mesoskit-executor` with this
 *   demo's handler module, its own executor id and resources).
 * - The **scheduler** sums each offer's cpus and mem and launches the queued crawl tasks that
 *   fit (one ACCEPT per offer, a DECLINE for an offer it cannot use), with the task's launch
 *   envelope in `TaskInfo.data`. A finished profile crawl queues a crawl of each board it
 *   found. Findings are printed as the executors' framework messages arrive; the framework
 *   tears down when every task finished, and aborts on the first FAILED, KILLED, LOST or ERROR.
 * - A small website served here on loopback stands in for the real site (`site.ts`).
 *
 * @module
 */
import {
  type CommandInfo,
  decodeMessageEnvelope,
  decodeResultEnvelope,
  type ExecutorInfo,
  encodeLaunchEnvelope,
  type mesos,
  type Offer,
  parseDuration,
  resourcesFromSpec,
  scalarOf,
  type TaskDefinition,
  type TaskInfo,
  type TaskStatus,
  TERMINAL_TASK_STATES,
} from '@mesoskit/protocol';
import {
  type FrameworkInfoInput,
  MesosHttpError,
  MesosSchedulerClient,
  NotSubscribedError,
  type SubscribedInfo,
} from '@mesoskit/scheduler';
import { type DemoSpec, type ExecutorLaunch, prepareExecutorLaunch, runDemo } from '../common/index.js';
import { type Site, startSite, USERS } from './site.js';
import { crawlBoard, crawlProfile, type Finding, formatFinding, isFinding } from './tasks.js';

const spec = {
  name: 'pinspider',
  description:
    'Crawls a small website served by this demo, with two executors (profile, board) scheduled\n' +
    'by hand on the low-level MesosSchedulerClient; prints findings as framework messages arrive.',
  options: {
    'fail-one': { type: 'boolean' },
    timeout: { type: 'string' },
  },
  usage: [
    '--fail-one                 add a crawl of a profile that does not exist: that task fails,',
    '                           and pinspider aborts with exit code 1',
    '--timeout DURATION         give up after this long (default 2m; e.g. 30s, 500ms)',
  ],
} satisfies DemoSpec<Record<string, { type: 'string' | 'boolean' }>>;

/** Seconds Mesos keeps our tasks after we disconnect, waiting for us to come back. */
const FAILOVER_TIMEOUT_SECONDS = 60;

/** The driver's FrameworkInfo. `user` defaults to the OS user. */
export const FRAMEWORK: FrameworkInfoInput = {
  name: 'pinspider',
  failover_timeout: FAILOVER_TIMEOUT_SECONDS,
  // Agents checkpoint our tasks and executors, so they survive an agent restart.
  checkpoint: true,
};

/** The two executors. Both run this demo's handler module; each has its own id and resources. */
const EXECUTORS = {
  profile: { id: 'pinspider-profile', name: 'pinspider profile executor', cpus: 0.1, memMb: 32 },
  board: { id: 'pinspider-board', name: 'pinspider board executor', cpus: 0.1, memMb: 64 },
} as const;
type ExecutorKind = keyof typeof EXECUTORS;

/**
 * Built once per run: Mesos requires the same ExecutorInfo, byte for byte, for every task that
 * names an executor id already running on an agent.
 */
function executorInfo(kind: ExecutorKind, frameworkId: string, command: CommandInfo): ExecutorInfo {
  const e = EXECUTORS[kind];
  return {
    type: 'CUSTOM',
    executor_id: { value: e.id },
    framework_id: { value: frameworkId },
    name: e.name,
    command,
    resources: resourcesFromSpec({ cpus: e.cpus, memMb: e.memMb }),
  };
}

/** A crawl, from queued to terminal. */
interface Crawl {
  id: string;
  kind: ExecutorKind;
  definition: TaskDefinition<unknown, unknown>;
  input: { user: string; url: string; board?: string };
  state: mesos.v1.TaskState | 'QUEUED';
  /** Whether its finding was printed (from the message, or else from the result). */
  printed: boolean;
  agentId?: string;
}

type Outcome = { ok: true } | { ok: false; line: string };

/** Milli-units: offers are summed in integers, as Mesos does (3 decimals). */
const milli = (value: number) => Math.round(value * 1000);

function shortAgent(agentId: string): string {
  return agentId.slice(agentId.lastIndexOf('-') + 1);
}

/** The scheduler: offers → launches, updates → state, messages → printed findings. */
class Pinspider {
  readonly #client: MesosSchedulerClient;
  readonly #executors: Record<ExecutorKind, ExecutorInfo>;
  readonly #out: (line: string) => void;
  readonly #queue: Crawl[] = [];
  readonly #crawls = new Map<string, Crawl>();
  /** Executor ids launched on each agent, whose resources are therefore already taken. */
  readonly #running = new Map<string, Set<string>>();
  #finished = 0;
  /** SUPPRESSed, or declined an offer (a 5 s filter): new work needs a REVIVE to get offers at once. */
  #needsRevive = false;
  #suppressed = false;
  #offers = 0;
  #settle!: (outcome: Outcome) => void;
  #settled = false;
  readonly outcome: Promise<Outcome>;
  readonly stats = { profiles: 0, boards: 0, pins: 0 };

  constructor(
    client: MesosSchedulerClient,
    frameworkId: string,
    command: CommandInfo,
    out: (line: string) => void,
  ) {
    this.#client = client;
    this.#out = out;
    this.#executors = {
      profile: executorInfo('profile', frameworkId, command),
      board: executorInfo('board', frameworkId, command),
    };
    this.outcome = new Promise((resolve) => {
      this.#settle = resolve;
    });
  }

  get finished(): number {
    return this.#finished;
  }

  get total(): number {
    return this.#crawls.size;
  }

  /** Settles the run once; later calls are ignored. */
  settle(outcome: Outcome): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#settle(outcome);
  }

  /** What is still going, for a timeout message. */
  pending(): string {
    const open = [...this.#crawls.values()].filter((c) => c.state !== 'TASK_FINISHED');
    return open.map((c) => `${c.id} ${c.state}`).join(', ');
  }

  enqueueProfile(user: string, url: string): void {
    this.#enqueue({ id: `profile-${user}`, kind: 'profile', definition: crawlProfile, input: { user, url } });
  }

  #enqueue(c: Omit<Crawl, 'state' | 'printed'>): void {
    if (this.#crawls.has(c.id)) return;
    const crawl: Crawl = { ...c, state: 'QUEUED', printed: false };
    this.#crawls.set(crawl.id, crawl);
    this.#queue.push(crawl);
  }

  // ------------------------------------------------------------------ offers

  async onOffers(offers: Offer[]): Promise<void> {
    for (const offer of offers) {
      if (this.#settled || this.#queue.length === 0) {
        await this.#decline(offer);
        continue;
      }
      const agentId = offer.agent_id.value;
      const running = this.#running.get(agentId) ?? new Set<string>();
      let cpus = milli(scalarOf(offer.resources ?? [], 'cpus'));
      let mem = milli(scalarOf(offer.resources ?? [], 'mem'));
      const offered = `cpus ${cpus / 1000}, mem ${mem / 1000}`;
      const launch: Crawl[] = [];
      const startsExecutor = new Set<string>();
      for (const crawl of this.#queue) {
        const executor = this.#executors[crawl.kind];
        const executorId = executor.executor_id.value;
        // A task needs its own resources, plus its executor's the first time it runs on this agent.
        let needCpus = milli(crawl.definition.resources.cpus);
        let needMem = milli(crawl.definition.resources.memMb);
        const newExecutor = !running.has(executorId) && !startsExecutor.has(executorId);
        if (newExecutor) {
          needCpus += milli(scalarOf(executor.resources ?? [], 'cpus'));
          needMem += milli(scalarOf(executor.resources ?? [], 'mem'));
        }
        if (needCpus > cpus || needMem > mem) continue;
        cpus -= needCpus;
        mem -= needMem;
        if (newExecutor) startsExecutor.add(executorId);
        launch.push(crawl);
      }
      if (launch.length === 0) {
        await this.#decline(offer);
        continue;
      }
      const launched = new Set(launch);
      this.#queue.splice(0, this.#queue.length, ...this.#queue.filter((c) => !launched.has(c)));
      const tasks = launch.map((c) => this.#taskInfo(c, offer));
      const streamId = this.#client.streamId;
      try {
        await this.#client.launch([offer.id], tasks);
      } catch (err) {
        this.#queue.unshift(...launch);
        if (lostSubscription(err, streamId, this.#client.streamId)) {
          // The offer died with the subscription: the tasks wait for offers after the next SUBSCRIBED.
          this.#out(`offer ${++this.#offers} on agent ${shortAgent(agentId)}: not launched, reconnecting`);
          continue;
        }
        // The master refused the ACCEPT (a bug in this scheduler): retrying would not help.
        this.settle({ ok: false, line: `ACCEPT refused: ${(err as Error).message}` });
        return;
      }
      for (const id of startsExecutor) running.add(id);
      this.#running.set(agentId, running);
      for (const c of launch) {
        c.state = 'TASK_STAGING';
        c.agentId = agentId;
      }
      this.#out(
        `offer ${++this.#offers} on agent ${shortAgent(agentId)} (${offered}): launching ${launch.map((c) => c.id).join(', ')}`,
      );
    }
    if (this.#queue.length === 0 && !this.#suppressed && !this.#settled) {
      // Nothing left to launch: stop the master from sending offers until we revive.
      this.#suppressed = true;
      this.#needsRevive = true;
      await this.#client.suppress().catch(() => {
        this.#suppressed = false;
      });
    }
  }

  async #decline(offer: Offer): Promise<void> {
    this.#needsRevive = true;
    await this.#client.decline([offer.id]).catch(() => undefined); // a dead offer needs no decline
  }

  #taskInfo(crawl: Crawl, offer: Offer): TaskInfo {
    return {
      name: `${crawl.definition.name} ${crawl.input.board ? `${crawl.input.user}/${crawl.input.board}` : crawl.input.user}`,
      task_id: { value: crawl.id },
      agent_id: offer.agent_id,
      executor: this.#executors[crawl.kind],
      resources: resourcesFromSpec(crawl.definition.resources),
      data: encodeLaunchEnvelope({
        task: crawl.definition.name,
        taskVersion: crawl.definition.version,
        attempt: 1,
        input: crawl.input,
      }),
    };
  }

  // ------------------------------------------------------------------ updates

  async onUpdate(status: TaskStatus): Promise<void> {
    const crawl = this.#crawls.get(status.task_id.value);
    // Updates are at-least-once: ignore unknown tasks and anything after a terminal state.
    if (crawl === undefined || (crawl.state !== 'QUEUED' && TERMINAL_TASK_STATES.has(crawl.state))) return;
    crawl.state = status.state;
    if (status.state === 'TASK_FINISHED') {
      await this.#finishedCrawl(crawl, status);
    } else if (TERMINAL_TASK_STATES.has(status.state)) {
      this.settle({ ok: false, line: abortLine(status) });
    }
  }

  async #finishedCrawl(crawl: Crawl, status: TaskStatus): Promise<void> {
    let finding: Finding;
    try {
      const envelope = decodeResultEnvelope(status.data ?? new Uint8Array());
      if (!envelope.ok || !isFinding(envelope.output)) throw new Error('not a finding');
      finding = envelope.output;
    } catch (err) {
      this.settle({
        ok: false,
        line: `task ${crawl.id} finished without a readable result: ${(err as Error).message}`,
      });
      return;
    }
    this.#finished++;
    // The message is best effort; the result travels reliably. Print from it if the message was lost or late.
    if (!crawl.printed) this.#print(crawl, finding, ' (from the result: its message did not arrive first)');
    if (finding.kind === 'profile') {
      this.stats.profiles++;
      for (const board of finding.boards) {
        this.#enqueue({
          id: `board-${finding.user}-${board.slug}`,
          kind: 'board',
          definition: crawlBoard,
          input: { user: finding.user, board: board.slug, url: board.url },
        });
      }
      if (this.#queue.length > 0 && this.#needsRevive) {
        // Lift SUPPRESS and decline filters, so that offers for the new work come at once.
        this.#suppressed = false;
        this.#needsRevive = false;
        await this.#client.revive().catch(() => undefined); // on failure, the next SUBSCRIBED revives
      }
    } else {
      this.stats.boards++;
      this.stats.pins += finding.pins.length;
    }
    if (this.#queue.length === 0 && this.#finished === this.#crawls.size) this.settle({ ok: true });
  }

  // ------------------------------------------------------------------ messages

  onMessage(message: mesos.v1.scheduler.Event.Message): void {
    let data: unknown;
    let taskId: string | undefined;
    try {
      const envelope = decodeMessageEnvelope(message.data);
      if (envelope.kind !== 'message') return;
      ({ data, taskId } = envelope);
    } catch {
      this.#out(
        `ignoring a framework message from ${message.executor_id.value} that is not a mesoskit envelope`,
      );
      return;
    }
    const crawl = taskId === undefined ? undefined : this.#crawls.get(taskId);
    if (crawl === undefined || crawl.printed || !isFinding(data)) return;
    this.#print(crawl, data, '');
  }

  #print(crawl: Crawl, finding: Finding, note: string): void {
    crawl.printed = true;
    this.#out(`${formatFinding(finding)}${note}`);
  }

  // ------------------------------------------------------------------ connection and failures

  async onSubscribed(info: SubscribedInfo): Promise<void> {
    if (!info.resubscribed) return;
    // Offers held before are gone, and SUPPRESS with them (a SUBSCRIBE without suppressed_roles
    // unsuppresses). Ask where our launched tasks are: the answers arrive as updates.
    this.#out(`resubscribed to ${info.master}; reconciling`);
    this.#suppressed = false;
    if (this.#queue.length > 0 && this.#needsRevive) {
      this.#needsRevive = false;
      await this.#client.revive().catch(() => undefined); // lift decline filters too
    }
    const live = [...this.#crawls.values()].filter(
      (c) => c.agentId !== undefined && !TERMINAL_TASK_STATES.has(c.state as mesos.v1.TaskState),
    );
    await this.#client
      .reconcile(live.map((c) => ({ taskId: c.id, ...(c.agentId !== undefined && { agentId: c.agentId }) })))
      .catch(() => undefined);
  }

  onFailure(failure: mesos.v1.scheduler.Event.Failure): void {
    const agentId = failure.agent_id?.value;
    if (agentId === undefined) return;
    if (failure.executor_id === undefined) {
      this.#running.delete(agentId); // the agent is gone, and its executors with it
      return;
    }
    this.#running.get(agentId)?.delete(failure.executor_id.value);
  }
}

/**
 * Whether a call failed because the subscription was lost (so the offer is gone, and the client
 * will re-subscribe) rather than because the master refused it: the client knew
 * (`NotSubscribedError`), the master knew first (`403 Framework is not subscribed`), or the
 * stream changed while the call was in flight (`400` for the old `Mesos-Stream-Id`).
 */
function lostSubscription(
  err: unknown,
  streamBefore: string | undefined,
  streamNow: string | undefined,
): boolean {
  if (err instanceof NotSubscribedError) return true;
  if (err instanceof MesosHttpError && err.status === 403 && err.body.includes('not subscribed')) return true;
  return streamBefore !== streamNow;
}

/** The abort line: state, reason, source and message of the update that ended the run. */
function abortLine(status: TaskStatus): string {
  return (
    `aborting: task ${status.task_id.value} is ${status.state}` +
    ` (reason: ${status.reason ?? 'none'}, source: ${status.source ?? 'none'}): ${status.message ?? 'no message'}`
  );
}

await runDemo(spec, async ({ values, common, masters, signal, out, err }) => {
  const timeoutMs = parseDuration(values.timeout ?? '2m');
  if (timeoutMs === undefined || timeoutMs <= 0) {
    err(`--timeout: not a duration: ${JSON.stringify(values.timeout)}`);
    return 2;
  }
  const started = performance.now();
  // The website agents crawl, and (with --ship-handlers) the handler bundle they fetch, are
  // served by this process on --listen (loopback by default), reached at --advertise.
  const site: Site = await startSite({ host: common.listen, advertise: common.advertise });
  let launch: ExecutorLaunch | undefined;
  try {
    launch = await prepareExecutorLaunch(import.meta.url, common);
    out(`site: ${site.url} (users ${USERS.map((u) => u.login).join(', ')})`);
    if (common.shipHandlers) out(`handlers: shipped from ${launch.handlers}`);
    const client = await MesosSchedulerClient.connect({
      master: masters,
      framework: {
        ...FRAMEWORK,
        ...(common.user !== undefined && { user: common.user }),
        // With credentials, say who we are: Mesos checks it against the authenticated principal.
        ...(common.credentials !== undefined && { principal: common.credentials.principal }),
      },
      ...(common.credentials !== undefined && { credentials: common.credentials }),
    });
    // Listeners go on right away, before any event after SUBSCRIBED is dispatched.
    const frameworkId = client.frameworkId!;
    const spider = new Pinspider(client, frameworkId, launch.command, out);
    client.on('offers', (offers) => spider.onOffers(offers));
    client.on('update', (status) => spider.onUpdate(status));
    client.on('message', (message) => spider.onMessage(message));
    client.on('failure', (failure) => spider.onFailure(failure));
    client.on('subscribed', (info) => spider.onSubscribed(info));
    out(
      `subscribed: framework ${frameworkId} (failover_timeout ${FAILOVER_TIMEOUT_SECONDS}s, checkpoint on)`,
    );

    for (const user of USERS) spider.enqueueProfile(user.login, site.profileUrl(user.login));
    if (values['fail-one']) spider.enqueueProfile('ghost', site.profileUrl('ghost')); // a 404

    const timer = setTimeout(
      () =>
        spider.settle({
          ok: false,
          line: `timed out after ${timeoutMs} ms with ${spider.finished} of ${spider.total} tasks finished; still open: ${spider.pending()}`,
        }),
      timeoutMs,
    );
    const onAbort = () => spider.settle({ ok: false, line: (signal.reason as Error).message });
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    client.closed().then((error) => {
      spider.settle({ ok: false, line: `the scheduler client closed: ${error?.message ?? 'closed'}` });
    });

    const outcome = await spider.outcome;
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
    // TEARDOWN: Mesos kills whatever still runs, shuts the executors down and forgets us.
    // (Called here, never inside a listener: teardown() closes the client, which waits for listeners.)
    await client.teardown().catch(() => client.close());
    if (!outcome.ok) {
      err(outcome.line);
      return 1;
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    out(
      `done: ${spider.finished} tasks finished (${spider.stats.profiles} profiles, ${spider.stats.boards} boards, ` +
        `${spider.stats.pins} pins) in ${seconds}s; framework torn down`,
    );
    return 0;
  } finally {
    await launch?.close();
    await site.close();
  }
});
