import type { Action, BackupKind } from '../types.js';
import { postgresArchiveNow } from './archive-now.js';
import { postgresAssert } from './assert.js';
import { postgresBackup } from './backup.js';
import { postgresCopyRows } from './copy-rows.js';
import { postgresHealth } from './health.js';
import { postgresPing } from './ping.js';
import { postgresPromote } from './promote.js';
import { postgresReplicaStatus } from './replica-status.js';
import { postgresStandby } from './standby.js';
import { postgresQuery } from './query.js';
import { postgresRestore } from './restore.js';
import { postgresStop } from './stop.js';

// postgres: logical (pg_dump) and base (pg_basebackup + WAL) backups, restore and PITR,
// queries, assertions and health.

export const actions: Action[] = [postgresPing, postgresQuery, postgresAssert, postgresBackup, postgresRestore, postgresHealth, postgresCopyRows, postgresStop, postgresArchiveNow, postgresPromote, postgresReplicaStatus, postgresStandby];
// The test restores load their machinery (clusters, PITR) only when one runs: validate and
// --help read this file too.
export const backupKinds: BackupKind[] = [
  // A pg_dump snapshot: a test restore must reproduce its statistics exactly.
  { name: 'logical', restore: postgresRestore, testRestore: async (...a) => (await import('./test-restore.js')).testRestoreLogical(...a), exactStats: true },
  { name: 'base', restore: postgresRestore, testRestore: async (ctx, repo, m) => (await import('./test-restore.js')).testRestoreBase(ctx, repo, m) },
];
