import { readFile } from 'node:fs/promises';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Node, type Document } from 'yaml';
import type { Registry } from '../adapters/registry.js';
import { UsageError, ValidationError, type Problem } from '../errors.js';
import { checkRunbook, looseRunbook, type RuleProblem } from './rules.js';
import { Runbook } from './schema.js';

// Runbook loading: YAML with positions → zod shape → cross-field rules. Every problem is
// collected, given a line and column, and thrown at once as a ValidationError.

export interface LoadedRunbook {
  file: string;
  runbook: Runbook;
  /** Allowed constructs worth a second look (raw shell interpolation). */
  warnings: Problem[];
}

/** Reads and validates a runbook file. */
export async function loadRunbook(file: string, registry: Registry): Promise<LoadedRunbook> {
  let source: string;
  try {
    source = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError('runbook.read', `${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message}`);
  }
  return parseRunbook(source, file, registry);
}

/** Validates runbook text; `file` is used only in messages. */
export function parseRunbook(source: string, file: string, registry: Registry): LoadedRunbook {
  const lines = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const problems: Problem[] = [];
  for (const e of doc.errors) {
    const pos = e.linePos?.[0] ?? lines.linePos(e.pos[0]);
    problems.push({ file, line: pos.line, col: pos.col, message: firstLine(e.message) });
  }
  if (problems.length) throw new ValidationError(problems);

  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // yaml leaves some problems to toJS: an alias used before its anchor, alias bombs.
    let pos = { line: 1, col: 1 };
    visit(doc, {
      Alias(_key, node) {
        if (node.resolve(doc) === undefined && node.range) {
          pos = lines.linePos(node.range[0]);
          return visit.BREAK;
        }
        return undefined;
      },
    });
    throw new ValidationError([{ file, line: pos.line, col: pos.col, message: firstLine((err as Error).message) }]);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ValidationError([{ file, line: 1, col: 1, message: 'a runbook is a YAML mapping (apiVersion, name, steps, ...)' }]);
  }
  const locate = locator(doc, lines);
  const parsed = Runbook.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
      if (issue.code === 'unrecognized_keys') {
        for (const k of issue.keys) {
          problems.push(at(file, locate([...path, k], true), [...path, k], `unknown key "${k}"`));
        }
      } else {
        problems.push(at(file, locate(path, false), path, issue.message));
      }
    }
  }
  // Rules run on what could be read even when the shape is wrong: every mistake at once.
  const taken = new Set(problems.map((p) => p.path));
  const expanded = parsed.success ? withNotifySteps(parsed.data) : undefined;
  const ruleInput = expanded ?? looseRunbook(raw as Record<string, unknown>);
  const userFinally = parsed.success ? parsed.data.finally.length : Number.POSITIVE_INFINITY;
  const warnings: Problem[] = [];
  for (const p of checkRunbook(ruleInput, registry)) {
    // Problems in steps generated from notify: point at the notify entry the user wrote.
    if (p.path[0] === 'finally' && typeof p.path[1] === 'number' && p.path[1] >= userFinally) {
      const n = /^notify-(\d+)-/.exec(expanded?.finally[p.path[1]]?.id ?? '');
      if (n) p.path = ['notify', Number(n[1]) - 1];
      delete p.offset;
    }
    const problem = fromRule(file, locate, doc, p);
    if (p.warning) warnings.push({ ...problem, message: `warning: ${problem.message}` });
    else if (!taken.has(problem.path)) problems.push(problem);
  }
  for (const [i, n] of (parsed.success ? parsed.data.notify : []).entries()) {
    if (!n.webhook && !n.sms && n.slack === undefined && n.pagerduty === undefined) {
      problems.push(at(file, locate(['notify', i], false), ['notify', i], 'give webhook, sms, slack and/or pagerduty'));
    }
  }
  if (problems.length || !parsed.success) throw new ValidationError(sortProblems(problems));
  return { file, runbook: expanded ?? parsed.data, warnings };
}

type Locate = (path: (string | number)[], atKey: boolean) => { line: number; col: number };

