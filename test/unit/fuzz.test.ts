import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { builtInRegistry } from '../../src/adapters/registry.js';
import { ValidationError } from '../../src/errors.js';
import { parseRunbook } from '../../src/runbook/load.js';

// Malformed runbooks must only ever produce located validation errors: no uncaught exception,
// no problem without a line and column.

const registry = builtInRegistry();
const VALID = `apiVersion: drctl/v1
name: fuzz
targets: { rto: 1h, rpo: 5m }
inputs:
  target: { default: "\${env.HOME}" }
steps:
  - id: ping
    uses: http.check
    with: { url: "http://127.0.0.1:1/health", json: { status: ok } }
    timeout: 30s
    retries: { attempts: 3, backoff: 2s }
  - id: confirm
    uses: manual.confirm
    with: { message: "Replace \${inputs.target}?" }
  - id: run
    uses: shell.run
    with:
      command: "echo \${steps.ping.outputs.status}"
    budget: { duration: 30m, enforce: true }
    onFailure: notify
    if: "\${steps.ping.outputs.status == 200}"
  - id: notify
    uses: shell.run
    with: { command: "echo \${run.status}" }
finally:
  - id: bye
    uses: shell.run
    with: { command: "echo \${run.elapsed}" }
`;

const TOKENS = ['{', '}', '[', ']', ':', '-', '${', '}', '"', "'", '\n', '  ', '&a', '*a', '!!binary', '|', '>', '#', 'null', '~', '0', '1e999', 'steps', 'uses', 'with', '\t', '%', '@', '`'];

function check(source: string): void {
  try {
    parseRunbook(source, 'fuzz.yaml', registry);
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    expect(err.problems.length).toBeGreaterThan(0);
    for (const p of err.problems) {
      expect(p.line).toBeGreaterThanOrEqual(1);
      expect(p.col).toBeGreaterThanOrEqual(1);
      expect(p.message.length).toBeGreaterThan(0);
    }
  }
}

describe('loader fuzz', () => {
  it('never throws anything but a located ValidationError on mutated runbooks', () => {
    const mutation = fc.record({
      at: fc.nat(),
      len: fc.nat({ max: 12 }),
      insert: fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 8 })),
    });
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (ms) => {
        let s = VALID;
        for (const m of ms) {
          const at = m.at % (s.length + 1);
          s = s.slice(0, at) + m.insert + s.slice(at + m.len);
        }
        check(s);
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 1500) },
    );
  });

  it('never throws on arbitrary YAML values in place of the whole document or of a step', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (v) => {
        check(JSON.stringify(v));
        check(VALID.replace('  - id: notify', `  - ${JSON.stringify(v)}\n  - id: notify`));
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 500) },
    );
  });

  it('accepts the unmutated runbook', () => {
    expect(parseRunbook(VALID, 'fuzz.yaml', registry).runbook.steps).toHaveLength(4);
  });
});
