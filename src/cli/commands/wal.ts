import type { Command } from 'commander';
import type { Action } from '../program.js';

// drctl wal-push <path> (archive_command 'drctl wal-push %p') and
// drctl wal-fetch <name> <dest> (restore_command 'drctl wal-fetch %f %p'). They run once per
// WAL segment under the server, so they load only the repository's lean core.
export function registerWal(program: Command, act: Action): void {
  program
    .command('wal-push')
    .argument('<path>', 'WAL file, as PostgreSQL passes %p')
    .option('--repo <url>', 'repository (default: config repo, DRCTL_REPO)')
    .action(
      act(async (ctx, o: { repo?: string }, file: string) => {
        const { RepoHandle } = await import('../../repository/repo-handle.js');
        const { pushWal } = await import('../../pitr/wal-archive.js');
        const repo = await RepoHandle.open(o.repo ?? ctx.config.repo, { env: ctx.env, config: ctx.config }, { create: true });
        await pushWal(repo, file);
        return 0;
      }),
    );

  program
    .command('wal-fetch')
    .argument('<name>', 'WAL file name, as PostgreSQL passes %f')
    .argument('<dest>', 'where to write it, as PostgreSQL passes %p')
    .option('--repo <url>', 'repository (default: config repo, DRCTL_REPO)')
    .action(
      act(async (ctx, o: { repo?: string }, name: string, dest: string) => {
        const { RepoHandle } = await import('../../repository/repo-handle.js');
        const { fetchWal } = await import('../../pitr/wal-archive.js');
        const repo = await RepoHandle.open(o.repo ?? ctx.config.repo, { env: ctx.env, config: ctx.config });
        // Not archived: exit 1 without a word, as PostgreSQL expects while it probes.
        return (await fetchWal(repo, name, dest)) ? 0 : 1;
      }),
    );
}
