import type { RunReport } from '../engine/step-result.js';
import { truthfulVerdicts } from './verdicts.js';

// JUnit XML for CI: the runbook is a test suite, each step a test case with its time; a
// failed step is a <failure>, a skipped one <skipped>; missed targets are failures of a
// synthetic "targets" case so CI shows them red.

export function junitReport(r: RunReport): string {
  const cases: string[] = [];
  let failures = 0;
  let skipped = 0;
  for (const s of r.steps) {
    const open = `    <testcase classname="${esc(r.runbook)}" name="${esc(s.id)} (${esc(s.uses)})" time="${(s.durationMs / 1000).toFixed(3)}"`;
    if (s.status === 'failed' || s.status === 'canceled') {
      failures++;
      const msg = s.reason ?? s.status;
      cases.push(`${open}>\n      <failure message="${esc(msg)}" type="${esc(s.errorCode ?? s.status)}">${esc(msg)}</failure>\n    </testcase>`);
    } else if (s.status === 'skipped') {
      skipped++;
      cases.push(`${open}>\n      <skipped message="${esc(s.reason ?? 'skipped')}"/>\n    </testcase>`);
    } else if (s.overBudget && s.budgetEnforced) {
      failures++;
      const msg = `over budget: ${s.durationMs} ms > ${s.budgetMs} ms`;
      cases.push(`${open}>\n      <failure message="${esc(msg)}" type="budget">${esc(msg)}</failure>\n    </testcase>`);
    } else {
      cases.push(`${open}/>`);
    }
  }
  // Each objective is a test case of its own: a drill that met its RTO but lost more data than
  // its RPO allows exits 3, and CI must show it red.
  for (const v of truthfulVerdicts(r).filter((x) => x.name === 'rto' || x.name === 'rpo')) {
    const label = v.name.toUpperCase();
    const open = `    <testcase classname="${esc(r.runbook)}" name="${label}" time="${((v.name === 'rto' ? (v.achievedMs ?? r.durationMs) : 0) / 1000).toFixed(3)}"`;
    if (v.met) {
      cases.push(`${open}/>`);
      continue;
    }
    failures++;
    const msg =
      v.notRecovered || v.achievedMs === undefined
        ? `${label} not met: the run ${r.status}, nothing was recovered (target ${v.targetMs} ms)`
        : `${label} missed: ${v.achievedMs} ms > ${v.targetMs} ms`;
    cases.push(`${open}>\n      <failure message="${esc(msg)}" type="${v.name}">${esc(msg)}</failure>\n    </testcase>`);
  }
  const tests = cases.length;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="drctl" tests="${tests}" failures="${failures}" skipped="${skipped}" time="${(r.durationMs / 1000).toFixed(3)}">`,
    `  <testsuite name="${esc(r.runbook)}" tests="${tests}" failures="${failures}" skipped="${skipped}" errors="0" time="${(r.durationMs / 1000).toFixed(3)}" timestamp="${esc(r.startedAt)}">`,
    `    <properties><property name="runId" value="${esc(r.runId)}"/><property name="status" value="${esc(r.status)}"/></properties>`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

function esc(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    // XML 1.0 forbids most control characters even escaped.
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');
}
