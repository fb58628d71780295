import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';

// A tiny authoritative DNS server over UDP on loopback for dns.check: A and TXT answers from a
// table the test changes (as a DNS switch would), NXDOMAIN for unknown names.

export interface DnsServer {
  /** host:port for a resolver setting. */
  address: string;
  records: Map<string, { A?: string[]; TXT?: string[] }>;
  stop(): Promise<void>;
}

const TYPE = { A: 1, TXT: 16 } as const;

/** `lookup` answers names the table does not have (e.g. from a fake provider's records). */
export async function startDnsServer(lookup?: (name: string) => { A?: string[]; TXT?: string[] } | undefined): Promise<DnsServer> {
  const records: DnsServer['records'] = new Map();
  const sock = dgram.createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    try {
      sock.send(answer(msg, (name) => records.get(name) ?? lookup?.(name)), rinfo.port, rinfo.address);
    } catch {
      // malformed query: no answer, as a server would drop it
    }
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  return {
    address: `127.0.0.1:${(sock.address() as AddressInfo).port}`,
    records,
    stop: () => new Promise((r) => sock.close(() => r())),
  };
}

function answer(q: Buffer, find: (name: string) => { A?: string[]; TXT?: string[] } | undefined): Buffer {
  const id = q.readUInt16BE(0);
  let off = 12;
  const labels: string[] = [];
  for (let len = q[off] as number; len; len = q[off] as number) {
    labels.push(q.subarray(off + 1, off + 1 + len).toString('ascii'));
    off += len + 1;
  }
  const question = q.subarray(12, off + 5);
  const qtype = q.readUInt16BE(off + 1);
  const name = labels.join('.').toLowerCase();
  const rec = find(name);
  const rrs: Buffer[] = [];
  if (qtype === TYPE.A) for (const ip of rec?.A ?? []) rrs.push(rr(TYPE.A, Buffer.from(ip.split('.').map(Number))));
  if (qtype === TYPE.TXT) {
    for (const t of rec?.TXT ?? []) {
      const s = Buffer.from(t);
      rrs.push(rr(TYPE.TXT, Buffer.concat([Buffer.from([s.length]), s])));
    }
  }
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  // QR, AA, RD copied; RCODE 3 (NXDOMAIN) for a name we do not have.
  header.writeUInt16BE(0x8400 | (q.readUInt16BE(2) & 0x0100) | (rec ? 0 : 3), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(rrs.length, 6);
  return Buffer.concat([header, question, ...rrs]);
}

function rr(type: number, data: Buffer): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(0xc00c, 0); // pointer to the question's name
  b.writeUInt16BE(type, 2);
  b.writeUInt16BE(1, 4); // IN
  b.writeUInt32BE(30, 6);
  b.writeUInt16BE(data.length, 10);
  return Buffer.concat([b, data]);
}
