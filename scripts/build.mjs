// Builds dist/: drctl's own modules bundled into dist/cli.js and the chunks it loads on demand.
// Node resolves and compiles every module file it loads; the CLI's ~160 files cost ~0.2 s at
// each start (every command, every wal-push PostgreSQL runs). Packages stay external: they are
// installed beside dist/ and loaded only by the command that needs them, as before.
import { chmod, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';

// Packages are bundled too, with what they import: Node resolves and compiles every module
// file it loads, and zod, yaml and commander (~190 files) cost ~0.13 s at every start, execa
// (~300 files with its dependencies) ~0.14 s and pg ~0.06 s in every command that runs a tool
// or connects. They still load only when a command needs them: a lazy import() becomes a chunk
// of its own. External stay the big SDKs (their own code splits them per client), pino (its
// transports start worker files by path), prom-client, and native or optional modules.
const EXTERNAL = ['@aws-sdk/', '@smithy/', 'twilio', 'ioredis', 'pino', 'prom-client', 'zstd-napi', 'pg-native', 'pg-cloudflare'];

function externalOnly(list) {
  return {
    name: 'external-only',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.path.startsWith('node:')) return { path: args.path, external: true };
        const name = args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : args.path.split('/')[0];
        return list.some((e) => (e.endsWith('/') ? name.startsWith(e) : name === e)) ? { path: args.path, external: true } : undefined;
      });
    },
  };
}

// zod's classic API re-exports every locale (~60 files, ~370 KB: half the zod chunk that
// validate, run and every built-in command compile at start); drctl's messages are English
// and its own, so only the English locale, which zod installs itself, is bundled.
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, (args) => ({
      contents: "export { default as en } from './en.js';\n",
      resolveDir: path.dirname(args.path),
      loader: 'js',
    }));
  },
};

// The bundle holds copies of these packages: their licenses ship with it, one file.
async function licenses(metafile) {
  const dirs = new Set();
  for (const input of Object.keys(metafile.inputs)) {
    const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) dirs.add(m[1]);
  }
  const out = [];
  for (const dir of [...dirs].sort()) {
    const pkg = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8'));
    const files = await readdir(dir);
    const file = files.find((f) => /^licen[cs]e/i.test(f));
    let text = file ? await readFile(path.join(dir, file), 'utf8') : undefined;
    // A package without a LICENSE file (pg-copy-streams) states its terms in its README.
    const readme = files.find((f) => /^readme/i.test(f));
    if (!text && readme) text = /^#+\s*licen[cs]e\b[\s\S]*/im.exec(await readFile(path.join(dir, readme), 'utf8'))?.[0];
    if (!text) throw new Error(`${dir}: bundled, but neither a LICENSE file nor its README states its license`);
    out.push(`${pkg.name}@${pkg.version} (${pkg.license})\n\n${text.trim()}\n`);
  }
  return `drctl bundles these packages into dist/.\n\n${out.join(`\n${'-'.repeat(72)}\n\n`)}`;
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
  plugins: [externalOnly(EXTERNAL), zodEnglishOnly],
  chunkNames: 'chunks/[name]-[hash]',
  // Shipped, for DRCTL_DEBUG=1 stacks (src/cli.ts); file and line only, without the sources.
  sourcemap: true,
  sourcesContent: false,
  // Bundled CommonJS packages (commander, yaml, pg) require Node's built-ins; ESM has no require.
  banner: { js: "import { createRequire as __drctlRequire } from 'node:module'; const require = __drctlRequire(import.meta.url);" },
  logLevel: 'warning',
  metafile: true,
});
// Which source files and packages each output file holds: the start-up test reads it to tell
// which packages a command loaded from inside the bundle. Not shipped (package.json files).
await writeFile('dist/build-meta.json', JSON.stringify(result.metafile));
await writeFile('dist/THIRD_PARTY_LICENSES.txt', await licenses(result.metafile));
await chmod('dist/cli.js', 0o755);
