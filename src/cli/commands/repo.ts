import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import type { Action } from '../program.js';
import { openRepository } from '../open-repository.js';
import { registerRepoUnlock } from './repo-unlock.js';
import { ConfirmationError, UsageError } from '../../errors.js';
import { passphraseFromEnv } from '../../repository/crypto.js';
import { openStorage } from '../../repository/open-storage.js';
import { listWal } from '../../pitr/wal-archive.js';
import { formatBytes } from '../../format.js';
import { RepoHandle, INFO_COPY_KEY, INFO_KEY, REPO_FORMAT, createInfo, holdsData, newInfo, refuseLostInfo } from '../../repository/repo-handle.js';

// drctl repo init|info|key change|unlock: a repository's life cycle. Each subcommand here is
// one entry of SUBCOMMANDS; unlock registers itself from its own module.

interface Subcommand {
  /** Words after `repo` ("init", "key change"). */
  path: string[];
  summary: string;
  options?: [flags: string, description: string][];
  run: (ctx: CliContext, o: Record<string, string | boolean | undefined>) => Promise<number>;
}

const REPO_OPTION: [string, string] = ['--repo <url>', 'repository: file:///path or s3://bucket/prefix (default: config repo, DRCTL_REPO)'];

export const SUBCOMMANDS: Subcommand[] = [
  {
    path: ['init'],
    summary: 'create an empty repository (format 2); --encrypt takes the passphrase from DRCTL_ENCRYPTION_KEY or DRCTL_ENCRYPTION_KEY_FILE',
    options: [REPO_OPTION, ['--encrypt', 'encrypt everything stored (needs DRCTL_ENCRYPTION_KEY or DRCTL_ENCRYPTION_KEY_FILE)']],
    run: repoInit,
  },
  {
    path: ['info'],
    summary: 'format, encryption, creation time, and the number and size of backups and archived WAL',
    options: [REPO_OPTION, ['--json', 'print as JSON']],
    run: repoInfo,
  },
  {
    path: ['key', 'change'],
    summary: 'wrap the master key under a new passphrase (DRCTL_NEW_ENCRYPTION_KEY or _FILE); no data is re-encrypted; asks first',
    options: [REPO_OPTION],
    run: keyChange,
  },
];

/** One line for each word that groups subcommands. */
const GROUPS: Record<string, string> = { key: 'the passphrase that unlocks an encrypted repository' };

export function registerRepo(program: Command, act: Action): void {
  const repo = program.command('repo');
  const groups = new Map<string, Command>();
  for (const sub of SUBCOMMANDS) {
    let parent = repo;
    for (const word of sub.path.slice(0, -1)) {
      let g = groups.get(word);
      if (!g) {
        g = parent.command(word).description(GROUPS[word] ?? '');
        groups.set(word, g);
      }
      parent = g;
    }
    const c = parent.command(sub.path[sub.path.length - 1]!).description(sub.summary);
    for (const [flags, description] of sub.options ?? []) c.option(flags, description);
    c.action(act(async (ctx, o: Record<string, string | boolean | undefined>) => sub.run(ctx, o)));
  }
  registerRepoUnlock(repo, act);
}

function repoUrl(ctx: CliContext, o: Record<string, string | boolean | undefined>): string | undefined {
  return (o.repo as string | undefined) ?? ctx.config.repo;
}

async function repoInit(ctx: CliContext, o: Record<string, string | boolean | undefined>): Promise<number> {
  const where = repoUrl(ctx, o) ?? ctx.env.DRCTL_REPO;
  if (!where) throw new UsageError('usage.repo', 'no repository: pass --repo, set repo: in drctl.yaml, or set DRCTL_REPO');
  const passphrase = await passphraseFromEnv(ctx.env);
  if (o.encrypt && !passphrase) throw new UsageError('usage.key', '--encrypt: set DRCTL_ENCRYPTION_KEY or DRCTL_ENCRYPTION_KEY_FILE to the passphrase');
  if (!o.encrypt && passphrase) throw new UsageError('usage.key', 'DRCTL_ENCRYPTION_KEY is set: pass --encrypt to create an encrypted repository, or unset it');
  const storage = await openStorage(where, { env: ctx.env, config: ctx.config });
  const existing = await storage.stat(INFO_KEY);
  if (existing) throw new UsageError('usage.repo', `${storage.location} is already a drctl repository (drctl repo info shows it)`);
  if (await storage.stat(INFO_COPY_KEY)) {
    throw new UsageError('usage.repo', `${storage.location} is a drctl repository whose ${INFO_KEY} is missing: any other drctl command restores it from ${INFO_COPY_KEY}`);
  }
  if (await holdsData(storage)) throw refuseLostInfo(storage);
  if (ctx.dryRun) {
    process.stdout.write(`would create repository ${storage.location} (format ${REPO_FORMAT}, ${passphrase ? 'encrypted' : 'not encrypted'})\n`);
    return 0;
  }
  const fresh = await newInfo(passphrase);
  if (!(await createInfo(storage, fresh.info))) throw new UsageError('usage.repo', `${storage.location} is already a drctl repository (created just now by another process)`);
  process.stdout.write(`created repository ${storage.location} (format ${REPO_FORMAT}, ${describeEncryption(fresh.info)})\n`);
  return 0;
}

