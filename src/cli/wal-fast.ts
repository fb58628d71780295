import { loadConfig, loadEnv } from '../config.js';
import { reportError } from './report-error.js';
import { walFetchFailureCode } from './wal-fetch-exit.js';

// archive_command and restore_command run drctl once per WAL segment, so `drctl wal-push <p>`
// and `drctl wal-fetch <f> <p>` (optionally with --repo <url>) skip commander and the rest of
// the CLI. Any other shape of arguments goes through the full parser. The one npm package it
// may load is zstd-napi, when a segment is compressed or read with zstd: ~11 ms, less than
// spawning a zstd process would cost.

/** The exit code, or undefined when argv is not a plain wal-push/wal-fetch call. */
export async function walFastPath(argv: string[]): Promise<number | undefined> {
  let repoUrl: string | undefined;
  let envFile: string | undefined;
  let cmd: string | undefined;
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--repo' && argv[i + 1] !== undefined) repoUrl = argv[++i];
    else if (a === '--env-file' && argv[i + 1] !== undefined) envFile = argv[++i];
    else if (a.startsWith('-')) return undefined;
    else if (cmd === undefined) cmd = a;
    else args.push(a);
  }
  if (cmd !== 'wal-push' && cmd !== 'wal-fetch') return undefined;
  if (args.length !== (cmd === 'wal-push' ? 1 : 2)) return undefined;
  try {
    const env = await loadEnv(envFile);
    const config = await loadConfig(undefined, env);
    const { walPush, walFetch } = await import('./wal-run.js');
    const settings = { env, config };
    const repo = repoUrl ?? config.repo;
    return cmd === 'wal-push' ? await walPush(settings, repo, args[0]!) : await walFetch(settings, repo, args[0]!, args[1]!);
  } catch (err) {
    const code = await reportError(err);
    return cmd === 'wal-fetch' ? walFetchFailureCode() : code;
  }
}
