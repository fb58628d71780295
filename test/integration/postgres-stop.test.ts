import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScratchCluster, type ScratchCluster } from '../../src/adapters/postgres/scratch-cluster.js';
import { postgresStop } from '../../src/adapters/postgres/stop.js';
import type { ActionContext } from '../../src/adapters/types.js';

// postgres.stop does what its mode says: the server's own log names the shutdown it received.

describe('postgres.stop', () => {
  let root: string;
  const clusters: ScratchCluster[] = [];

  beforeAll(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'drctl-stop-'));
  });
  afterAll(async () => {
    for (const c of clusters) await c.stop();
    rmSync(root, { recursive: true, force: true });
  });

  function ctx(): ActionContext {
    return {
      signal: new AbortController().signal,
      runId: 'test',
      stepId: 'stop',
      kind: 'run',
      env: { ...process.env, TMPDIR: root },
      config: {},
      stateDir: path.join(root, 'state'),
      log: () => {},
      progress: () => {},
      confirm: async () => true,
      secret: () => {},
      backupKinds: new Map(),
    };
  }

  for (const mode of ['smart', 'fast', 'immediate'] as const) {
    it(`mode ${mode} asks the server for a ${mode} shutdown`, async () => {
      const c = ctx();
      const scratch = await startScratchCluster(c.env, c.signal);
      clusters.push(scratch);
      const out = await postgresStop.run(c, { dataDir: scratch.dataDir, mode });
      expect(out.stopped).toBe(true);
      expect(readFileSync(path.join(scratch.dir, 'log'), 'utf8')).toContain(`received ${mode} shutdown request`);
      expect(await postgresStop.run(c, { dataDir: scratch.dataDir, mode })).toEqual({ stopped: false });
    });
  }
});
