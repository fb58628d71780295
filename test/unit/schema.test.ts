import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runbookJsonSchema } from '../../src/runbook/schema.js';

// The JSON Schema editors use is generated from the zod schema; the committed copy
// (runbook.schema.json, referenced by the shipped runbooks) must match it.
describe('runbook JSON Schema', () => {
  it('the committed runbook.schema.json is what drctl schema generates', () => {
    const committed = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '..', '..', 'runbook.schema.json'), 'utf8'));
    expect(committed).toEqual(runbookJsonSchema());
  });

  it('describes steps, durations and notify entries for editors', () => {
    const s = runbookJsonSchema() as { required: string[]; properties: Record<string, { items?: { properties?: Record<string, unknown> } }> };
    expect(s.required).toEqual(expect.arrayContaining(['apiVersion', 'name', 'steps']));
    expect(Object.keys(s.properties.steps!.items!.properties!)).toEqual(expect.arrayContaining(['id', 'uses', 'with', 'timeout', 'retries', 'budget', 'onFailure', 'if']));
    expect(Object.keys(s.properties.notify!.items!.properties!)).toEqual(['when', 'webhook', 'sms', 'slack', 'pagerduty', 'message']);
  });
});
