// A framework that uses only the installed packages: a local cluster, a TaskScheduler, and the
// executor installed globally on the "agent". Usage: node framework.mjs <mesoskit-executor path> <agent PATH>
import { startLocalCluster } from '@mesoskit/local-cluster';
import { nodeExecutor, TaskScheduler } from '@mesoskit/scheduler';
import { square } from './tasks.mjs';

const [executorBin, agentPath] = process.argv.slice(2);
const cluster = await startLocalCluster({ executorEnvironment: { PATH: agentPath } });
try {
  const scheduler = await TaskScheduler.connect({
    master: cluster.masterUrl,
    framework: { name: 'packaged' },
    executors: nodeExecutor({
      command: `exec ${executorBin}`,
      handlers: new URL('./handlers.mjs', import.meta.url).href,
    }),
  });
  const results = await Promise.all([1, 2, 3].map((n) => scheduler.run(square, { n })));
  for (const [i, r] of results.entries()) console.log(`square(${i + 1}) = ${r.square} by ${r.executor}`);
  console.log(`executor processes: ${new Set(results.map((r) => r.pid)).size}`);
  await scheduler
    .run(square, { n: -1 })
    .catch((err) => console.log(`square(-1) failed: ${err.code} ${err.cause.code}`));
  await scheduler.stop();
} finally {
  await cluster.stop();
}
console.log(`resolved from ${import.meta.resolve('@mesoskit/scheduler')}`);
