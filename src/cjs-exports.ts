/**
 * The exports of a lazily imported CommonJS package (yaml, pg-copy-streams). Bundled by
 * esbuild, its `import()` yields the module as `default` alone; Node's own loader also gives
 * the named exports. `name` is one export that tells which form this is.
 */
export function cjsExports<T extends object>(mod: T, name: keyof T): T {
  return name in mod ? mod : (mod as unknown as { default: T }).default;
}
