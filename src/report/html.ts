import type { DrillSummary, RunReport, StepResult, TargetVerdict } from '../engine/step-result.js';
import { formatDuration } from '../time/duration.js';
import { DRILL_HEADER, drillRows, summarizeDrill } from './drills.js';
import { truthfulVerdicts, wasRecovered } from './verdicts.js';

// The HTML drill report: one self-contained file (inline CSS and SVG, no script, and a
// Content-Security-Policy that forbids any fetch) for people who read timelines rather than
// tables: the steps as a Gantt chart with their budgets, the disaster and recovered marks, RTO
// and RPO against their targets, the trend over earlier drills, then the Markdown report's facts.

const WIDTH = 960;
const LABEL_W = 210;
const VALUE_W = 150;
const PLOT_W = WIDTH - LABEL_W - VALUE_W;
const ROW_H = 26;
const AXIS_H = 42;

const COLOR: Record<StepResult['status'], string> = {
  succeeded: '#2e7d32',
  failed: '#c62828',
  canceled: '#ef6c00',
  skipped: '#9e9e9e',
};
const OVER = '#f9a825';

/** The report as one HTML document. */
export function htmlReport(r: RunReport): string {
  const title = `${r.kind === 'drill' ? 'DR drill' : 'Run'}: ${r.runbook}`;
  const verdict = overallVerdict(r);
  const body = [
    `<header><h1>${esc(title)}</h1>`,
    r.description ? `<p class="description">${esc(r.description)}</p>` : '',
    `<p class="verdict-banner ${verdict.ok ? 'pass' : 'fail'}" data-verdict="${verdict.ok ? 'pass' : 'fail'}">${esc(verdict.text)}</p>`,
    facts(r),
    '</header>',
    '<section class="objectives"><h2>Recovery objectives</h2>',
    objectives(r),
    '</section>',
    '<section class="timeline"><h2>Timeline</h2>',
    gantt(r),
    legend(),
    '</section>',
    r.previous !== undefined ? `<section class="trend"><h2>Drills of this runbook</h2>${trend(r, r.previous)}${drillTable(r, r.previous)}</section>` : '',
    '<section class="steps"><h2>Steps</h2>',
    stepTable(r),
    '</section>',
    r.verdicts.length ? `<section class="targets"><h2>Targets</h2>${targetTable(truthfulVerdicts(r))}</section>` : '',
  ].join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
${body}
<footer>drctl · run ${esc(r.runId)} · ${esc(r.file)}</footer>
</body>
</html>
`;
}

function overallVerdict(r: RunReport): { ok: boolean; text: string } {
  const missed = truthfulVerdicts(r).filter((v) => !v.met).map(verdictName);
  if (r.status !== 'succeeded') {
    const where = r.interruptedStep ? ` during ${r.interruptedStep}` : '';
    return { ok: false, text: `${r.status.toUpperCase()}${where} (exit ${r.exitCode})${missed.length ? `; missed ${missed.join(', ')}` : ''}` };
  }
  if (missed.length) return { ok: false, text: `Missed target: ${missed.join(', ')} (exit ${r.exitCode})` };
  return { ok: true, text: r.verdicts.length ? `All targets met (exit ${r.exitCode})` : `Succeeded (exit ${r.exitCode})` };
}

function verdictName(v: TargetVerdict): string {
  return v.name === 'budget' ? `budget of ${v.step}` : v.name.toUpperCase();
}

function facts(r: RunReport): string {
  const rows: [string, string][] = [
    ['Run', r.runId],
    ['Started', r.startedAt],
    ['Finished', `${r.endedAt} (${formatDuration(r.durationMs)})`],
    ['Result', `${r.status} (exit ${r.exitCode})`],
  ];
  if (r.interruptedStep) rows.push(['Interrupted during', r.interruptedStep]);
  if (r.incident) rows.push(['Incident', r.incident]);
  if (!wasRecovered(r) || r.measured.recoveredAt === undefined || r.measured.rtoMs === undefined) {
    rows.push(['Disaster', r.measured.disasterAt], ['Recovered', 'not recovered'], ['Recovery time (disaster → recovered)', 'not recovered: the run did not succeed']);
    return `<dl class="facts">${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl>`;
  }
  rows.push(['Disaster', r.measured.disasterAt], ['Recovered', r.measured.recoveredAt], ['Recovery time (disaster → recovered)', formatDuration(r.measured.rtoMs)]);
  if (r.measured.recoveryPoint) rows.push(['Recovery point', r.measured.recoveryPoint], ['Data lost (RPO)', r.measured.rpoMs === undefined ? 'n/a' : formatDuration(r.measured.rpoMs)]);
  return `<dl class="facts">${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl>`;
}

/** RTO and RPO as bars against their targets: the bar is what was achieved, the line the target. */
function objectives(r: RunReport): string {
  const recovered = wasRecovered(r);
  const items: { name: 'rto' | 'rpo'; label: string; achieved?: number; target?: number }[] = [
    { name: 'rto', label: 'RTO', achieved: recovered ? r.measured.rtoMs : undefined, target: r.targets.rtoMs },
    { name: 'rpo', label: 'RPO', achieved: recovered ? r.measured.rpoMs : undefined, target: r.targets.rpoMs },
  ];
  const h = 34;
  const rows = items.map((it, i) => {
    const y = 14 + i * h;
    const label = `<text x="0" y="${y + 15}" class="label">${it.label}</text>`;
    if (it.achieved === undefined) {
      return `<g class="objective" data-objective="${it.name}">${label}<text x="${LABEL_W}" y="${y + 15}" class="${recovered ? 'muted' : 'bad'}">${recovered ? 'not measured' : 'not recovered'}${it.target !== undefined ? ` (target ${esc(formatDuration(it.target))})` : ''}</text></g>`;
    }
    const max = Math.max(it.achieved, it.target ?? 0) * 1.1 || 1;
    // Narrower than the Gantt's plot: the verdict beside the bar is longer than a duration.
    const x = (v: number) => LABEL_W + (v / max) * (PLOT_W - 60);
    const met = it.target === undefined ? undefined : it.achieved <= it.target;
    const color = met === false ? COLOR.failed : COLOR.succeeded;
    const verdict = met === undefined ? 'no target' : met ? 'met' : `missed by ${formatDuration(it.achieved - it.target!)}`;
    const target = it.target === undefined ? '' : `<line class="target-line" x1="${x(it.target)}" x2="${x(it.target)}" y1="${y}" y2="${y + 22}"/><text class="tick" x="${x(it.target)}" y="${y - 1}" text-anchor="middle">target ${esc(formatDuration(it.target))}</text>`;
    return `<g class="objective" data-objective="${it.name}" data-met="${met ?? ''}"><title>${it.label} ${esc(formatDuration(it.achieved))}${it.target !== undefined ? ` against ${esc(formatDuration(it.target))}` : ''}: ${esc(verdict)}</title>${label}<rect x="${LABEL_W}" y="${y + 4}" width="${Math.max(1, x(it.achieved) - LABEL_W).toFixed(1)}" height="14" fill="${color}"/>${target}<text x="${WIDTH - VALUE_W - 52}" y="${y + 15}" class="value${met === false ? ' bad' : ''}">${esc(formatDuration(it.achieved))} · ${esc(verdict)}</text></g>`;
  });
  return `<svg class="objectives-chart" viewBox="0 0 ${WIDTH} ${14 + items.length * h}" width="${WIDTH}" role="img" aria-label="RTO and RPO against targets">${rows.join('')}</svg>`;
}

/** The Gantt chart: one row per step, time from the run's start. */
function gantt(r: RunReport): string {
  const t0 = Date.parse(r.startedAt);
  const end = Math.max(Date.parse(r.endedAt), ...r.steps.map((s) => (s.endedAt ? Date.parse(s.endedAt) : t0)));
  // The RTO deadline joins the axis when it is near enough to be read; far away, it is named.
  const deadline = r.targets.rtoMs === undefined ? undefined : Date.parse(r.measured.disasterAt) + r.targets.rtoMs;
  const spanRun = Math.max(1, end - t0);
  const showDeadline = deadline !== undefined && deadline - t0 <= spanRun * 1.5;
  const span = showDeadline ? Math.max(spanRun, deadline - t0) * 1.04 : spanRun * 1.02;
  const x = (t: number) => LABEL_W + ((t - t0) / span) * PLOT_W;
  const height = AXIS_H + r.steps.length * ROW_H + 40;
  const out: string[] = [];
  out.push(axis(span, AXIS_H + r.steps.length * ROW_H + 4));
  let cursor = t0;
  r.steps.forEach((s, i) => {
    const y = AXIS_H + i * ROW_H;
    const start = s.startedAt ? Date.parse(s.startedAt) : cursor;
    const stop = s.endedAt ? Date.parse(s.endedAt) : start + s.durationMs;
    cursor = Math.max(cursor, stop);
    const x1 = x(start);
    const w = Math.max(2, x(stop) - x1);
    const parts: string[] = [];
    if (i % 2 === 1) parts.push(`<rect class="stripe" x="0" y="${y}" width="${WIDTH}" height="${ROW_H}"/>`);
    parts.push(`<text class="label" x="4" y="${y + 17}">${esc(truncate(s.id, 22))}${s.section === 'finally' ? ' <tspan class="muted">(finally)</tspan>' : ''}</text>`);
    if (s.budgetMs !== undefined && s.status !== 'skipped') {
      // A budget far beyond the run is cut at the plot's edge and drawn open-ended.
      const bEnd = x(start + s.budgetMs);
      const clipped = bEnd > LABEL_W + PLOT_W;
      const bw = Math.max(1, Math.min(bEnd, LABEL_W + PLOT_W) - x1);
      parts.push(`<rect class="budget${clipped ? ' clipped' : ''}" x="${x1.toFixed(1)}" y="${y + 4}" width="${bw.toFixed(1)}" height="${ROW_H - 8}"/>`);
      if (clipped) parts.push(`<text class="tick" x="${(LABEL_W + PLOT_W - 2).toFixed(1)}" y="${y + 17}" text-anchor="end">budget →</text>`);
    }
    const title = `${s.id} (${s.uses}): ${s.status}${s.status === 'skipped' ? '' : `, ${formatDuration(s.durationMs)}`}${s.budgetMs !== undefined ? `, budget ${formatDuration(s.budgetMs)}` : ''}${s.reason ? ` — ${s.reason}` : ''}`;
    parts.push(`<rect class="bar ${s.status}" data-step="${esc(s.id)}" data-status="${s.status}" x="${x1.toFixed(1)}" y="${y + 7}" width="${w.toFixed(1)}" height="${ROW_H - 14}" fill="${COLOR[s.status]}"><title>${esc(title)}</title></rect>`);
    if (s.overBudget && s.budgetMs !== undefined) {
      const bx = x(start + s.budgetMs);
      parts.push(`<rect class="over-budget" data-step="${esc(s.id)}" x="${bx.toFixed(1)}" y="${y + 7}" width="${Math.max(1, x1 + w - bx).toFixed(1)}" height="${ROW_H - 14}" fill="${OVER}"><title>over budget by ${esc(formatDuration(s.durationMs - s.budgetMs))}</title></rect>`);
    }
    const value = s.status === 'skipped' ? 'skipped' : `${formatDuration(s.durationMs)}${s.budgetMs !== undefined ? ` / ${formatDuration(s.budgetMs)}` : ''}${s.overBudget ? ' ⚠' : ''}`;
    parts.push(`<text class="value${s.status === 'failed' || s.overBudget ? ' bad' : ''}" x="${WIDTH - VALUE_W + 8}" y="${y + 17}">${esc(value)}</text>`);
    out.push(`<g class="step" data-step="${esc(s.id)}">${parts.join('')}</g>`);
  });
  const bottom = AXIS_H + r.steps.length * ROW_H;
  const mark = (cls: string, t: number, label: string, anchor: 'start' | 'end') => {
    const mx = x(t).toFixed(1);
    const tx = anchor === 'end' ? Number(mx) - 4 : Number(mx) + 4;
    return `<g class="mark ${cls}"><line x1="${mx}" x2="${mx}" y1="${AXIS_H - 6}" y2="${bottom + 4}"/><text x="${tx}" y="${bottom + 17}" text-anchor="${anchor}">${esc(label)}</text></g>`;
  };
  const disasterAt = Date.parse(r.measured.disasterAt);
  out.push(mark('disaster', disasterAt, `disaster ${offset(disasterAt - t0)}`, 'end'));
  // A run that did not recover has no recovered mark and no RTO span to draw.
  const recoveredAt = wasRecovered(r) && r.measured.recoveredAt !== undefined ? Date.parse(r.measured.recoveredAt) : undefined;
  if (recoveredAt !== undefined) out.push(mark('recovered', recoveredAt, `recovered ${offset(recoveredAt - t0)}`, 'start'));
  const rto = r.verdicts.find((v) => v.name === 'rto');
  const bracketY = AXIS_H - 10;
  if (recoveredAt !== undefined && r.measured.rtoMs !== undefined) out.push(`<g class="rto-span${rto && !rto.met ? ' missed' : ''}"><line x1="${x(disasterAt).toFixed(1)}" x2="${x(recoveredAt).toFixed(1)}" y1="${bracketY}" y2="${bracketY}"/><text x="${((x(disasterAt) + x(recoveredAt)) / 2).toFixed(1)}" y="${bracketY - 3}" text-anchor="middle">RTO ${esc(formatDuration(r.measured.rtoMs))}</text></g>`);
  if (deadline !== undefined) {
    if (showDeadline) out.push(mark('rto-deadline', deadline, `RTO target ${formatDuration(r.targets.rtoMs!)}`, 'end'));
    else out.push(`<text class="tick rto-deadline-note" x="${LABEL_W + PLOT_W}" y="${bottom + 33}" text-anchor="end">RTO target: ${esc(formatDuration(r.targets.rtoMs!))} after the disaster, off this scale →</text>`);
  }
  return `<svg class="gantt" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" role="img" aria-label="Step timeline">${out.join('')}</svg>`;
}

function axis(span: number, gridBottom: number): string {
  const step = niceStep(span / 6);
  const ticks: string[] = [];
  for (let t = 0; t <= span; t += step) {
    const tx = (LABEL_W + (t / span) * PLOT_W).toFixed(1);
    ticks.push(`<line class="grid" x1="${tx}" x2="${tx}" y1="${AXIS_H - 4}" y2="${gridBottom}"/><text class="tick" x="${tx}" y="12" text-anchor="middle">${esc(offset(t))}</text>`);
  }
  return `<g class="axis">${ticks.join('')}</g>`;
}

function niceStep(raw: number): number {
  const pow = 10 ** Math.floor(Math.log10(Math.max(raw, 1)));
  for (const m of [1, 2, 5, 10]) if (raw <= m * pow) return m * pow;
  return 10 * pow;
}

function offset(ms: number): string {
  return `+${formatDuration(Math.max(0, ms))}`;
}

function legend(): string {
  const item = (fill: string, text: string, cls = '') => `<span class="key"><i class="swatch ${cls}" style="background:${fill}"></i>${esc(text)}</span>`;
  return `<p class="legend">${item(COLOR.succeeded, 'succeeded')}${item(COLOR.failed, 'failed')}${item(COLOR.canceled, 'canceled')}${item(COLOR.skipped, 'skipped')}${item(OVER, 'over budget')}${item('transparent', 'budget', 'dashed')}${item(COLOR.failed, 'disaster', 'line')}${item('#1565c0', 'recovered', 'line')}</p>`;
}

/** RTO (and RPO, where measured) of this drill and the earlier ones, oldest first. */
function trend(r: RunReport, previous: DrillSummary[]): string {
  const drills = [...previous].reverse().concat(summarizeDrill(r));
  const charts = [trendChart('RTO', drills.map((d) => d.rtoMs), r.targets.rtoMs, drills)];
  if (drills.some((d) => d.rpoMs !== undefined)) charts.push(trendChart('RPO', drills.map((d) => d.rpoMs), r.targets.rpoMs, drills));
  const note = previous.length === 0 ? '<p class="muted">The first recorded drill of this runbook; later drills are compared with it.</p>' : '';
  return `<div class="trends">${charts.join('')}</div>${note}`;
}

function trendChart(name: string, values: (number | undefined)[], target: number | undefined, drills: DrillSummary[]): string {
  const w = 460;
  const h = 170;
  const left = 56;
  const right = 34;
  const top = 22;
  const bottom = 34;
  const known = values.filter((v): v is number => v !== undefined);
  const showTarget = target !== undefined && target <= Math.max(...known, 1) * 3;
  const max = Math.max(...known, showTarget ? target : 0, 1) * 1.15;
  const px = (i: number) => left + (values.length === 1 ? (w - left - right) / 2 : (i / (values.length - 1)) * (w - left - right));
  const py = (v: number) => top + (1 - v / max) * (h - top - bottom);
  const out: string[] = [`<text class="chart-title" x="${left}" y="13">${name} per drill</text>`];
  out.push(`<line class="grid" x1="${left}" x2="${w - right}" y1="${py(0)}" y2="${py(0)}"/><text class="tick" x="${left - 4}" y="${py(0) + 4}" text-anchor="end">0</text>`);
  out.push(`<text class="tick" x="${left - 4}" y="${py(max / 1.15) + 4}" text-anchor="end">${esc(formatDuration(max / 1.15))}</text><line class="grid" x1="${left}" x2="${w - right}" y1="${py(max / 1.15)}" y2="${py(max / 1.15)}"/>`);
  if (showTarget) out.push(`<g class="trend-target"><line x1="${left}" x2="${w - right}" y1="${py(target)}" y2="${py(target)}"/><text x="${w - right}" y="${py(target) - 3}" text-anchor="end">target ${esc(formatDuration(target))}</text></g>`);
  const pts = values.map((v, i) => (v === undefined ? undefined : `${px(i).toFixed(1)},${py(v).toFixed(1)}`)).filter(Boolean);
  if (pts.length > 1) out.push(`<polyline class="trend-line" points="${pts.join(' ')}"/>`);
  values.forEach((v, i) => {
    const d = drills[i]!;
    const current = i === values.length - 1;
    if (v !== undefined) {
      const ok = d.targetsMet;
      out.push(`<circle class="trend-point${current ? ' current' : ''}" data-run="${esc(d.runId)}" data-ok="${ok}" cx="${px(i).toFixed(1)}" cy="${py(v).toFixed(1)}" r="${current ? 6 : 4.5}" fill="${ok ? COLOR.succeeded : COLOR.failed}"><title>${esc(d.startedAt)}: ${name} ${esc(formatDuration(v))}, ${ok ? 'pass' : d.status}</title></circle>`);
    }
    out.push(`<text class="tick" x="${px(i).toFixed(1)}" y="${h - bottom + 16}" text-anchor="middle">${esc(current ? 'this drill' : shortDate(d.startedAt))}</text>`);
  });
  return `<svg class="trend-chart" data-series="${name.toLowerCase()}" viewBox="0 0 ${w} ${h}" width="${w}" role="img" aria-label="${name} of this drill and earlier drills">${out.join('')}</svg>`;
}

function shortDate(iso: string): string {
  return iso.slice(5, 16).replace('T', ' ');
}

function drillTable(r: RunReport, previous: DrillSummary[]): string {
  const rows = drillRows(r, previous);
  return table(DRILL_HEADER, rows, (row) => (row[row.length - 1] === 'pass' ? '' : 'bad'));
}

function stepTable(r: RunReport): string {
  const rows = r.steps.map((s) => [
    s.id + (s.section === 'finally' ? ' (finally)' : ''),
    s.uses,
    s.status,
    s.status === 'skipped' ? '' : formatDuration(s.durationMs),
    s.budgetMs === undefined ? '' : `${formatDuration(s.budgetMs)}${s.overBudget ? ' ⚠ over' : ''}`,
    s.attempts ? String(s.attempts) : '',
    s.reason ?? '',
  ]);
  return table(['Step', 'Action', 'Status', 'Time', 'Budget', 'Tries', 'Notes'], rows, (row) => (row[2] === 'failed' || row[2] === 'canceled' || row[4]!.includes('over') ? 'bad' : ''));
}

function targetTable(verdicts: TargetVerdict[]): string {
  const rows = verdicts.map((v) => {
    const name = v.name === 'budget' ? `budget: ${v.step}` : v.name.toUpperCase();
    if (v.notRecovered || v.achievedMs === undefined) return [name, formatDuration(v.targetMs), 'not recovered', 'not recovered'];
    return [name, formatDuration(v.targetMs), formatDuration(v.achievedMs), v.met ? 'met' : `missed by ${formatDuration(v.achievedMs - v.targetMs)}`];
  });
  return table(['Target', 'Objective', 'Achieved', 'Verdict'], rows, (row) => (row[3] === 'met' ? '' : 'bad'));
}

function table(header: string[], rows: string[][], rowClass: (row: string[]) => string): string {
  const head = `<tr>${header.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>`;
  const body = rows.map((row) => `<tr${rowClass(row) ? ` class="${rowClass(row)}"` : ''}>${row.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('');
  return `<table><thead>${head}</thead><tbody>${body}</tbody></table>`;
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const CSS = `
:root { color-scheme: light; --fg: #1b1f23; --muted: #6a737d; --line: #d0d7de; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); margin: 24px auto; max-width: ${WIDTH + 40}px; padding: 0 20px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 28px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
.description, .muted, footer { color: var(--muted); }
.verdict-banner { display: inline-block; font-weight: 600; padding: 6px 12px; border-radius: 6px; margin: 8px 0; }
.verdict-banner.pass { background: #e6f4ea; color: #1e5e22; border: 1px solid #a5d6a7; }
.verdict-banner.fail { background: #fdecea; color: #8e1c1c; border: 1px solid #ef9a9a; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 8px 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; font-variant-numeric: tabular-nums; }
svg { display: block; max-width: 100%; height: auto; font: 12px system-ui, sans-serif; }
svg .label { fill: var(--fg); }
svg .value { fill: var(--fg); font-variant-numeric: tabular-nums; }
svg .value.bad { fill: #8e1c1c; font-weight: 600; }
svg .muted { fill: var(--muted); }
svg .tick { fill: var(--muted); font-size: 11px; }
svg .grid { stroke: #eaeef2; }
svg .stripe { fill: #f6f8fa; }
svg .budget { fill: none; stroke: #57606a; stroke-dasharray: 4 3; }
svg .mark line { stroke-width: 2; }
svg .mark text { font-size: 11px; font-weight: 600; }
svg .mark.disaster line { stroke: ${COLOR.failed}; }
svg .mark.disaster text { fill: ${COLOR.failed}; }
svg .mark.recovered line { stroke: #1565c0; }
svg .mark.recovered text { fill: #1565c0; }
svg .mark.rto-deadline line { stroke: #6a1b9a; stroke-dasharray: 6 3; }
svg .mark.rto-deadline text { fill: #6a1b9a; }
svg .rto-span line { stroke: #1565c0; stroke-width: 2; }
svg .rto-span text { fill: #1565c0; font-size: 11px; font-weight: 600; }
svg .rto-span.missed line { stroke: ${COLOR.failed}; }
svg .rto-span.missed text { fill: ${COLOR.failed}; }
svg .target-line { stroke: #6a1b9a; stroke-width: 2; stroke-dasharray: 5 3; }
svg .trend-line { fill: none; stroke: #57606a; stroke-width: 1.5; }
svg .trend-target line { stroke: #6a1b9a; stroke-dasharray: 5 3; }
svg .trend-target text { fill: #6a1b9a; font-size: 11px; }
svg .chart-title { font-weight: 600; fill: var(--fg); }
svg .trend-point.current { stroke: var(--fg); stroke-width: 1.5; }
.trends { display: flex; flex-wrap: wrap; gap: 16px; }
.legend { color: var(--muted); font-size: 12px; display: flex; flex-wrap: wrap; gap: 14px; }
.legend .swatch { display: inline-block; width: 14px; height: 10px; margin-right: 5px; vertical-align: -1px; border-radius: 2px; }
.legend .swatch.dashed { border: 1px dashed #57606a; }
.legend .swatch.line { width: 3px; height: 12px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #f6f8fa; }
tr.bad td { background: #fff5f5; }
footer { margin-top: 32px; font-size: 12px; }
`;
