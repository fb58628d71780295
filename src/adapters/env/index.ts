import type { Action, BackupKind } from '../types.js';
import { envBackup } from './backup.js';
import { envRestore } from './restore.js';

// env: .env files, encrypted, into and out of the repository.

export const actions: Action[] = [envBackup, envRestore];
export const backupKinds: BackupKind[] = [{ name: 'env', restore: envRestore }];
