/**
 * DNS queries: one resolver (the system's, or `--dns.resolver=host:port` for every query), a timeout
 * per query, answers of `resolve()` in node:dns's shapes (so mailauth can use it), and every failure
 * classified to a bounded reason.
 */
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { promises as dns } from 'node:dns';
import { isIPv6 } from 'node:net';
import { parseAddress } from '../kit/flags';

export type QueryErrorReason = 'timeout' | 'servfail' | 'refused' | 'unreachable' | 'bad_answer' | 'other';
export const QUERY_ERROR_REASONS: readonly QueryErrorReason[] = ['timeout', 'servfail', 'refused', 'unreachable', 'bad_answer', 'other'];

/** NXDOMAIN and NODATA: a definite "no such record", not a failure. */
export function isNoRecord(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === 'ENOTFOUND' || code === 'ENODATA';
}

/** A failed query (not NXDOMAIN/NODATA) -> bounded reason. */
export function queryErrorReason(err: unknown): QueryErrorReason {
  switch ((err as NodeJS.ErrnoException)?.code) {
    case 'ETIMEOUT':
      return 'timeout';
    case 'ESERVFAIL':
      return 'servfail';
    case 'EREFUSED':
      return 'refused';
    case 'ECONNREFUSED':
    case 'ECONNRESET':
      return 'unreachable';
    case 'EFORMERR':
    case 'EBADRESP':
    case 'EBADNAME':
    case 'EBADFAMILY':
      return 'bad_answer';
    default:
      return 'other';
  }
}

/** Failures that say the resolver itself did not answer (dns_up 0), as opposed to an answer saying no. */
export function resolverDidNotAnswer(err: unknown): boolean {
  const reason = queryErrorReason(err);
  return reason === 'timeout' || reason === 'unreachable';
}

export interface DnsClientOptions {
  /** host:port of the one resolver to ask; '' for the system's. */
  resolver: string;
  timeoutMs: number;
}

type RecordType = 'A' | 'AAAA' | 'MX' | 'TXT' | 'PTR' | 'CNAME' | 'NS' | 'SOA';

export class DnsClient {
  private readonly resolver: dns.Resolver;
  private readonly server: string;
  private readonly timeoutMs: number;
  /** Time of the last answer of any kind (NXDOMAIN and REFUSED are answers; silence is not): dns_up. */
  lastAnswerAt = 0;

  constructor(opts: DnsClientOptions) {
    // tries: 1 so a timeout costs timeoutMs, not a multiple of it; the next round asks again.
    this.resolver = new dns.Resolver({ timeout: opts.timeoutMs, tries: 1 });
    this.timeoutMs = opts.timeoutMs;
    if (opts.resolver) {
      const { host, port } = parseAddress(opts.resolver);
      this.resolver.setServers([host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`]);
    }
    this.server = this.resolver.getServers()[0] ?? '127.0.0.1';
  }

  /** TLSA records (node:dns of Node 20 has no TLSA): one UDP query to the same resolver. */
  resolveTlsa(name: string): Promise<{ records: Tlsa[]; authenticated: boolean }> {
    const m = /^\[(.+)\]:(\d+)$|^([^:]+):(\d+)$/.exec(this.server);
    const host = m ? (m[1] ?? m[3]) : this.server;
    const port = m ? Number(m[2] ?? m[4]) : 53;
    return this.track(
      new Promise((resolve, reject) => {
        const socket = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
        const id = randomInt(0, 0x10000);
        const done = (err: Error | undefined, value?: { records: Tlsa[]; authenticated: boolean }) => {
          clearTimeout(timer);
          socket.close();
          if (err) reject(err);
          else resolve(value!);
        };
        const timer = setTimeout(() => done(dnsError('ETIMEOUT', `no answer from ${this.server}`)), this.timeoutMs);
        socket.on('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' ? err : dnsError('ECONNREFUSED', err.message)));
        socket.on('message', (reply, from) => {
          if (from.port !== port || reply.length < 2 || reply.readUInt16BE(0) !== id) return; // not our answer
          try {
            done(undefined, decodeTlsaReply(reply, id));
          } catch (err) {
            done(err as Error);
          }
        });
        // connect() so an unreachable port comes back as ECONNREFUSED rather than a timeout.
        socket.connect(port, host, () => socket.send(encodeTlsaQuery(id, name)));
      }),
    );
  }

  private async track<T>(query: Promise<T>): Promise<T> {
    try {
      const answer = await query;
      this.lastAnswerAt = Date.now();
      return answer;
    } catch (err) {
      if (!resolverDidNotAnswer(err)) this.lastAnswerAt = Date.now();
      throw err;
    }
  }

  /** node:dns `resolve(name, type)` answers (the resolver mailauth is given). */
  resolve = (name: string, type: string): Promise<any> => this.track(this.resolver.resolve(name, type as RecordType));

  /** A records with their TTLs (for the blocklist cache). */
  resolve4Ttl(name: string): Promise<{ address: string; ttl: number }[]> {
    return this.track(this.resolver.resolve4(name, { ttl: true }));
  }

  /** Whether the resolver answered any query in the last `windowMs` (one silent list must not make it look down). */
  answeredWithin(windowMs: number): boolean {
    return this.lastAnswerAt > 0 && Date.now() - this.lastAnswerAt <= windowMs;
  }

  cancel(): void {
    this.resolver.cancel();
  }
}

/** At most `rate` calls per second to `take()`, in order: a list is never asked faster than that. */
export class RateLimiter {
  private next = 0;

  constructor(private readonly rate: number) {}

  /** Resolves when the caller may send its query (or at once when `signal` aborts). */
  async take(signal?: AbortSignal): Promise<void> {
    const now = Date.now();
    const at = Math.max(now, this.next);
    this.next = at + 1000 / this.rate;
    if (at > now) await sleep(at - now, signal);
  }
}

/** setTimeout as a promise that ends early (resolves) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** A TLSA record (RFC 6698): certificate usage, selector, matching type, association data. */
export interface Tlsa {
  usage: number;
  selector: number;
  mtype: number;
  data: Buffer;
}

const TYPE_TLSA = 52;
const RCODE_ERRORS: Record<number, string> = { 1: 'EFORMERR', 2: 'ESERVFAIL', 4: 'ENOTIMP', 5: 'EREFUSED' };

function dnsError(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${message} (${code})`), { code });
}

/** A query for `name` TLSA with the AD bit (RFC 6840 5.7: ask for the validation result) and EDNS0 (1232 bytes). */
export function encodeTlsaQuery(id: number, name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.');
  const qname = Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([Buffer.byteLength(l)]), Buffer.from(l)])), Buffer.from([0])]);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0120, 2); // RD + AD
  header.writeUInt16BE(1, 4); // one question
  header.writeUInt16BE(1, 10); // one additional: OPT
  const question = Buffer.alloc(4);
  question.writeUInt16BE(TYPE_TLSA, 0);
  question.writeUInt16BE(1, 2);
  const opt = Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]); // root, OPT, 1232 bytes, no flags, no data
  return Buffer.concat([header, qname, question, opt]);
}

