import type { Action, BackupKind } from '../types.js';
import { envBackup, envRestore } from './env-file.js';

// env: .env files, encrypted, into and out of the repository.

export const actions: Action[] = [envBackup, envRestore];
export const backupKinds: BackupKind[] = [{ name: 'env', restore: envRestore }];
