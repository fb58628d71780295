import path from 'node:path';
import { UsageError } from '../errors.js';
import type { RunReport } from '../engine/step-result.js';
import { secrets } from '../redact.js';
import { writeAtomic } from '../atomic-file.js';
import { htmlReport } from './html.js';
import { junitReport } from './junit.js';
import { markdownReport } from './markdown.js';

// Report files, format picked by extension in this one place: .json, .md, .xml (JUnit), .html.

const FORMATS: Record<string, (r: RunReport) => string> = {
  '.json': (r) => `${JSON.stringify(r, null, 2)}\n`,
  '.md': markdownReport,
  '.xml': junitReport,
  '.html': htmlReport,
};

/** Rejects an unknown extension before anything runs. */
export function checkReportPaths(files: string[]): void {
  for (const f of files) {
    if (!FORMATS[path.extname(f).toLowerCase()]) {
      throw new UsageError('usage.report', `--report ${f}: unknown format (use .json, .md, .html or .xml for JUnit)`);
    }
  }
}

/** Writes each report atomically (temp name, then rename). */
export async function writeReports(report: RunReport, files: string[]): Promise<void> {
  const clean = secrets.redactDeep(report);
  for (const f of files) {
    const render = FORMATS[path.extname(f).toLowerCase()];
    if (!render) continue;
    await writeAtomic(f, secrets.redact(render(clean)));
  }
}