function locator(doc: Document, lines: LineCounter): Locate {
  return (path, atKey) => {
    let node: unknown = doc.contents;
    let keyNode: unknown;
    for (const part of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === part);
        if (!pair) break;
        keyNode = pair.key;
        node = pair.value ?? pair.key;
      } else if (isSeq(node) && typeof part === 'number' && node.items[part]) {
        keyNode = undefined;
        node = node.items[part];
      } else break;
    }
    const target = (atKey && keyNode ? keyNode : node) as Node | undefined;
    const offset = target?.range?.[0] ?? 0;
    return lines.linePos(offset);
  };
}

function fromRule(file: string, locate: Locate, doc: Document, p: RuleProblem): Problem {
  const pos = locate(p.path, p.atKey ?? false);
  if (p.offset !== undefined) {
    const node = doc.getIn(p.path, true);
    // Only plain and quoted one-line scalars map string offsets to columns reliably.
    if (isScalar(node) && (node.type === 'PLAIN' || node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE')) {
      const quoted = node.type === 'PLAIN' ? 0 : 1;
      const text = String(node.value);
      if (!text.slice(0, p.offset).includes('\n')) pos.col += p.offset + quoted;
    }
  }
  return at(file, pos, p.path, p.message);
}

function at(file: string, pos: { line: number; col: number }, path: (string | number)[], message: string): Problem {
  return { file, line: pos.line, col: pos.col, path: formatPath(path), message: `${formatPath(path)}: ${message}`.replace(/^: /, '') };
}

/** steps[2].with.url */
export function formatPath(path: (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function sortProblems(ps: Problem[]): Problem[] {
  return ps.sort((a, b) => a.line - b.line || a.col - b.col);
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}

/**
 * A runbook's `notify:` entries become ordinary finally steps (so they are timed, reported and
 * retried like any other), each guarded by the run status it is for.
 */
function withNotifySteps(rb: Runbook): Runbook {
  if (!rb.notify.length) return rb;
  const guard = { failure: "run.status != 'succeeded'", success: "run.status == 'succeeded'", always: 'true' } as const;
  const text = (message: string | undefined) =>
    message ?? 'drctl ${run.name} ${run.status} in ${run.elapsed}';
  const steps = rb.notify.flatMap((n, i) => {
    const base = { if: guard[n.when], onFailure: 'continue', critical: false, parallel: false, disaster: false, recovered: false, timeout: '30s', retries: { attempts: 3, backoff: '2s' } };
    const out = [];
    if (n.webhook) out.push({ ...base, id: `notify-${i + 1}-webhook`, uses: 'notify.webhook', with: { url: n.webhook, text: text(n.message) } });
    if (n.sms) out.push({ ...base, id: `notify-${i + 1}-sms`, uses: 'twilio.sms', with: { to: n.sms, body: text(n.message) } });
    if (n.slack !== undefined) {
      const url = n.slack === true ? {} : { webhookUrl: n.slack };
      out.push({ ...base, id: `notify-${i + 1}-slack`, uses: 'slack.post', with: { ...url, title: 'drctl ${run.name}', text: text(n.message), status: '${run.status}', elapsed: '${run.elapsed}' } });
    }
    if (n.pagerduty !== undefined) {
      // One dedup key per runbook: the trigger of a failed run is resolved by the next run that succeeds.
      const pd = { ...(n.pagerduty === true ? {} : { routingKey: n.pagerduty }), dedupKey: 'drctl-${run.name}' };
      if (n.when !== 'success') {
        out.push({ ...base, if: guard.failure, id: `notify-${i + 1}-pagerduty`, uses: 'pagerduty.event', with: { ...pd, action: 'trigger', summary: text(n.message), source: 'drctl', details: { run: '${run.id}', status: '${run.status}', elapsed: '${run.elapsed}' } } });
      }
      if (n.when !== 'failure') {
        out.push({ ...base, if: guard.success, id: `notify-${i + 1}-pagerduty-resolve`, uses: 'pagerduty.event', with: { ...pd, action: 'resolve' } });
      }
    }
    return out;
  });
  return { ...rb, finally: [...rb.finally, ...steps] };
}
