import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, inject } from 'vitest';

// vitest setupFiles: every test file gets a private temp root, and TMPDIR points at it, so
// everything the file creates — its own temp dirs and those of the drctl processes it starts
// (scratch clusters, spools) — lands there, no test ever sees another file's directories, and
// the whole root is removed when the file is done.

const shared = os.tmpdir();
const root = mkdtempSync(path.join(inject('tempRunDir'), 'r-'));
// As root, the tests run PostgreSQL as the postgres user, which must be able to reach its dirs.
chmodSync(root, 0o755);
process.env.TMPDIR = root;

afterAll(() => {
  process.env.TMPDIR = shared;
  rmSync(root, { recursive: true, force: true });
});
