import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { builtInRegistry } from '../../src/adapters/registry.js';
import { ValidationError, formatProblem } from '../../src/errors.js';
import { loadRunbook, parseRunbook } from '../../src/runbook/load.js';

const registry = builtInRegistry();
const fixture = (name: string) => path.resolve(import.meta.dirname, '..', 'fixtures', 'runbooks', name);

function problems(source: string): string[] {
  try {
    parseRunbook(source, 'rb.yaml', registry);
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as ValidationError).problems.map(formatProblem);
  }
  throw new Error('expected a validation error');
}

describe('runbook loader', () => {
  it('reports all three mistakes of a runbook at once, each with line:col', async () => {
    const file = fixture('three-mistakes.yaml');
    const err = await loadRunbook(file, registry).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ValidationError);
    const lines = (err as ValidationError).problems.map(formatProblem);
    expect(lines).toEqual([
      `${file}:5:11 steps[0].uses: unknown action "postgres.dumpp"`,
      `${file}:10:14 steps[1].timeout: not a duration (use e.g. 90s, 15m, 1h30m, 2d; a bare number means seconds)`,
      `${file}:14:49 steps[2].with.command: unknown input "missing" in \${inputs.missing} (the runbook declares no inputs)`,
    ]);
  });

  it('points at malformed YAML', () => {
    expect(problems('apiVersion: drctl/v1\nname: x\nsteps:\n  - id: a\n    uses: [shell.run\n')[0]).toMatch(/^rb\.yaml:\d+:\d+ /);
  });

  it('an alias used before its anchor is a located error, not a crash (found by the fuzz test)', () => {
    expect(problems('apiVersion: drctl/v1\nname: x\nsteps:\n  - id: a\n    uses: *nope\n')).toEqual([
      'rb.yaml:5:11 Unresolved alias (the anchor must be set before the alias): nope',
    ]);
  });

  it('rejects duplicate keys and duplicate step ids', () => {
    const out = problems(
      'apiVersion: drctl/v1\nname: x\nsteps:\n  - id: a\n    uses: shell.run\n    with: { command: "true" }\n  - id: a\n    uses: shell.run\n    with: { command: "true" }\n',
    );
    expect(out).toEqual(['rb.yaml:7:9 steps[1].id: duplicate step id "a"']);
    expect(problems('apiVersion: drctl/v1\nname: x\nname: y\nsteps: []\n')[0]).toMatch(/^rb\.yaml:3:1 .*[Uu]nique/);
  });

  it('names unknown keys at the key, and missing required fields at their parent', () => {
    const out = problems('apiVersion: drctl/v1\nname: x\nsteps:\n  - id: a\n    use: shell.run\n');
    expect(out).toContain('rb.yaml:5:5 steps[0].use: unknown key "use"');
    expect(out.some((l) => l.startsWith('rb.yaml:4:5 steps[0].uses:'))).toBe(true);
  });

  it('checks with: against the action schema, and leaves templated values to run time', () => {
    expect(problems('apiVersion: drctl/v1\nname: x\nsteps:\n  - id: a\n    uses: http.check\n    with: { url: "not a url", statuz: 200 }\n')).toEqual([
      'rb.yaml:6:18 steps[0].with.url: Invalid URL',
      'rb.yaml:6:31 steps[0].with.statuz: unknown input "statuz"',
    ]);
    const ok = parseRunbook(
      'apiVersion: drctl/v1\nname: x\ninputs: { code: { type: number, default: 200 } }\nsteps:\n  - id: a\n    uses: http.check\n    with: { url: "http://x", status: "${inputs.code}" }\n',
      'rb.yaml',
      registry,
    );
    expect(ok.runbook.steps[0]?.with.status).toBe('${inputs.code}');
  });

  it('rejects onFailure targets that do not exist or come earlier, and outputs an action does not have', () => {
    const out = problems(
      [
        'apiVersion: drctl/v1',
        'name: x',
        'steps:',
        '  - id: a',
        '    uses: shell.run',
        '    with: { command: "true" }',
        '  - id: b',
        '    uses: shell.run',
        '    with: { command: "echo ${steps.a.outputs.size}" }',
        '    onFailure: a',
      ].join('\n'),
    );
    expect(out).toEqual([
      'rb.yaml:9:28 steps[1].with.command: ${steps.a.outputs.size}: shell.run has no output "size" (outputs: exitCode, stdout, stderr)',
      'rb.yaml:10:16 steps[1].onFailure: "a" must come after "b"',
    ]);
  });

  it('rejects references to later steps and unknown roots, and bad if expressions', () => {
    const out = problems(
      [
        'apiVersion: drctl/v1',
        'name: x',
        'steps:',
        '  - id: a',
        '    uses: shell.run',
        '    with: { command: "echo ${steps.b.outputs.stdout} ${secrets.x}" }',
        '    if: "inputs.nope == 1"',
        '  - id: b',
        '    uses: shell.run',
        '    with: { command: "true" }',
      ].join('\n'),
    );
    expect(out).toEqual([
      'rb.yaml:6:28 steps[0].with.command: ${steps.b.outputs.stdout}: step "b" runs later and has no outputs yet',
      'rb.yaml:6:54 steps[0].with.command: unknown reference ${secrets.x}: use env, inputs, steps or run',
      'rb.yaml:7:9 steps[0].if: unknown input "nope" in ${inputs.nope} (the runbook declares no inputs)',
    ]);
  });

  it('accepts the shipped-style runbook with finally referring to main steps', async () => {
    const { runbook } = await loadRunbook(fixture('timeout-retry-jump.yaml'), registry);
    expect(runbook.steps.map((s) => s.id)).toEqual(['flaky', 'hang', 'never', 'recover']);
    expect(runbook.finally[0]?.id).toBe('cleanup');
  });
});