/**
 * The TLSA answers of a reply, and whether the resolver validated them (AD). Every length is checked
 * against the packet: a malformed reply is EBADRESP, never a crash or an endless loop.
 */
export function decodeTlsaReply(reply: Buffer, id: number): { records: Tlsa[]; authenticated: boolean } {
  const bad = (why: string) => dnsError('EBADRESP', `bad DNS reply: ${why}`);
  if (reply.length < 12) throw bad('short header');
  if (reply.readUInt16BE(0) !== id) throw bad('wrong id');
  const flags = reply.readUInt16BE(2);
  if (!(flags & 0x8000)) throw bad('not a response');
  if (flags & 0x0200) throw bad('truncated');
  const rcode = flags & 0x000f;
  if (rcode === 3) throw dnsError('ENOTFOUND', 'no such name');
  if (rcode !== 0) throw dnsError(RCODE_ERRORS[rcode] ?? 'EBADRESP', `rcode ${rcode}`);
  const qdcount = reply.readUInt16BE(4);
  const ancount = reply.readUInt16BE(6);
  let pos = 12;
  const skipName = () => {
    for (let labels = 0; ; labels++) {
      if (pos >= reply.length || labels > 128) throw bad('name runs past the end');
      const len = reply[pos];
      if (len === 0) return void (pos += 1);
      if ((len & 0xc0) === 0xc0) return void (pos += 2); // compression pointer ends the name
      if (len & 0xc0) throw bad('label type');
      pos += 1 + len;
    }
  };
  for (let i = 0; i < qdcount; i++) {
    skipName();
    pos += 4;
  }
  const records: Tlsa[] = [];
  for (let i = 0; i < ancount; i++) {
    skipName();
    if (pos + 10 > reply.length) throw bad('answer header');
    const type = reply.readUInt16BE(pos);
    const rdlength = reply.readUInt16BE(pos + 8);
    pos += 10;
    if (pos + rdlength > reply.length) throw bad('answer data');
    // Other types (a CNAME on the way) are skipped.
    if (type === TYPE_TLSA && rdlength >= 3) {
      records.push({ usage: reply[pos], selector: reply[pos + 1], mtype: reply[pos + 2], data: Buffer.from(reply.subarray(pos + 3, pos + rdlength)) });
    }
    pos += rdlength;
  }
  if (records.length === 0) throw dnsError('ENODATA', 'no TLSA record');
  return { records, authenticated: Boolean(flags & 0x0020) };
}
