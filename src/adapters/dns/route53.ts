import { OperationError, UsageError } from '../../errors.js';
import type { ActionContext } from '../types.js';
import { fqdn, isZoneName, type RecordSet, type UpdateResult } from './record.js';

// Route 53 through the AWS SDK (loaded here, only when a dns step runs): read the current record
// set first so a rollback step can put it back, UPSERT, then wait until the change is INSYNC on
// every Route 53 name server. AWS_ENDPOINT_URL_ROUTE_53 (or the endpoint input) points it at
// another endpoint, e.g. moto in tests.

export interface Route53Options {
  zone: string;
  endpoint?: string;
  wait: boolean;
  pollMs: number;
}

async function client(ctx: ActionContext, endpoint: string | undefined) {
  const sdk = await import('@aws-sdk/client-route-53');
  const env = ctx.env;
  const r53 = new sdk.Route53Client({
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
    endpoint: endpoint ?? env.AWS_ENDPOINT_URL_ROUTE_53 ?? env.AWS_ENDPOINT_URL,
    maxAttempts: 5,
    credentials:
      env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
        ? { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN }
        : undefined,
  });
  return { sdk, r53 };
}

type Sdk = Awaited<ReturnType<typeof client>>;

async function zoneOf({ sdk, r53 }: Sdk, zone: string, signal: AbortSignal): Promise<{ id: string; name: string }> {
  if (!isZoneName(zone)) {
    const z = await r53.send(new sdk.GetHostedZoneCommand({ Id: zone }), { abortSignal: signal });
    return { id: zone, name: (z.HostedZone?.Name ?? '').replace(/\.$/, '') };
  }
  const want = zone.replace(/\.$/, '').toLowerCase();
  const res = await r53.send(new sdk.ListHostedZonesByNameCommand({ DNSName: `${want}.`, MaxItems: 10 }), { abortSignal: signal });
  const found = (res.HostedZones ?? []).filter((z) => z.Name?.replace(/\.$/, '').toLowerCase() === want);
  if (!found.length) throw new UsageError('usage.dnsZone', `dns.update: Route 53 has no hosted zone ${want}`);
  if (found.length > 1) throw new UsageError('usage.dnsZone', `dns.update: Route 53 has ${found.length} hosted zones named ${want} (a public and a private one?); give the zone id`);
  return { id: (found[0]?.Id ?? '').replace(/^\/hostedzone\//, ''), name: want };
}

/** Route 53 wants TXT values in double quotes. */
function toRoute53(type: string, v: string): string {
  return type === 'TXT' && !/^".*"$/.test(v) ? JSON.stringify(v) : v;
}

function fromRoute53(type: string, v: string): string {
  return type === 'TXT' && /^".*"$/.test(v) ? v.slice(1, -1) : v;
}

export async function route53Update(ctx: ActionContext, rec: Omit<RecordSet, 'name'> & { name: string }, o: Route53Options): Promise<UpdateResult & { name: string }> {
  const c = await client(ctx, o.endpoint);
  try {
    const zone = await zoneOf(c, o.zone, ctx.signal);
    const name = fqdn(rec.name, zone.name);
    const listed = await c.r53.send(new c.sdk.ListResourceRecordSetsCommand({ HostedZoneId: zone.id, StartRecordName: `${name}.`, StartRecordType: rec.type, MaxItems: 1 }), { abortSignal: ctx.signal });
    const cur = (listed.ResourceRecordSets ?? []).find((s) => s.Name?.replace(/\.$/, '').toLowerCase() === name && s.Type === rec.type);
    if (cur?.AliasTarget) throw new OperationError('dns.alias', `${name} ${rec.type} is a Route 53 alias; drctl updates plain records only`);
    const previous = cur ? { values: (cur.ResourceRecords ?? []).map((r) => fromRoute53(rec.type, r.Value ?? '')), ttl: cur.TTL ?? 0 } : undefined;
    const changed = await c.r53.send(
      new c.sdk.ChangeResourceRecordSetsCommand({
        HostedZoneId: zone.id,
        ChangeBatch: {
          Comment: `drctl run ${ctx.runId} step ${ctx.stepId}`,
          Changes: [{ Action: 'UPSERT', ResourceRecordSet: { Name: `${name}.`, Type: rec.type, TTL: rec.ttl, ResourceRecords: rec.values.map((v) => ({ Value: toRoute53(rec.type, v) })) } }],
        },
      }),
      { abortSignal: ctx.signal },
    );
    const changeId = (changed.ChangeInfo?.Id ?? '').replace(/^\/change\//, '');
    let status = String(changed.ChangeInfo?.Status ?? 'PENDING');
    ctx.log(`Route 53 change ${changeId}: ${name} ${rec.type} ${rec.values.join(', ')} (${status})`);
    while (o.wait && status !== 'INSYNC') {
      await new Promise((r) => setTimeout(r, o.pollMs));
      if (ctx.signal.aborted) throw ctx.signal.reason;
      const got = await c.r53.send(new c.sdk.GetChangeCommand({ Id: changeId }), { abortSignal: ctx.signal });
      status = String(got.ChangeInfo?.Status ?? status);
    }
    return { name, previous, changeId, status };
  } catch (err) {
    throw route53Error(err);
  } finally {
    c.r53.destroy();
  }
}

export async function route53Read(ctx: ActionContext, o: { zone: string; name: string; type: string; endpoint?: string }): Promise<RecordSet | undefined> {
  const c = await client(ctx, o.endpoint);
  try {
    const zone = await zoneOf(c, o.zone, ctx.signal);
    const name = fqdn(o.name, zone.name);
    const listed = await c.r53.send(new c.sdk.ListResourceRecordSetsCommand({ HostedZoneId: zone.id, StartRecordName: `${name}.`, StartRecordType: o.type as 'A', MaxItems: 1 }), { abortSignal: ctx.signal });
    const cur = (listed.ResourceRecordSets ?? []).find((s) => s.Name?.replace(/\.$/, '').toLowerCase() === name && s.Type === o.type);
    return cur ? { name, type: o.type as RecordSet['type'], values: (cur.ResourceRecords ?? []).map((r) => fromRoute53(o.type, r.Value ?? '')), ttl: cur.TTL ?? 0 } : undefined;
  } catch (err) {
    throw route53Error(err);
  } finally {
    c.r53.destroy();
  }
}

function route53Error(err: unknown): unknown {
  if (err instanceof UsageError || err instanceof OperationError) return err;
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number }; code?: string };
  if (e.name === 'AbortError') return err;
  if (e.name === 'NoSuchHostedZone') return new UsageError('usage.dnsZone', `dns.update: ${e.message ?? 'no such hosted zone'}`);
  if (e.name === 'InvalidChangeBatch' || e.name === 'InvalidInput') return new OperationError('dns.invalid', `Route 53 refused the change: ${e.message ?? e.name}`);
  if (e.$metadata?.httpStatusCode === 403 || e.name === 'AccessDenied' || e.name === 'InvalidClientTokenId' || e.name === 'SignatureDoesNotMatch') {
    return new OperationError('dns.auth', `Route 53 rejected the credentials (${e.name})`);
  }
  return new OperationError('dns.route53', `Route 53: ${e.name && e.name !== 'Error' ? `${e.name}: ` : ''}${e.message ?? e.code ?? String(err)}`);
}
