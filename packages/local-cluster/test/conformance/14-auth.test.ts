/**
 * Capture 14: HTTP framework authentication (Basic): 401 with `WWW-Authenticate` for missing,
 * wrong or malformed credentials, 400 for a principal mismatch, 200 with or without a
 * principal in FrameworkInfo, 401 for any later call without credentials, read-only endpoints
 * open. Executor calls need no credentials (no executor authentication in the captured build).
 */
import { it } from 'vitest';
import { capturedRuns, compareExecutorRun } from './executor-side.js';
import { conformance } from './harness.js';
import { runScenario } from './replay.js';

const setup = conformance();

it('conformance: 14-auth', async () => {
  const { replay, out } = await setup('14-auth', {
    credentials: [{ principal: 'capture-principal', secret: 'capture-secret' }],
  });
  await runScenario(replay, {
    // The body is the whole master state; its shape is not this scenario's subject.
    // Captured by reading its first 1.5 s, then closing (failover_timeout 0: the framework and
    // its offer go away, so the next framework gets the agent's offer).
    '07-subscribe-right-auth-no-principal-in-frameworkinfo': {
      after: (r) => r.stream('subscribe-right-auth-no-principal-in-frameworkinfo').close(),
    },
    '08-GET-master-state-no-auth': { compareBody: false },
    '19-teardown': { after: async (r) => void (await r.stream('subscribe-right-auth').end()) },
  });
  // The executor side: it made no calls of its own that needed credentials.
  await compareExecutorRun(replay, capturedRuns('14-auth')[0]!, out);
});

// Executor authentication (`--authenticate_http_executors`, a JWT in
// MESOS_EXECUTOR_AUTHENTICATION_TOKEN) exists only in SSL builds of Mesos; the captured build had
// none (every executor call above was accepted without credentials), and the local cluster does
// not implement it either: nothing to compare.
it.skip('conformance: 14-auth executor authentication (not captured, not built)', () => {});
