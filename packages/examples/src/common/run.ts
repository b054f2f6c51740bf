/**
 * `runDemo()`: the frame every demo's `main.ts` runs in. It parses the flags, starts an
 * embedded local cluster when no `--master` is given (and stops it at the end, whatever
 * happens), turns SIGINT/SIGTERM into an `AbortSignal`, and sets the exit code the demo returns.
 *
 * @module
 */
import { type LocalCluster, startLocalCluster } from '@mesoskit/local-cluster';
import {
  type CommonArgs,
  type DemoSpec,
  type DemoOptions as Options,
  type ParsedArgs,
  parseDemoArgs,
  UsageError,
  usage,
} from './args.js';

/** What a demo's main function gets. */
export interface DemoContext<V> {
  /** The demo's own flags. */
  values: V;
  /** The shared flags. */
  common: CommonArgs;
  /** The master URLs to subscribe to: `--master`, or the embedded local cluster's. */
  masters: string[];
  /** The embedded local cluster, when no `--master` was given. */
  cluster: LocalCluster | undefined;
  /** Aborted on SIGINT or SIGTERM: stop, clean up, and return. */
  signal: AbortSignal;
  /** Writes a line to stdout. */
  out(line: string): void;
  /** Writes a line to stderr, prefixed with the demo's name. */
  err(line: string): void;
}

/** Runs a demo; `main` resolves with the process's exit code. */
export async function runDemo<O extends Options>(
  spec: DemoSpec<O>,
  main: (ctx: DemoContext<ParsedArgs<O>>) => Promise<number>,
  argv: string[] = process.argv.slice(2),
): Promise<void> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const err = (line: string) => process.stderr.write(`${spec.name}: ${line}\n`);

  let parsed: ReturnType<typeof parseDemoArgs<O>>;
  try {
    parsed = parseDemoArgs(spec, argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    err(e.message);
    process.stderr.write(`run "${spec.name} --help" for the flags\n`);
    process.exitCode = 2;
    return;
  }
  if (parsed === undefined) {
    process.stdout.write(usage(spec as DemoSpec<Options>));
    return;
  }
  const { common, values } = parsed;

  const abort = new AbortController();
  let signals = 0;
  const onSignal = (name: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      err(`${name} again: exiting without cleaning up`);
      process.exit(130);
    }
    err(`${name}: stopping (again to exit at once)`);
    abort.abort(new Error(`interrupted by ${name}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let cluster: LocalCluster | undefined;
  let code = 1;
  try {
    if (common.masters === undefined) {
      cluster = await startLocalCluster({ agents: common.agents });
      out(
        `local cluster: master ${cluster.masterUrl}, ${common.agents} agent${common.agents === 1 ? '' : 's'}`,
      );
    }
    const masters = common.masters ?? [cluster!.masterUrl];
    if (!abort.signal.aborted) {
      code = await main({ values, common, masters, cluster, signal: abort.signal, out, err });
    }
    if (abort.signal.aborted) code = 130;
  } catch (e) {
    // One line; NODE_DEBUG-style detail only when asked for.
    const detail =
      e instanceof Error ? (process.env.MESOSKIT_DEBUG ? (e.stack ?? e.message) : e.message) : String(e);
    err(`failed: ${detail}`);
    code = 1;
  } finally {
    if (cluster !== undefined) {
      try {
        await cluster.stop();
      } catch (e) {
        err(`could not stop the local cluster: ${(e as Error).message}`);
      }
    }
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  process.exitCode = code;
}
