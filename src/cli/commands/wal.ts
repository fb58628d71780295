import type { Command } from 'commander';
import type { Action } from '../program.js';
import { walFetch, walPush } from '../wal-run.js';

// drctl wal-push <path> (archive_command 'drctl wal-push %p') and
// drctl wal-fetch <name> <dest> (restore_command 'drctl wal-fetch %f %p'). A plain call takes
// the fast entry (wal-fast.ts) and never reaches here; these declare the commands for --help and
// completion and serve the calls with global options. Both run the one implementation in wal-run.ts.
export function registerWal(program: Command, act: Action): void {
  program
    .command('wal-push')
    .argument('<path>', 'WAL file, as PostgreSQL passes %p')
    .option('--repo <url>', 'repository (default: config repo, DRCTL_REPO)')
    .action(
      act(async (ctx, o: { repo?: string }, file: string) => {
        return walPush({ env: ctx.env, config: ctx.config }, o.repo ?? ctx.config.repo, file);
      }),
    );

  program
    .command('wal-fetch')
    .argument('<name>', 'WAL file name, as PostgreSQL passes %f')
    .argument('<dest>', 'where to write it, as PostgreSQL passes %p')
    .option('--repo <url>', 'repository (default: config repo, DRCTL_REPO)')
    .action(
      act(async (ctx, o: { repo?: string }, name: string, dest: string) => {
        return walFetch({ env: ctx.env, config: ctx.config }, o.repo ?? ctx.config.repo, name, dest);
      }),
    );
}
