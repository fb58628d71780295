// node --import ./test/support/trace-imports.mjs: prints every resolved package module and
// every file of drctl's bundle to stderr as "IMPORT <url>", so tests can check which SDKs a
// command loaded (a bundle file's packages are listed in dist/build-meta.json).
import { register } from 'node:module';

const hooks = `
import { writeSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (r.url.includes('/node_modules/') || r.url.includes('/dist/')) writeSync(2, 'IMPORT ' + r.url + '\\n');
  return r;
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);
