import { OperationError } from '../../errors.js';
import { openRepo } from '../repo-settings.js';

/** The repository for env files: it must be encrypted, since env files hold secrets. */
export async function encryptedRepo(ctx: Parameters<typeof openRepo>[0], url: string | undefined, create: boolean) {
  const repo = await openRepo(ctx, url, { create });
  if (!repo.encrypted) {
    throw new OperationError('env.unencrypted', `${repo.storage.location} is not encrypted: env files hold secrets, so env backups need a repository created with DRCTL_ENCRYPTION_KEY`);
  }
  return repo;
}
