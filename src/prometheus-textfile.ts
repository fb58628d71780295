import { readFile } from 'node:fs/promises';
import { writeAtomic } from './atomic-file.js';
import { secrets } from './redact.js';

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
