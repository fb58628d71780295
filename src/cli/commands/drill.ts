import type { Command } from 'commander';
import { collect, type Action } from '../program.js';
import { UsageError } from '../../errors.js';
import { formatTable } from '../../report/table.js';
import { executeRunbook } from '../execute.js';
import { resolveRunbook } from '../context.js';
import { DRILL_HEADER, drillRows } from '../../report/drills.js';
import { result } from '../output.js';

// drctl drill <runbook>: the runbook as a drill. RTO from the disaster (the step marked
// `disaster: true`, else the start) to the recovery (the step marked `recovered: true`, else
// the end); RPO from the recovery point the restore reports. Exit 3 on a missed target. Every
// drill is recorded and compared with the earlier drills of the same runbook.
export function registerDrill(program: Command, act: Action): void {
  program
    .command('drill')
    .argument('<runbook>', 'runbook file or name')
    .option('--var <name=value>', 'set a runbook input (repeatable)', collect, [])
    .option('--repo <url>', 'also keep the drill record in this repository (default: config repo, DRCTL_REPO)')
    .option('--compare <n>', 'compare with this many earlier drills', '5')
    .option('--incident <title>', 'also keep an incident record of the drill')
    .option('--metrics-file <path>', 'write a Prometheus textfile (node_exporter textfile collector)')
    .action(
      act(async (ctx, o: { var: string[]; repo?: string; compare: string; incident?: string; metricsFile?: string }, runbook: string) => {
        if (!/^\d+$/.test(o.compare)) throw new UsageError('usage.compare', `--compare ${o.compare}: expected a whole number`);
        const r = await executeRunbook(ctx, resolveRunbook(ctx, runbook), { vars: o.var, kind: 'drill', repo: o.repo, compare: Number(o.compare), incident: o.incident, metricsFile: o.metricsFile });
        if (r.report) {
          result(formatTable(DRILL_HEADER, drillRows(r.report, r.report.previous ?? [])));
        }
        return r.exitCode;
      }),
    );
}
