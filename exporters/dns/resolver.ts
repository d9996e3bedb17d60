/**
 * DNS queries: one resolver (the system's, or `--dns.resolver=host:port` for every query), a timeout
 * per query, answers of `resolve()` in node:dns's shapes (so mailauth can use it), and every failure
 * classified to a bounded reason.
 */
import { promises as dns } from 'node:dns';
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
  /** Time of the last answer of any kind (NXDOMAIN and REFUSED are answers; silence is not): dns_up. */
  lastAnswerAt = 0;

  constructor(opts: DnsClientOptions) {
    // tries: 1 so a timeout costs timeoutMs, not a multiple of it; the next round asks again.
    this.resolver = new dns.Resolver({ timeout: opts.timeoutMs, tries: 1 });
    if (opts.resolver) {
      const { host, port } = parseAddress(opts.resolver);
      this.resolver.setServers([host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`]);
    }
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
