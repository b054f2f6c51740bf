import { mergeConfig } from 'vitest/config';
import { sharedConfig } from '../../vitest.shared.js';

// One test: pack, npm install (the registry for third-party dependencies), a global install and a
// framework run. Each step has its own time limit (test/packaged.test.ts) that reports what the
// step printed; the test's own limit is the sum, with room to spare.
export default mergeConfig(sharedConfig, { test: { testTimeout: 150_000, hookTimeout: 30_000 } });
