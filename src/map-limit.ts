// Runs `fn` over `items` with at most `limit` calls in flight; results in the items' order.
// Reading a repository's manifests one after another costs one store round trip each: on S3,
// a few hundred backups made `restore latest` wait seconds before it started.

export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    // Once one call failed, no new ones start: the caller gets that error.
    while (!failed && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
