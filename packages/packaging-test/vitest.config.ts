import { mergeConfig } from 'vitest/config';
import { sharedConfig } from '../../vitest.shared.js';

// Packing and the two npm installs run in beforeAll (200 s, set there), the framework run in a
// test (60 s; its child process gets 45 s). Each step has its own, shorter limit that reports the
// step's name, command line and output (test/packaged.test.ts), so a slow step fails with that
// message rather than a bare vitest timeout. Warm, the whole file takes a few seconds.
export default mergeConfig(sharedConfig, { test: { testTimeout: 60_000, hookTimeout: 200_000 } });
