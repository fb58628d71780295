import { chmodSync, mkdtempSync, readdirSync, rmdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';

// vitest globalSetup: this run gets one private directory under the system temp dir, and each
// test file works in its own temp root inside it (test/support/temp-root.ts). At the end the
// run's directory must be empty: a root left behind fails the run. Only this run's directory is
// ever listed, never the shared temp dir that other runs and programs write to.

declare module 'vitest' {
  export interface ProvidedContext {
    tempRunDir: string;
  }
}

export default function setup(project: TestProject): () => void {
  const runDir = mkdtempSync(path.join(os.tmpdir(), 'drctl-'));
  // As root, the tests run PostgreSQL as the postgres user, which must be able to reach its dirs.
  chmodSync(runDir, 0o755);
  project.provide('tempRunDir', runDir);
  return () => {
    const left = readdirSync(runDir);
    if (left.length) throw new Error(`test temp roots left behind in ${runDir}: ${left.join(', ')}`);
    rmdirSync(runDir);
  };
}
