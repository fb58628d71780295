// Builds dist/: drctl's own modules bundled into dist/cli.js and the chunks it loads on demand.
// Node resolves and compiles every module file it loads; the CLI's ~160 files cost ~0.2 s at
// each start (every command, every wal-push PostgreSQL runs). Packages stay external: they are
// installed beside dist/ and loaded only by the command that needs them, as before.
import { chmod, rm } from 'node:fs/promises';
import { build } from 'esbuild';

await rm('dist', { recursive: true, force: true });
await build({
  entryPoints: ['src/cli.ts'],
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  chunkNames: 'chunks/[name]-[hash]',
  sourcemap: true,
  logLevel: 'warning',
});
await chmod('dist/cli.js', 0o755);