function describeEncryption(info: { encryption?: { kdf: string; N: number; r: number; p: number } }): string {
  const e = info.encryption;
  if (!e) return 'not encrypted';
  return `encrypted: AES-256-GCM, key from ${e.kdf} N=2^${Math.log2(e.N)} r=${e.r} p=${e.p}`;
}

async function repoInfo(ctx: CliContext, o: Record<string, string | boolean | undefined>): Promise<number> {
  const repo = await openRepository(ctx, repoUrl(ctx, o));
  const [cat, wal] = await Promise.all([repo.catalog(), listWal(repo)]);
  const kinds: Record<string, { count: number; size: number; storedSize: number }> = {};
  for (const b of cat.backups) {
    const k = (kinds[b.kind] ??= { count: 0, size: 0, storedSize: 0 });
    k.count++;
    k.size += b.size;
    k.storedSize += b.storedSize;
  }
  const info = repo.infoFile;
  const summary = {
    location: repo.storage.location,
    format: info.format,
    upgradedFrom: info.upgradedFrom,
    encrypted: repo.encrypted,
    encryption: info.encryption ? { cipher: 'aes-256-gcm', kdf: info.encryption.kdf, N: info.encryption.N, r: info.encryption.r, p: info.encryption.p } : undefined,
    created: info.created,
    backups: {
      count: cat.backups.length,
      size: cat.backups.reduce((a, b) => a + b.size, 0),
      storedSize: cat.backups.reduce((a, b) => a + b.storedSize, 0),
      byKind: kinds,
      damaged: cat.damaged.length,
      incomplete: cat.orphans.length,
    },
    wal: {
      count: wal.length,
      storedSize: wal.reduce((a, w) => a + w.size, 0),
      first: wal[0]?.name,
      last: wal[wal.length - 1]?.name,
    },
  };
  if (o.json) {
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    return 0;
  }
  const lines = [
    `repository  ${summary.location}`,
    `format      ${summary.format}${summary.upgradedFrom ? ` (upgraded from format ${summary.upgradedFrom})` : ''}`,
    `encryption  ${describeEncryption(info)}`,
    `created     ${summary.created}`,
    `backups     ${summary.backups.count} (${formatBytes(summary.backups.size)} of data, ${formatBytes(summary.backups.storedSize)} stored)${Object.entries(kinds)
      .map(([k, v]) => `; ${k} ${v.count}`)
      .join('')}`,
    `WAL         ${summary.wal.count} files, ${formatBytes(summary.wal.storedSize)} stored${summary.wal.first ? ` (${summary.wal.first} .. ${summary.wal.last})` : ''}`,
  ];
  if (summary.backups.damaged) lines.push(`warning     ${summary.backups.damaged} backup(s) with a manifest that cannot be trusted (drctl backups list names them)`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

async function keyChange(ctx: CliContext, o: Record<string, string | boolean | undefined>): Promise<number> {
  const next = await passphraseFromEnv(ctx.env, 'DRCTL_NEW_ENCRYPTION_KEY');
  if (!next) throw new UsageError('usage.key', 'repo key change: set DRCTL_NEW_ENCRYPTION_KEY or DRCTL_NEW_ENCRYPTION_KEY_FILE to the new passphrase (DRCTL_ENCRYPTION_KEY holds the current one)');
  const repo = await RepoHandle.open(repoUrl(ctx, o), { env: ctx.env, config: ctx.config });
  if (!repo.encrypted) throw new UsageError('usage.key', `${repo.storage.location} is not encrypted: there is no key to change`);
  if (next === (await passphraseFromEnv(ctx.env))) throw new UsageError('usage.key', 'repo key change: the new passphrase is the current one');
  if (ctx.dryRun) {
    process.stdout.write(`would wrap the master key of ${repo.storage.location} under the new passphrase (no data re-encrypted)\n`);
    return 0;
  }
  const ok = await ctx.confirm(`Change the passphrase of ${repo.storage.location}? The current one stops working at once (every host that uses it needs the new one)`);
  if (!ok) throw new ConfirmationError('confirm.declined', `declined: the passphrase of ${repo.storage.location} is unchanged`);
  await repo.changePassphrase(next);
  process.stdout.write(`changed the passphrase of ${repo.storage.location}: the master key is wrapped under the new one; no data was re-encrypted\n`);
  return 0;
}
