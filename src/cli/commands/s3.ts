import type { Command } from 'commander';
import type { Action } from '../program.js';
import { parseS3Url } from '../../adapters/s3/bucket.js';
import { copySettings } from '../../adapters/s3/restore.js';
import { parseTimePoint } from '../../time/time-point.js';
import { intFlag } from '../flags.js';
import { executeRunbook } from '../execute.js';
import { builtInRunbook } from '../context.js';
import { runResult } from '../run-result.js';
import { formatBytes } from '../../format.js';
import * as output from '../output.js';

// drctl s3 restore: every object under a prefix of a versioned bucket back to a point in time
// (runbooks/s3-restore.yaml). A dry run listing the changes unless --confirm.
export function registerS3(program: Command, act: Action): void {
  const s3 = program.command('s3');
  s3.command('restore')
    .description('bring every object under s3://bucket/prefix back to its version at --to; lists the changes unless --confirm')
    .argument('<url>', 's3://bucket/prefix')
    .requiredOption('--to <time>', 'the point in time: ISO 8601 with offset, "2 hours ago", now-2h')
    .option('--delete-newer', 'hide objects created after the time behind a delete marker (their data stays in the bucket)')
    .option('--confirm', 'really change the bucket (asks first; --yes without a TTY)')
    .option('--show <n>', 'how many changed keys to list', '20')
    .option('--json', 'print the result as one JSON document on stdout (counts, bytes, the listed changes, failures)')
    .option('--runbook <file>', 'run this runbook instead of the built-in s3-restore')
    .action(
      act(async (ctx, o: { to: string; deleteNewer?: boolean; confirm?: boolean; show: string; json?: boolean; runbook?: string }, url: string) => {
        const show = intFlag('--show', o.show, { min: 0, max: 10_000 });
        parseS3Url(url, 'url');
        copySettings(ctx.env);
        // Resolved once, here: "2 hours ago" means two hours before the command was typed.
        const to = parseTimePoint(o.to, '--to').toISOString();
        output.note(`restore point: ${to} (UTC)`);
        const r = await executeRunbook(ctx, builtInRunbook(ctx, 's3-restore', o.runbook), {
          inputs: { url, to, deleteNewer: o.deleteNewer ? 'true' : undefined, confirm: o.confirm ? 'true' : undefined, show },
          json: o.json,
        });
        if (o.json) {
          output.jsonResult(runResult(r, { dryRun: ctx.dryRun, step: 'restore', as: 'restore' }));
          return r.exitCode;
        }
        const out = r.report?.steps.find((s) => s.id === 'restore')?.outputs;
        if (r.exitCode === 0 && out) {
          const lines = [`${out.applied ? 'restored' : o.confirm ? 'nothing to change in' : 'dry run:'} ${String(out.location)} to ${String(out.target)}`];
          lines.push(
            `${out.applied ? '' : 'would: '}overwrite ${String(out.overwrite)}, undelete ${String(out.undelete)}, delete-mark ${String(out.deleteNewer)} (${formatBytes(Number(out.bytes))}); newer kept ${String(out.keptNewer)}, unchanged ${String(out.unchanged)}`,
          );
          for (const c of (out.changes ?? []) as { object: string; action: string; bytes: number }[]) lines.push(`  ${c.action.padEnd(12)} ${c.object} (${formatBytes(c.bytes)})`);
          const total = Number(out.changed) + Number(out.keptNewer);
          const listed = ((out.changes ?? []) as unknown[]).length;
          if (total > listed) lines.push(`  ... and ${total - listed} more`);
          if (!out.applied && Number(out.changed) > 0) lines.push('dry run: pass --confirm to change the bucket');
          if (Number(out.keptNewer) > 0 && !o.deleteNewer) lines.push(`${String(out.keptNewer)} object(s) created after the time were left in place (--delete-newer hides them)`);
          output.result(`${lines.join('\n')}\n`);
        }
        return r.exitCode;
      }),
    );
}
