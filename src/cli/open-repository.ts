import { builtInBackupKinds } from '../adapters/registry.js';
import type { OpenOptions } from '../repository/repo-handle.js';
import { Repository } from '../repository/repository.js';

// Opens the repository a command names (or the configured one) knowing the backup kinds every
// built-in adapter declares, so a manifest of an unknown kind is reported, not trusted.
export function openRepository(ctx: { env: Record<string, string | undefined>; config: Record<string, unknown> }, url: string | undefined, o: OpenOptions = {}): Promise<Repository> {
  return Repository.open(url, { env: ctx.env, config: ctx.config }, { ...o, kinds: builtInBackupKinds() });
}
