// Builds dist/: drctl's own modules bundled into dist/cli.js and the chunks it loads on demand.
// Node resolves and compiles every module file it loads; the CLI's ~160 files cost ~0.2 s at
// each start (every command, every wal-push PostgreSQL runs). Packages stay external: they are
// installed beside dist/ and loaded only by the command that needs them, as before.
import { chmod, rm, writeFile } from 'node:fs/promises';
import { build } from 'esbuild';

// Small pure-JS packages every command loads (schemas, runbook YAML, flags): bundled, so that
// Node does not resolve and compile their ~190 files at each start. Everything else stays
// external: the heavy SDKs are loaded only by the command that needs them, and pino starts
// its transports from files of its own.
const BUNDLED = new Set(['zod', 'yaml', 'commander', 'picocolors', 'parse-duration', 'jsep']);

function externalExcept(bundled) {
  return {
    name: 'external-except',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        const name = args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : args.path.split('/')[0];
        return bundled.has(name) ? undefined : { path: args.path, external: true };
      });
    },
  };
}

await rm('dist', { recursive: true, force: true });
const result = await build({
  entryPoints: ['src/cli.ts'],
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  plugins: [externalExcept(BUNDLED)],
  chunkNames: 'chunks/[name]-[hash]',
  sourcemap: true,
  // Bundled CommonJS packages (commander, yaml) require Node's built-ins; ESM has no require.
  banner: { js: "import { createRequire as __drctlRequire } from 'node:module'; const require = __drctlRequire(import.meta.url);" },
  logLevel: 'warning',
  metafile: true,
});
// Which source files and packages each output file holds: the start-up test reads it to tell
// which packages a command loaded from inside the bundle. Not shipped (package.json files).
await writeFile('dist/build-meta.json', JSON.stringify(result.metafile));
await chmod('dist/cli.js', 0o755);
