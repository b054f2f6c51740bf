import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chooseTempRoot } from '../../src/temp-dir.js';

describe('temporary work dirs', () => {
  it('follow TMPDIR when it is set', () => {
    expect(chooseTempRoot({ TMPDIR: tmpdir() })).toBe(tmpdir());
  });

  it('go to /dev/shm only where it is a tmpfs that can run a sandbox script, else to os.tmpdir()', () => {
    const root = chooseTempRoot({});
    expect([tmpdir(), '/dev/shm']).toContain(root);
    const dir = mkdtempSync(join(root, 'mesoskit-temp-test-'));
    try {
      const script = join(dir, 'run.sh');
      writeFileSync(script, '#!/bin/sh\necho ran\n');
      chmodSync(script, 0o755);
      expect(execFileSync(script, { encoding: 'utf8' })).toBe('ran\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
