import { builtInRegistry } from '../adapters/registry.js';
import { parseVars, resolveInputs, type MissingInput } from '../engine/inputs.js';
import { planRunbook } from '../engine/plan.js';
import { newRunId, runRunbook } from '../engine/run.js';
import { Scope } from '../engine/scope.js';
import type { RunReport } from '../engine/step-result.js';
import { UsageError } from '../errors.js';
import { isRelativeTime } from '../time/time-point.js';
import { secrets } from '../redact.js';
import { writeReports } from '../report/files.js';
import { saveRun, listRuns } from '../report/history.js';
import { createJsonLogReporter } from '../report/json-log.js';
import { PrettyReporter } from '../report/pretty.js';
import type { Reporter } from '../report/reporter.js';
import { loadRunbook } from '../runbook/load.js';
import type { CliContext } from './context.js';
import { trapInterrupts } from './interrupt.js';
import { note } from './output.js';
import { formatPlan } from './print-plan.js';
import { QuietReporter } from '../report/quiet.js';
import { previousDrills, saveDrillToRepo } from './drill-history.js';
import { runMetrics } from '../report/metrics.js';
import { writeMetricsFile } from '../prometheus-textfile.js';
import { incidentReport } from '../report/incident.js';
import { writeAtomic } from '../atomic-file.js';

// Runs one runbook for a command: load, inputs, reporters, signals, report files, history.
// Built-in commands (backup, restore, ...) come through here too, so their reports show every
// step timed, as a user's own runbook would.

export interface ExecuteOptions {
  vars?: string[];
  /** Inputs set by a built-in command from its flags (strings, as --var would give). */
  inputs?: Record<string, string | undefined>;
  fromStep?: string;
  kind?: 'run' | 'drill';
  /** Keep an incident record with this title (Markdown, in the state dir). */
  incident?: string;
  /** Drills: also record the run in this repository's history. */
  repo?: string;
  /** Drills: how many earlier drills to compare with. */
  compare?: number;
  /** Write a Prometheus textfile of the run. */
  metricsFile?: string;
  /** --json: stdout is for the command's JSON document, so a dry run's plan goes to stderr. */
  json?: boolean;
}

export interface Executed {
  exitCode: number;
  report?: RunReport;
}

export async function executeRunbook(ctx: CliContext, file: string, o: ExecuteOptions = {}): Promise<Executed> {
  const registry = builtInRegistry();
  const { runbook } = await loadRunbook(file, registry);
  const given = { ...parseVars(o.vars ?? []) };
  for (const [k, v] of Object.entries(o.inputs ?? {})) {
    if (v === undefined) continue;
    // A runbook put in place of a built-in one must take the inputs the command's flags set.
    if (!Object.hasOwn(runbook.inputs, k)) throw new UsageError('usage.var', `${file}: no input "${k}", which this command sets from its flags (declare it under inputs:)`);
    given[k] = v;
  }
  const startedAt = new Date();
  const missing: MissingInput[] = [];
  const inputs = resolveInputs(runbook, given, ctx.env, { lenient: ctx.dryRun, now: startedAt, missing });
  // Relative times were resolved once, just now; say to what, before anything acts on them.
  for (const [name, spec] of Object.entries(runbook.inputs)) {
    const raw = given[name];
    if (spec.type === 'time' && raw !== undefined && typeof inputs[name] === 'string' && inputs[name] !== raw && isRelativeTime(raw)) {
      note(`${name}: "${raw}" is ${String(inputs[name])} (UTC)`);
    }
  }
  if (o.fromStep !== undefined && !runbook.steps.some((s) => s.id === o.fromStep)) {
    throw new UsageError('usage.fromStep', `--from-step ${o.fromStep}: no such step in ${runbook.name} (steps: ${runbook.steps.map((s) => s.id).join(', ')})`);
  }

  if (ctx.dryRun) {
    const scope = new Scope(ctx.env, inputs, { id: 'dry-run', name: runbook.name, startedAt: Date.now() });
    (o.json ? process.stderr : process.stdout).write(secrets.redact(`DRY RUN: nothing will be changed\n${formatPlan(planRunbook(runbook, registry, scope), missing)}`));
    return { exitCode: 0 };
  }

  let reporter: Reporter;
  if (ctx.quiet) {
    reporter = new QuietReporter(process.stderr);
  } else if (ctx.logFormat === 'json') reporter = await createJsonLogReporter(ctx.logLevel, { progressIntervalMs: ctx.progressIntervalMs });
  else {
    const live = process.stderr.isTTY === true;
    const pretty = new PrettyReporter({ out: process.stderr, color: ctx.color, live, progressIntervalMs: ctx.progressIntervalMs });
    ctx.beforePrompt = () => void pretty.close();
    reporter = pretty;
  }
  // Resuming: later steps may use the outputs of the steps skipped, from the last run.
  let resumeFrom: { runId: string; steps: RunReport['steps']; disasterAt?: string } | undefined;
  if (o.fromStep !== undefined) {
    const [last] = await listRuns(ctx.stateDir, { runbook: runbook.name, limit: 1 });
    if (last) resumeFrom = { runId: last.runId, steps: last.steps, disasterAt: last.measured?.disasterAt ?? last.startedAt };
  }
  const interrupts = trapInterrupts();
  let report: RunReport;
  try {
    report = await runRunbook({
      runbook,
      file,
      registry,
      inputs,
      env: ctx.env,
      config: ctx.config,
      stateDir: ctx.stateDir,
      emit: (e) => reporter.onEvent(e),
      signal: interrupts.signal,
      forceSignal: interrupts.forceSignal,
      confirm: (m) => ctx.confirm(m),
      fromStep: o.fromStep,
      resumeFrom,
      kind: o.kind ?? 'run',
      runId: newRunId(startedAt),
      startedAt: startedAt.getTime(),
    });
  } finally {
    interrupts.dispose();
    await reporter.close();
  }
  if (o.incident) report.incident = secrets.redact(o.incident);
  // Drills are recorded in the repository the command names, else the one the runbook used.
  const drillRepo = o.repo ?? (typeof inputs.repo === 'string' && inputs.repo ? inputs.repo : undefined);
  if (report.kind === 'drill') {
    report.previous = await previousDrills(ctx, report, drillRepo, o.compare ?? 5);
  }
  await writeReports(report, ctx.reports);
  if (o.metricsFile) {
    await writeMetricsFile(o.metricsFile, runMetrics(report));
  }
  try {
    await saveRun(ctx.stateDir, report);
  } catch (err) {
    process.stderr.write(`warning: could not save run history in ${ctx.stateDir}: ${(err as Error).message}\n`);
  }
  if (report.kind === 'drill') {
    await saveDrillToRepo(ctx, report, drillRepo);
  }
  if (o.incident) {
    const file = `${ctx.stateDir}/incidents/${report.runId}.md`;
    await writeAtomic(file, secrets.redact(incidentReport(report)), { private: true });
    note(`incident record: ${file}`);
  }
  return { exitCode: report.exitCode, report };
}
