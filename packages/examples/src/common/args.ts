/**
 * Command-line flags every demo shares (`--master`, `--executor-command`, `--agents`,
 * `--principal`/`--secret-file`, `--help`), parsed together with a demo's own flags by
 * `node:util`'s `parseArgs`.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { type ParseArgsConfig, parseArgs } from 'node:util';

/** A demo's flags, in `parseArgs` form. */
export type DemoOptions = NonNullable<ParseArgsConfig['options']>;
type Options = DemoOptions;

/** What a demo declares about its command line. */
export interface DemoSpec<O extends Options> {
  /** The demo's name, e.g. `pinspider`; prefixes its messages. */
  name: string;
  /** One line saying what the demo does. */
  description: string;
  /** The demo's own flags, in `parseArgs` form. */
  options: O;
  /** Usage lines for the demo's own flags, e.g. `--fail-one   make one task fail on purpose`. */
  usage: readonly string[];
}

/** The shared flags, parsed. */
export interface CommonArgs {
  /** `--master` (repeatable, or comma-separated); undefined = start an embedded local cluster. */
  masters: string[] | undefined;
  /** `--executor-command`: replaces `exec <node> <executor cli.js>` before `--handlers`. */
  executorLauncher: string | undefined;
  /** `--agents`: agents of the embedded local cluster. */
  agents: number;
  /** `--principal` and the contents of `--secret-file`: HTTP Basic credentials for the master. */
  credentials: { principal: string; secret: string } | undefined;
  /** `--user`: the account tasks and executors run as on the agents (default: this OS user). */
  user: string | undefined;
  /** `--ship-handlers`: agents fetch the handler bundle from this process (`CommandInfo.uris`). */
  shipHandlers: boolean;
  /** `--listen`: where this process's HTTP servers listen (shipped handlers, a demo's site). */
  listen: string;
  /** `--advertise`: the host name agents use to reach those servers (default: `listen`). */
  advertise: string;
}

/** A bad command line; the message names the flag. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const COMMON_OPTIONS = {
  master: { type: 'string', multiple: true },
  'executor-command': { type: 'string' },
  agents: { type: 'string' },
  principal: { type: 'string' },
  user: { type: 'string' },
  'secret-file': { type: 'string' },
  'ship-handlers': { type: 'boolean' },
  listen: { type: 'string' },
  advertise: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

const COMMON_USAGE = [
  '--master URL               a Mesos master (repeat the flag, or separate URLs with commas, for',
  '                           several); default: start an embedded local cluster and stop it at the end',
  '--agents N                 agents of the embedded local cluster (default 1)',
  '--executor-command CMD     how agents start the executor, before "--handlers <module>"',
  '                           (default: exec <this node> <@mesoskit/executor dist/cli.js>),',
  '                           e.g. "exec mesoskit-executor" where it is installed globally',
  '--principal NAME           authenticate to the master with HTTP Basic as NAME ...',
  '--secret-file FILE         ... and the secret in FILE (trailing newline ignored)',
  "--user NAME                FrameworkInfo.user: the agents' account executors run as",
  '                           (default: the user running this demo; it must exist on the agents)',
  '--ship-handlers            agents download the handler module (one bundled file) from this',
  '                           process with CommandInfo.uris, instead of reading it from this',
  "                           machine's disk; then agents only need node and the executor",
  '--listen HOST              where this process serves HTTP to agents (default 127.0.0.1)',
  '--advertise HOST           the host name agents use to reach it (default: --listen)',
  '-h, --help                 print this help',
];

/** The `--help` text of a demo. */
export function usage(spec: DemoSpec<Options>): string {
  const lines = [
    `usage: ${spec.name} [flags]`,
    '',
    spec.description,
    '',
    'flags:',
    ...spec.usage.map((l) => `  ${l}`),
    ...COMMON_USAGE.map((l) => `  ${l}`),
  ];
  return `${lines.join('\n')}\n`;
}

export type ParsedArgs<O extends Options> = ReturnType<
  typeof parseArgs<{ options: O; strict: true }>
>['values'];

/**
 * Parses `argv` (without node and script). Returns `undefined` for `--help`.
 *
 * @throws {UsageError} naming the flag, for unknown flags, missing values or bad values.
 */
export function parseDemoArgs<O extends Options>(
  spec: DemoSpec<O>,
  argv: string[],
): { common: CommonArgs; values: ParsedArgs<O> } | undefined {
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({
      // `pnpm demo:x -- --flag` passes the `--` on: skip a leading one.
      args: argv[0] === '--' ? argv.slice(1) : argv,
      options: { ...spec.options, ...COMMON_OPTIONS },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help === true) return undefined;

  const masterFlags = v.master as string[] | undefined;
  let masters: string[] | undefined;
  if (masterFlags !== undefined) {
    masters = masterFlags.flatMap((m) => m.split(',')).map((m) => m.trim());
    for (const m of masters) {
      let url: URL;
      try {
        url = new URL(m);
      } catch {
        throw new UsageError(`--master: not a URL: ${JSON.stringify(m)}`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new UsageError(`--master: not an http(s) URL: ${JSON.stringify(m)}`);
      }
    }
  }

  const agents = v.agents === undefined ? 1 : Number(v.agents);
  if (!Number.isSafeInteger(agents) || agents < 1) {
    throw new UsageError(`--agents: expected a positive integer, got ${JSON.stringify(v.agents)}`);
  }
  if (v.agents !== undefined && masters !== undefined) {
    throw new UsageError('--agents sizes the embedded local cluster; it cannot be used with --master');
  }

  const launcher = v['executor-command'] as string | undefined;
  if (launcher !== undefined && launcher.trim() === '') {
    throw new UsageError('--executor-command: expected a command, got an empty string');
  }

  const principal = v.principal as string | undefined;
  const secretFile = v['secret-file'] as string | undefined;
  if ((principal === undefined) !== (secretFile === undefined)) {
    throw new UsageError('--principal and --secret-file go together');
  }
  let credentials: CommonArgs['credentials'];
  if (principal !== undefined && secretFile !== undefined) {
    let secret: string;
    try {
      secret = readFileSync(secretFile, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new UsageError(`--secret-file: cannot read ${secretFile}: ${(err as Error).message}`);
    }
    credentials = { principal, secret };
  }

  const listen = (v.listen as string | undefined) ?? '127.0.0.1';
  const advertise = (v.advertise as string | undefined) ?? listen;
  if (listen === '' || advertise === '') throw new UsageError('--listen and --advertise need a host');

  return {
    common: {
      masters,
      executorLauncher: launcher,
      agents,
      credentials,
      user: v.user as string | undefined,
      shipHandlers: v['ship-handlers'] === true,
      listen,
      advertise,
    },
    values: v as ParsedArgs<O>,
  };
}
