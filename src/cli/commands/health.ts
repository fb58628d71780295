import type { Command } from 'commander';
import { collect, type Action } from '../program.js';
import { UsageError } from '../../errors.js';
import { formatTable } from '../../report/table.js';
import { executeRunbook } from '../execute.js';
import { runOutcome } from '../run-result.js';
import * as output from '../output.js';
import { secrets } from '../../redact.js';
import { builtInRunbook, resolveRunbook } from '../context.js';
import { loadRunbook } from '../../runbook/load.js';
import { builtInRegistry } from '../../adapters/registry.js';

// drctl health [runbook]: runs the shipped health runbook (or the one named) and prints one
// table: service, check, status, figure, latency. Exit 1 if any check fails; exit 2 if nothing
// was configured to check, so an empty EnvironmentFile is never a green light.

/** drctl.yaml keys that feed the shipped health runbook's inputs. */
const CONFIG_INPUTS = { database: 'source', redis: 'redis', repo: 'repo', bucket: 'versionedBucket', bucketRetention: 'versionRetention' } as const;

export function registerHealth(program: Command, act: Action): void {
  program
    .command('health')
    .argument('[runbook]', 'health runbook (default: the shipped health runbook)')
    .option('--var <name=value>', 'set a runbook input (repeatable)', collect, [])
    .option('--json', 'print the table as JSON')
    .action(
      act(async (ctx, o: { var: string[]; json?: boolean }, runbook: string | undefined) => {
        const shipped = runbook === undefined;
        const file = shipped ? builtInRunbook(ctx, 'health') : resolveRunbook(ctx, runbook);
        const inputs: Record<string, string | undefined> = {};
        // drctl.yaml settings feed the shipped runbook, below an explicit --var.
        const explicit = new Set(o.var.map((v) => v.split('=')[0]));
        if (shipped && !ctx.config.runbooks?.health) for (const [input, key] of Object.entries(CONFIG_INPUTS)) if (!explicit.has(input)) inputs[input] = ctx.config[key];
        const r = await executeRunbook(ctx, file, { vars: o.var, inputs, json: o.json });
        if (!r.report) {
          if (o.json) output.jsonResult(runOutcome(r, ctx.dryRun));
          return r.exitCode;
        }
        const { runbook: rb } = await loadRunbook(r.report.file, builtInRegistry());
        const steps = new Map(rb.steps.map((s) => [s.id, s]));
        // How to turn on a check that was skipped for want of configuration.
        const howToConfigure = (id: string): string | undefined => {
          const cond = steps.get(id)?.if;
          const name = typeof cond === 'string' ? /^\s*(?:\$\{\s*)?inputs\.([A-Za-z0-9_-]+)\s*\}?\s*$/.exec(cond)?.[1] : undefined;
          if (name === undefined) return undefined;
          const def = rb.inputs[name]?.default;
          const env = typeof def === 'string' ? /\$\{\s*env\.([A-Za-z0-9_]+)\s*\}/.exec(def)?.[1] : undefined;
          const key = shipped ? (CONFIG_INPUTS as Record<string, string>)[name] : undefined;
          return [env, key ? `${key}: in drctl.yaml` : undefined, `--var ${name}=...`].filter(Boolean).join(' or ');
        };
        const rows = r.report.steps.map((s) => {
          const unconfigured = s.status === 'skipped' && s.reason === 'condition is false' ? howToConfigure(s.id) : undefined;
          return {
            service: steps.get(s.id)?.name ?? s.id,
            check: s.uses,
            status: s.status === 'succeeded' ? 'ok' : s.status === 'skipped' ? 'skipped' : 'FAIL',
            figure: s.status === 'failed' ? (s.reason ?? '') : unconfigured !== undefined ? `not configured (set ${unconfigured})` : s.status === 'skipped' ? (s.reason ?? '') : String(s.outputs.figure ?? ''),
            latencyMs: s.status === 'skipped' ? undefined : s.durationMs,
            configure: unconfigured,
          };
        });
        // Nothing checked is no health report: a usage error, in the --json document too.
        const what = rows.filter((x) => x.configure).map((x) => `${x.service} (${x.configure})`);
        const nothing =
          rows.length > 0 && rows.every((x) => x.status === 'skipped') && r.exitCode === 0
            ? new UsageError('usage.health', `health: nothing was checked; configure at least one of: ${what.length ? what.join(', ') : 'the runbook\'s inputs'}`)
            : undefined;
        if (o.json) {
          const outcome = runOutcome(r, ctx.dryRun);
          output.jsonResult({
            ...outcome,
            ...(nothing ? { ok: false, exitCode: nothing.exitCode, failures: [{ reason: nothing.message }] } : {}),
            checks: secrets.redactDeep(rows.map(({ configure: _, ...x }) => x)),
          });
        }
        // --quiet (cron): the table only when something failed.
        else if (!ctx.quiet || r.exitCode !== 0) {
          process.stdout.write(formatTable(['service', 'check', 'status', 'figure', 'latency'], rows.map((x) => [x.service, x.check, x.status, x.figure, x.latencyMs === undefined ? '' : `${x.latencyMs} ms`])));
        }
        if (nothing) throw nothing;
        return r.exitCode;
      }),
    );
}
