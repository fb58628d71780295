import { describe, expect, it } from 'vitest';
import { Scope } from '../../src/engine/scope.js';
import { TemplateError } from '../../src/errors.js';
import { parseTemplate } from '../../src/runbook/template-parse.js';
import { renderDeep, renderString } from '../../src/runbook/template.js';

function scope(): Scope {
  const s = new Scope({ HOME: '/root', EMPTY: '' }, { target: 'postgres://h/db', n: 3 }, { id: 'r1', name: 'rb', startedAt: Date.now() });
  s.steps.set('restore', { status: 'succeeded', outputs: { restored: true, rows: { leads: 10 } }, durationMs: 5, attempts: 1 });
  return s;
}

describe('templating', () => {
  it('keeps the type of a single expression and stringifies mixed text', () => {
    const r = scope().strict();
    expect(renderString('${steps.restore.outputs.restored}', r)).toBe(true);
    expect(renderString('${inputs.n}', r)).toBe(3);
    expect(renderString('n=${inputs.n} on ${env.HOME}', r)).toBe('n=3 on /root');
    expect(renderString('${steps.restore.outputs.rows.leads + 1}', r)).toBe(11);
    expect(renderString('$${literal}', r)).toBe('${literal}');
    expect(renderString('${steps.restore.status == "succeeded" && inputs.n >= 3}', r)).toBe(true);
    expect(renderString('${default(env.EMPTY, "fallback")}', r)).toBe('fallback');
    expect(renderDeep({ a: ['${inputs.n}', { b: '${env.HOME}/x' }] }, r)).toEqual({ a: [3, { b: '/root/x' }] });
  });

  it('an unknown reference is an error, not an empty string', () => {
    const r = scope().strict();
    expect(() => renderString('${env.NOPE}', r)).toThrow(TemplateError);
    expect(() => renderString('${steps.other.outputs.x}', r)).toThrow('step "other" has not run');
    expect(() => renderString('${steps.restore.outputs.nope}', r)).toThrow('has no output "nope"');
  });

  it('plan mode shows placeholders instead', () => {
    expect(renderString('echo ${steps.other.outputs.x}', scope().lenient())).toBe('echo <steps.other.outputs.x>');
  });

  it('refuses code: no function calls outside the allow-list, no prototype walking', () => {
    const r = scope().strict();
    expect(() => renderString('${constructor.constructor("return process")()}', r)).toThrow();
    expect(() => renderString('${inputs.constructor}', r)).toThrow(TemplateError);
    expect(() => parseTemplate('${unclosed')).toThrow('unclosed');
  });
});
