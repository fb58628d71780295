import { readFile } from 'node:fs/promises';
import type { RunReport } from '../engine/step-result.js';
import { secrets } from '../redact.js';
import { writeAtomic } from './files.js';
import { truthfulVerdicts, wasRecovered } from './verdicts.js';

// Prometheus textfiles (node_exporter's textfile collector) for verify-backups, drill and
// backup, rendered by prom-client so label values are escaped, not mangled. prom-client loads
// only when a metrics file is asked for. "Last success" timestamps survive a failed run: the
// previous file is read back, so "time since last success" alerts keep counting.

export type Labels = Record<string, string>;

export interface MetricsBuilder {
  /** The samples of the file being replaced. */
  previous: Sample[];
  /** One gauge sample; a gauge's help and label names come from its first sample. */
  gauge(name: string, help: string, labels: Labels, value: number): void;
  /** Sets `name` to `now` on success, else to its value in the previous file (if any). */
  lastSuccess(name: string, help: string, labels: Labels, ok: boolean, nowSeconds: number): void;
}

export interface Sample {
  name: string;
  labels: Labels;
  value: number;
}

/** Samples of a Prometheus text-format file (comments skipped, label escapes undone). */
export function parseTextfile(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
    if (!m) continue;
    let i = m[1]!.length;
    const labels: Labels = {};
    if (line[i] === '{') {
      i++;
      while (i < line.length && line[i] !== '}') {
        const eq = line.indexOf('=', i);
        if (eq < 0 || line[eq + 1] !== '"') break;
        const key = line.slice(i, eq).trim();
        let value = '';
        let j = eq + 2;
        for (; j < line.length && line[j] !== '"'; j++) {
          if (line[j] === '\\' && j + 1 < line.length) {
            j++;
            value += line[j] === 'n' ? '\n' : line[j];
          } else value += line[j];
        }
        labels[key] = value;
        i = j + 1;
        if (line[i] === ',') i++;
      }
      i++;
    }
    const value = Number(line.slice(i).trim().split(/\s+/)[0]);
    if (!Number.isNaN(value)) out.push({ name: m[1]!, labels, value });
  }
  return out;
}

function sameLabels(a: Labels, b: Labels): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/** Builds the metrics, renders them with prom-client and replaces `file` atomically. */
export async function writeMetricsFile(file: string, build: (m: MetricsBuilder) => void): Promise<void> {
  let previous: Sample[] = [];
  try {
    previous = parseTextfile(await readFile(file, 'utf8'));
  } catch {
    // No earlier file: nothing to carry over.
  }
  const { Registry, Gauge } = await import('prom-client');
  const registry = new Registry();
  const gauges = new Map<string, InstanceType<typeof Gauge>>();
  const builder: MetricsBuilder = {
    previous,
    gauge(name, help, labels, value) {
      let g = gauges.get(name);
      if (!g) {
        g = new Gauge({ name, help, labelNames: Object.keys(labels), registers: [registry] });
        gauges.set(name, g);
      }
      g.set(labels, value);
    },
    lastSuccess(name, help, labels, ok, nowSeconds) {
      const before = previous.find((s) => s.name === name && sameLabels(s.labels, labels))?.value;
      const value = ok ? nowSeconds : before;
      if (value !== undefined) builder.gauge(name, help, labels, value);
    },
  };
  build(builder);
  await writeAtomic(file, secrets.redact(await registry.metrics()));
}

/** Metrics of one drill or built-in command run (drctl drill, drctl backup). */
export function runMetrics(r: RunReport): (m: MetricsBuilder) => void {
  return (m) => {
    const base = { runbook: r.runbook, kind: r.kind };
    const ok = r.status === 'succeeded' && r.exitCode === 0;
    const now = Math.floor(Date.parse(r.endedAt) / 1000);
    m.gauge('drctl_run_success', '1 when the last run succeeded and met its targets', base, ok ? 1 : 0);
    m.gauge('drctl_run_exit_code', 'exit code of the last run', base, r.exitCode);
    m.gauge('drctl_run_duration_seconds', 'duration of the last run', base, r.durationMs / 1000);
    m.gauge('drctl_run_last_timestamp_seconds', 'end of the last run', base, now);
    m.lastSuccess('drctl_run_last_success_timestamp_seconds', 'end of the last successful run', base, ok, now);
    for (const s of r.steps) {
      if (s.status === 'skipped') continue;
      const labels = { runbook: r.runbook, step: s.id };
      m.gauge('drctl_step_duration_seconds', 'duration of each step of the last run', labels, s.durationMs / 1000);
      m.gauge('drctl_step_success', '1 when the step succeeded in the last run', labels, s.status === 'succeeded' ? 1 : 0);
      if (s.budgetMs !== undefined) m.gauge('drctl_step_budget_seconds', 'time budget of each step', labels, s.budgetMs / 1000);
      const id = s.outputs.backupId;
      if (s.status === 'succeeded' && typeof id === 'string') {
        if (typeof s.outputs.bytes === 'number') m.gauge('drctl_backup_size_bytes', 'size of the last backup before compression and encryption', labels, s.outputs.bytes);
        if (typeof s.outputs.storedBytes === 'number') m.gauge('drctl_backup_stored_bytes', 'bytes the last backup takes in the repository', labels, s.outputs.storedBytes);
      }
    }
    if (r.kind === 'drill') {
      const d = { runbook: r.runbook };
      // A drill that did not recover has no recovery time: no RTO sample rather than a fast one.
      m.gauge('drctl_drill_recovered', '1 when the last drill recovered (succeeded), 0 when it failed or was interrupted', d, wasRecovered(r) ? 1 : 0);
      if (wasRecovered(r) && r.measured.rtoMs !== undefined) m.gauge('drctl_drill_rto_seconds', 'recovery time of the last drill (disaster to recovered)', d, r.measured.rtoMs / 1000);
      if (wasRecovered(r) && r.measured.rpoMs !== undefined) m.gauge('drctl_drill_rpo_seconds', 'data lost in the last drill (disaster minus recovery point)', d, r.measured.rpoMs / 1000);
      if (r.targets.rtoMs !== undefined) m.gauge('drctl_drill_target_seconds', 'RTO and RPO targets of the runbook', { ...d, objective: 'rto' }, r.targets.rtoMs / 1000);
      if (r.targets.rpoMs !== undefined) m.gauge('drctl_drill_target_seconds', 'RTO and RPO targets of the runbook', { ...d, objective: 'rpo' }, r.targets.rpoMs / 1000);
      m.gauge('drctl_drill_targets_met', '1 when the last drill met every target', d, wasRecovered(r) && truthfulVerdicts(r).every((v) => v.met) ? 1 : 0);
    }
  };
}
