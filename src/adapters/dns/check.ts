import { Resolver } from 'node:dns/promises';
import { z } from 'zod';
import { OperationError, UsageError } from '../../errors.js';
import { defineAction } from '../types.js';

// dns.check: ask one resolver (the provider's authoritative server, or a public resolver) what a
// name resolves to and compare with the expected value, to know when a DNS switch has landed.
// Retries on the step wait out propagation.

const Input = z.strictObject({
  name: z.string().min(1),
  type: z.enum(['A', 'AAAA', 'CNAME', 'TXT']).default('A'),
  expected: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional().meta({ description: 'the values the answer must be exactly (any order); omit to only resolve' }),
  resolver: z.string().optional().meta({ description: 'server as host or host:port, e.g. 1.1.1.1 or 127.0.0.1:5353 (default: the system resolver)' }),
  timeoutMs: z.number().int().min(100).default(3000),
});

export const dnsCheck = defineAction({
  name: 'dns.check',
  summary: 'Resolve a name against a resolver and compare with the expected value',
  input: Input,
  outputs: ['values', 'matches', 'figure'],
  describe: (i) => `resolve ${i.name} ${i.type}${i.resolver ? ` at ${i.resolver}` : ''}${i.expected ? `, expecting ${[i.expected].flat().join(', ')}` : ''}`,
  async run(ctx, i) {
    const resolver = new Resolver({ timeout: i.timeoutMs, tries: 2 });
    if (i.resolver) {
      try {
        resolver.setServers([i.resolver]);
      } catch {
        throw new UsageError('usage.dnsResolver', `dns.check: resolver "${i.resolver}" is not an IP address (optionally with :port)`);
      }
    }
    const onAbort = () => resolver.cancel();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    let values: string[];
    try {
      values = await resolve(resolver, i.name, i.type);
    } catch (err) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      const code = (err as { code?: string }).code;
      if (code === 'ENOTFOUND' || code === 'ENODATA') values = [];
      else throw new OperationError('dns.resolve', `${i.name} ${i.type}${i.resolver ? ` at ${i.resolver}` : ''}: ${code ?? (err as Error).message}`);
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
    }
    const expected = i.expected === undefined ? undefined : [i.expected].flat();
    const norm = (v: string) => (i.type === 'CNAME' ? v.replace(/\.$/, '').toLowerCase() : i.type === 'AAAA' ? v.toLowerCase() : v);
    const got = [...new Set(values.map(norm))].sort();
    const matches = expected ? JSON.stringify(got) === JSON.stringify([...new Set(expected.map(norm))].sort()) : got.length > 0;
    const outputs = { values: got, matches, figure: got.join(', ') || 'no answer' };
    if (!matches) {
      throw new OperationError('dns.mismatch', `${i.name} ${i.type}${i.resolver ? ` at ${i.resolver}` : ''} is ${got.join(', ') || 'not resolvable'}${expected ? `, expected ${expected.join(', ')}` : ''}`, { cause: outputs });
    }
    ctx.log(`${i.name} ${i.type}: ${got.join(', ')}`);
    return outputs;
  },
});

async function resolve(r: Resolver, name: string, type: 'A' | 'AAAA' | 'CNAME' | 'TXT'): Promise<string[]> {
  if (type === 'A') return r.resolve4(name);
  if (type === 'AAAA') return r.resolve6(name);
  if (type === 'CNAME') return r.resolveCname(name);
  return (await r.resolveTxt(name)).map((chunks) => chunks.join(''));
}
