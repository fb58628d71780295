import type { Command } from 'commander';
import type { Action } from '../program.js';
import { formatTable } from '../../report/table.js';
import { formatBytes } from '../../format.js';
import { parseDuration } from '../../time/duration.js';
import { intFlag } from '../flags.js';
import { secrets } from '../../redact.js';
import { openRepository } from '../open-repository.js';
import { collect } from '../program.js';
import { expire } from '../../pitr/expire.js';
import * as output from '../output.js';

// drctl backups list|show|expire: the catalog and retention of a repository.
export function registerBackups(program: Command, act: Action): void {
  const backups = program.command('backups');

  backups
    .command('list')
    .description('backups with a valid manifest, oldest first')
    .option('--repo <url>', 'repository (default: config repo, DRCTL_REPO)')
    .option('--json', 'print as JSON')
    .action(
      act(async (ctx, o: { repo?: string; json?: boolean }) => {
        const repo = await openRepository(ctx, o.repo);
        const cat = await repo.catalog();
        if (o.json) {
          process.stdout.write(`${JSON.stringify(cat.backups.map(summary), null, 2)}\n`);
          return 0;
        }
        const rows = cat.backups.map((b) => [b.id, b.kind, b.recoveryPoint, formatBytes(b.size), formatBytes(b.storedSize), String(b.source.database ?? ''), b.label ?? '']);
        process.stdout.write(rows.length ? formatTable(['id', 'kind', 'data as of', 'size', 'stored', 'database', 'label'], rows) : `no backups in ${repo.storage.location}\n`);
        for (const d of cat.damaged) process.stderr.write(`warning: ${d.id} not listed: ${d.problem}\n`);
        if (cat.orphans.length) process.stderr.write(`note: ${cat.orphans.length} incomplete backup(s) without a manifest (backups expire --confirm removes them)\n`);
        return 0;
      }),
    );

  backups
    .command('show')
    .description('the manifest of one backup')
    .argument('<id>', 'backup id or latest')
    .option('--repo <url>', 'repository')
    .action(
      act(async (ctx, o: { repo?: string }, id: string) => {
        const repo = await openRepository(ctx, o.repo);
        // Showing the newest backup of whichever database restores nothing: no need to choose.
        const m = await repo.resolve(id, undefined, { anySource: true });
        process.stdout.write(`${JSON.stringify(m, null, 2)}\n`);
        return 0;
      }),
    );

  backups
    .command('expire')
    .description('apply retention, remove the backups named with --backup and incomplete backups; prints what it would do unless --confirm')
    .option('--repo <url>', 'repository')
    .option('--keep-last <n>', 'keep the N newest backups of each database (of each kind)')
    .option('--keep-days <n>', 'keep backups younger than N days')
    .option('--backup <id>', 'remove this backup, also the last of its database (repeatable; by id, not latest)', collect, [])
    .option('--orphan-grace <duration>', 'leave incomplete backups younger than this alone (a backup may be running)', '6h')
    .option('--confirm', 'really delete')
    .option('--json', 'print what was (or would be) removed and kept as one JSON document on stdout')
    .action(
      act(async (ctx, o: { repo?: string; keepLast?: string; keepDays?: string; backup: string[]; orphanGrace: string; confirm?: boolean; json?: boolean }) => {
        const int = (v: string | undefined) => (v === undefined ? undefined : Number(v));
        // Keeping none would delete every backup: at least one is kept.
        const keepLast = int(intFlag('--keep-last', o.keepLast, { min: 1 }));
        const keepDays = int(intFlag('--keep-days', o.keepDays, { min: 0 }));
        const grace = parseDuration(o.orphanGrace, '--orphan-grace');
        // --dry-run wins over --confirm: the operator asked that nothing be changed.
        const confirm = o.confirm === true && !ctx.dryRun;
        // With --json, stdout is the document; the same words go to stderr for whoever watches.
        const say = o.json ? (line: string) => output.note(line) : (line: string) => output.result(`${line}\n`);
        if (o.confirm && ctx.dryRun) output.note('--dry-run: nothing will be removed, whatever --confirm says');
        const repo = await openRepository(ctx, o.repo);
        // Without a retention policy, expire removes only the named and the incomplete backups.
        const counts = keepLast === undefined && keepDays === undefined ? { keepLast: Number.MAX_SAFE_INTEGER } : { keepLast, keepDays };
        const policy = { ...counts, remove: [...new Set(o.backup)] };
        const verb = confirm ? 'removing' : 'would remove';
        const { plan, spared } = await expire(repo, policy, grace, {
          confirm,
          show: (plan) => {
            for (const r of plan.remove) say(`${verb} ${r.id} (${r.why})`);
            for (const orphan of plan.orphans) say(`${verb} incomplete ${orphan.id} (${orphan.objects} object(s), no manifest, last written ${orphan.newest})`);
            for (const t of plan.tempFiles) say(`${verb} temp file ${t}`);
            for (const d of plan.emptyDirs) say(`${verb} empty directory ${d}`);
            if (plan.wal.keys.length) say(`${verb} ${plan.wal.keys.length} archived WAL file(s) older than ${plan.wal.before}, which no kept base backup needs`);
            for (const k of plan.keep) say(`keeping ${k.id} (${k.why})`);
            for (const n of plan.notOrphans) say(`keeping ${n.id} (${n.why})`);
            for (const n of plan.notes) say(`note: ${n}`);
          },
        });
        for (const id of spared) say(`kept ${id}: its manifest appeared while incomplete backups were removed`);
        const anything = plan.remove.length || plan.orphans.length || plan.tempFiles.length || plan.emptyDirs.length || plan.wal.keys.length;
        if (!anything) say('nothing to remove');
        else if (!confirm) say(ctx.dryRun ? 'dry run: nothing removed' : 'dry run: pass --confirm to delete');
        if (o.json) {
          output.jsonResult(
            secrets.redactDeep({
              repo: repo.storage.location,
              dryRun: !confirm,
              removed: confirm,
              remove: plan.remove,
              orphans: plan.orphans.filter((x) => !spared.includes(x.id)),
              notOrphans: [...plan.notOrphans, ...spared.map((id) => ({ id, why: 'its manifest appeared while removing' }))],
              tempFiles: plan.tempFiles,
              emptyDirs: plan.emptyDirs,
              wal: { count: plan.wal.keys.length, before: plan.wal.before ?? null },
              keep: plan.keep,
              notes: plan.notes,
            }),
          );
        }
        return 0;
      }),
    );
}


function summary(b: { id: string; kind: string; recoveryPoint: string; startedAt: string; stoppedAt: string; size: number; storedSize: number; label?: string; source: Record<string, unknown>; objects: unknown[] }) {
  return { id: b.id, kind: b.kind, recoveryPoint: b.recoveryPoint, startedAt: b.startedAt, stoppedAt: b.stoppedAt, size: b.size, storedSize: b.storedSize, label: b.label, database: b.source.database, objects: b.objects.length };
}
