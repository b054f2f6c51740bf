import { mergeConfig } from 'vitest/config';
import { sharedConfig } from '../../vitest.shared.js';

// The tests run the built demos as child processes, each with a local cluster and real executor
// processes: a demo run gets 45 s (`test/run-demo.ts`, which then reports what it printed), the
// test a little more.
export default mergeConfig(sharedConfig, { test: { testTimeout: 60_000, hookTimeout: 30_000 } });
