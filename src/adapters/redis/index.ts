import type { Action, BackupKind } from '../types.js';
import { redisPing } from './ping.js';
import { redisBackup } from './backup.js';
import { redisRestore } from './restore.js';

// redis: RDB snapshots into and out of the repository.

export const actions: Action[] = [redisPing, redisBackup, redisRestore];
export const backupKinds: BackupKind[] = [{ name: 'redis', restore: redisRestore }];
