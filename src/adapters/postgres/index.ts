import type { Action, BackupKind } from '../types.js';
import { postgresArchiveNow } from './archive-now.js';
import { postgresAssert } from './assert.js';
import { postgresBackup } from './backup.js';
import { postgresCopyRows } from './copy-rows.js';
import { postgresHealth } from './health.js';
import { postgresPing } from './ping.js';
import { postgresQuery } from './query.js';
import { postgresRestore } from './restore.js';
import { postgresStop } from './stop.js';
import { testRestoreBase, testRestoreLogical } from './test-restore.js';

// postgres: logical (pg_dump) and base (pg_basebackup + WAL) backups, restore and PITR,
// queries, assertions and health.

export const actions: Action[] = [postgresPing, postgresQuery, postgresAssert, postgresBackup, postgresRestore, postgresHealth, postgresCopyRows, postgresStop, postgresArchiveNow];
export const backupKinds: BackupKind[] = [
  // A pg_dump snapshot: a test restore must reproduce its statistics exactly.
  { name: 'logical', restore: postgresRestore, testRestore: testRestoreLogical, exactStats: true },
  { name: 'base', restore: postgresRestore, testRestore: testRestoreBase },
];
