import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../src/engine/step-result.js';
import { htmlReport } from '../../src/report/html.js';
import { drctl, tempDir } from '../support/cli.js';

// The HTML drill report, rendered in a real headless Chromium (Debian's package, driven by
// playwright-core): the Gantt bars (one per step), the disaster/recovered marks, the verdicts
// and the trend chart are there, and the page fetches nothing but itself.

const CHROMIUM = process.env.DRCTL_CHROMIUM ?? '/usr/bin/chromium';
const FIXTURE = path.resolve(import.meta.dirname, '..', 'fixtures', 'runbooks', 'quick-drill.yaml');
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`html-report: ${CHROMIUM} is missing (apt-get install chromium); the browser checks are skipped`);

const t = (ms: number) => new Date(Date.parse('2026-11-20T02:30:00.000Z') + ms).toISOString();

/**
 * A drill that recovered but missed its RTO: one step over budget, one skipped, and one that
 * failed after the recovery without failing the run (not critical). A run that fails recovers
 * nothing, so a missed RTO is only drawn for a run that succeeded.
 */
const REPORT: RunReport = {
  runId: '20261120T023000Z-ab12',
  runbook: 'full-dr-drill',
  file: 'runbooks/full-dr-drill.yaml',
  description: 'Monthly drill: declare the primary lost, <PITR> to scratch & validate',
  kind: 'drill',
  dryRun: false,
  status: 'succeeded',
  startedAt: t(0),
  endedAt: t(95_000),
  durationMs: 95_000,
  inputs: {},
  targets: { rtoMs: 60_000, rpoMs: 300_000 },
  measured: { recovered: true, disasterAt: t(5_000), recoveredAt: t(80_000), rtoMs: 75_000, rpoMs: 42_000, recoveryPoint: t(5_000 - 42_000) },
  verdicts: [
    { name: 'rto', targetMs: 60_000, achievedMs: 75_000, met: false },
    { name: 'rpo', targetMs: 300_000, achievedMs: 42_000, met: true },
    { name: 'budget', step: 'restore', targetMs: 30_000, achievedMs: 50_000, met: false },
  ],
  steps: [
    step('verify', 'repo.verify', 0, 4_000, { budgetMs: 10_000 }),
    step('declare-lost', 'manual.note', 4_000, 1_000, { disaster: true }),
    step('restore', 'postgres.restore', 5_000, 50_000, { budgetMs: 30_000, overBudget: true }),
    step('validate', 'postgres.assert', 55_000, 25_000, { recovered: true }),
    step('copy-back', 'postgres.copyRows', 80_000, 10_000, { status: 'failed', critical: false, reason: 'relation "leads" does not exist' }),
    { ...step('announce', 'notify.webhook', 0, 0), status: 'skipped', startedAt: undefined, endedAt: undefined, reason: 'if: false' },
    step('cleanup', 'shell.run', 90_000, 5_000, { section: 'finally' }),
  ],
  previous: [
    { runId: 'r3', startedAt: '2026-10-20T02:30:00.000Z', status: 'succeeded', recovered: true, rtoMs: 58_000, rpoMs: 50_000, slowestStep: 'restore', slowestMs: 30_000, targetsMet: true },
    { runId: 'r2', startedAt: '2026-09-20T02:30:00.000Z', status: 'succeeded', recovered: true, rtoMs: 71_000, rpoMs: 61_000, slowestStep: 'restore', slowestMs: 41_000, targetsMet: false },
    { runId: 'r1', startedAt: '2026-08-20T02:30:00.000Z', status: 'succeeded', recovered: true, rtoMs: 49_000, rpoMs: 30_000, slowestStep: 'restore', slowestMs: 25_000, targetsMet: true },
  ],
  exitCode: 3,
};

function step(id: string, uses: string, at: number, ms: number, extra: Partial<RunReport['steps'][number]> = {}): RunReport['steps'][number] {
  return { id, uses, section: 'steps', status: 'succeeded', startedAt: t(at), endedAt: t(at + ms), durationMs: ms, attempts: 1, timedOut: false, canceled: false, critical: true, overBudget: false, outputs: {}, ...extra };
}

let root: string;
beforeAll(() => {
  root = tempDir('drctl-html-');
});
afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('HTML drill report', () => {
  it('is one self-contained document: no script, no external reference, text escaped', () => {
    const html = htmlReport(REPORT);
    expect(html).not.toMatch(/<script|<link|@import|url\(|src=|href=/i);
    expect(html).toContain("default-src 'none'");
    expect(html).toContain('&lt;PITR&gt; to scratch &amp; validate');
    expect(html).not.toContain('<PITR>');
  });

  it('a drill that failed recovered nothing: no RTO span, no recovered mark, RTO and RPO "not recovered"', () => {
    const failed: RunReport = {
      ...REPORT,
      status: 'failed',
      exitCode: 1,
      measured: { recovered: false, disasterAt: t(5_000) },
      verdicts: [
        { name: 'rto', targetMs: 60_000, met: false, notRecovered: true },
        { name: 'rpo', targetMs: 300_000, met: false, notRecovered: true },
      ],
    };
    const html = htmlReport(failed);
    expect(html).not.toContain('<g class="rto-span');
    expect(html).not.toContain('class="mark recovered"');
    expect(html).toContain('not recovered: the run did not succeed');
    expect(html).not.toMatch(/<td>met<\/td>/);
    expect(html.match(/<td>not recovered<\/td><td>not recovered<\/td>/g)).toHaveLength(2);
  });

  it.skipIf(!hasChromium)('renders in headless Chromium: a bar per step, the marks, the verdicts, the trend, and no network', async () => {
    const file = path.join(root, 'drill.html');
    writeFileSync(file, htmlReport(REPORT));
    const { chromium } = await import('playwright-core');
    const context = await chromium.launchPersistentContext(path.join(root, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1024, height: 1400 },
    });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      const requests: string[] = [];
      page.on('request', (req) => requests.push(req.url()));
      await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });

      const bars = await page.locator('svg.gantt rect.bar').evaluateAll((els) => els.map((e) => ({ step: e.getAttribute('data-step'), status: e.getAttribute('data-status'), width: (e as SVGGraphicsElement).getBBox().width })));
      expect(bars.map((b) => b.step)).toEqual(REPORT.steps.map((s) => s.id));
      expect(bars.every((b) => b.width > 0)).toBe(true);
      // Bars are to scale: restore (50 s) is twice validate (25 s).
      const w = Object.fromEntries(bars.map((b) => [b.step, b.width]));
      expect(w.restore! / w.validate!).toBeCloseTo(2, 1);
      expect(await page.locator('svg.gantt rect.bar.failed').getAttribute('data-step')).toBe('copy-back');
      expect(await page.locator('svg.gantt rect.over-budget').count()).toBe(1);
      expect(await page.locator('svg.gantt rect.budget').count()).toBe(2);

      await expect.poll(() => page.locator('svg.gantt .mark.disaster').count()).toBe(1);
      expect(await page.locator('svg.gantt .mark.recovered').count()).toBe(1);
      expect(await page.locator('svg.gantt .mark.rto-deadline').count()).toBe(1);
      // The disaster comes before the recovery.
      const markX = async (cls: string) => Number(await page.locator(`svg.gantt .mark.${cls} line`).getAttribute('x1'));
      expect(await markX('disaster')).toBeLessThan(await markX('recovered'));
      expect(await page.locator('svg.gantt .rto-span.missed').count()).toBe(1);

      expect(await page.locator('.verdict-banner').getAttribute('data-verdict')).toBe('fail');
      expect(await page.locator('.verdict-banner').innerText()).toContain('Missed target: RTO');
      expect(await page.locator('svg.objectives-chart [data-objective="rto"]').getAttribute('data-met')).toBe('false');
      expect(await page.locator('svg.objectives-chart [data-objective="rpo"]').getAttribute('data-met')).toBe('true');
      expect(await page.locator('section.targets').innerText()).toContain('missed by 15.0s');

      // The trend: this drill and the three before it, failures marked, in both RTO and RPO.
      expect(await page.locator('svg.trend-chart[data-series="rto"] circle.trend-point').count()).toBe(4);
      expect(await page.locator('svg.trend-chart[data-series="rpo"] circle.trend-point').count()).toBe(4);
      expect(await page.locator('svg.trend-chart[data-series="rto"] circle[data-ok="false"]').count()).toBe(2);
      expect(await page.locator('svg.trend-chart[data-series="rto"] .trend-target').count()).toBe(1);
      // The Markdown's facts: every step in the table, and the drill comparison.
      const steps = await page.locator('section.steps').innerText();
      for (const s of REPORT.steps) expect(steps).toContain(s.id);
      expect(steps).toContain('relation "leads" does not exist');
      expect(await page.locator('section.trend table tbody tr').count()).toBe(4);

      await page.screenshot({ path: path.join(process.env.DRCTL_SCREENSHOT_DIR ?? root, 'drill-report.png'), fullPage: true });
      expect(requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:'))).toEqual([]);
      expect(requests.length).toBeGreaterThan(0);
    } finally {
      await context.close();
    }
  }, 60_000);

  it('drctl drill --report drill.html writes it, with the earlier drills of the runbook', async () => {
    const state = path.join(root, 'state');
    const out = path.join(root, 'cli.html');
    const first = await drctl(['drill', FIXTURE, '--log-level', 'error'], { env: { DRCTL_STATE_DIR: state } });
    expect(first.code).toBe(0);
    const second = await drctl(['drill', FIXTURE, '--log-level', 'error', '--report', out], { env: { DRCTL_STATE_DIR: state } });
    expect(second.stderr).toBe('');
    expect(second.code).toBe(0);
    const html = readFileSync(out, 'utf8');
    expect(html.match(/<rect class="bar /g)?.length).toBe(4);
    expect(html).toContain('class="over-budget" data-step="restore"');
    expect(html.match(/class="trend-point/g)?.length).toBe(2);
    expect(html).toContain('class="mark disaster"');
  });
});
