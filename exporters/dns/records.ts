/**
 * The mail DNS records of one own domain, and each sending IP's reverse DNS. Pure parsers (tested on
 * literal record texts) and the checks that fetch with them. A check ends in `ok`, a list of problems
 * (bounded names, see PROBLEMS), or a lookup error (the answer is unknown: counted, never "broken").
 */
import { createPublicKey } from 'node:crypto';
import https from 'node:https';
import { isIPv4, isIPv6 } from 'node:net';
import { spf } from 'mailauth/lib/spf';
import { parsePolicy, resolvePolicy, validateMx } from 'mailauth/lib/mta-sts';
import { isNoRecord, type Tlsa } from './resolver';
import { expandIpv6, reverseIp } from './lists';


/** Every problem a check can report (the bounded values of the `problem` label). */
export const PROBLEMS = {
  mx: ['missing', 'null_mx', 'host_unresolvable'],
  spf: ['missing', 'multiple', 'invalid', 'too_many_lookups', 'ip_not_authorised'],
  dkim: ['missing', 'revoked', 'unparsable', 'too_short'],
  dmarc: ['missing', 'multiple', 'invalid', 'no_rua'],
  mta_sts: ['missing', 'policy_unreachable', 'policy_invalid', 'mx_mismatch'],
  tls_rpt: ['missing', 'multiple', 'invalid'],
  dane: ['missing', 'invalid'],
  fcrdns: ['missing', 'forward_mismatch', 'helo_mismatch'],
} as const;

export type Resolve = (name: string, type: string) => Promise<any>;

export interface CheckResult {
  problems: string[];
  /** Set when a lookup failed: the check's outcome is unknown. */
  lookupError?: unknown;
}

/** Thrown inside a check when a lookup fails other than NXDOMAIN/NODATA. */
class LookupFailed extends Error {
  constructor(readonly failure: unknown) {
    super((failure as Error)?.message ?? String(failure));
  }
}

/** A lookup that turns NXDOMAIN/NODATA into [] and every other failure into LookupFailed. */
async function lookup(resolve: Resolve, name: string, type: string): Promise<any[]> {
  try {
    return await resolve(name, type);
  } catch (err) {
    if (isNoRecord(err)) return [];
    throw new LookupFailed(err);
  }
}

async function txt(resolve: Resolve, name: string): Promise<string[]> {
  return ((await lookup(resolve, name, 'TXT')) as string[][]).map((chunks) => chunks.join(''));
}

/** `v=DMARC1; p=reject; rua=mailto:x` -> { v: 'DMARC1', p: 'reject', rua: 'mailto:x' } (tag names lower-cased). */
export function parseTags(record: string): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const part of record.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    tags[part.slice(0, eq).trim().toLowerCase()] = part.slice(eq + 1).trim();
  }
  return tags;
}

/** The TXT records that start with `v=<version>` (case-insensitive, as receivers match them). */
export function versioned(records: string[], version: string): string[] {
  const re = new RegExp(`^v=${version}(;|\\s|$)`, 'i');
  return records.filter((r) => re.test(r.trim()));
}

export interface DkimKey {
  problem?: 'missing' | 'revoked' | 'unparsable' | 'too_short';
  /** RSA modulus length; 256 for ed25519. */
  bits?: number;
  keyType?: string;
}

/** One DKIM key record (RFC 6376 3.6.1): present, not revoked (empty p=), parsable, at least 1024 bits. */
export function parseDkimKey(records: string[]): DkimKey {
  const keys = records.filter((r) => /(^|;)\s*p=/i.test(r));
  if (keys.length === 0) return { problem: 'missing' };
  const tags = parseTags(keys[0]);
  if (tags.v !== undefined && tags.v !== 'DKIM1') return { problem: 'unparsable' };
  const keyType = (tags.k ?? 'rsa').toLowerCase();
  const p = (tags.p ?? '').replace(/\s+/g, '');
  if (p === '') return { problem: 'revoked', keyType };
  if (keyType === 'ed25519') {
    return Buffer.from(p, 'base64').length === 32 ? { bits: 256, keyType } : { problem: 'unparsable', keyType };
  }
  if (keyType !== 'rsa') return { problem: 'unparsable', keyType };
  try {
    const key = createPublicKey({ key: Buffer.from(p, 'base64'), format: 'der', type: 'spki' });
    const bits = key.asymmetricKeyDetails?.modulusLength;
    if (key.asymmetricKeyType !== 'rsa' || !bits) return { problem: 'unparsable', keyType };
    return bits < 1024 ? { problem: 'too_short', bits, keyType } : { bits, keyType };
  } catch {
    return { problem: 'unparsable', keyType };
  }
}

export interface Dmarc {
  problem?: 'missing' | 'multiple' | 'invalid';
  policy?: 'none' | 'quarantine' | 'reject';
  rua: boolean;
}

/** The `_dmarc` TXT records (RFC 7489 6.6.3: more than one DMARC record is as good as none). */
export function parseDmarc(records: string[]): Dmarc {
  const dmarc = versioned(records, 'DMARC1');
  if (dmarc.length === 0) return { problem: 'missing', rua: false };
  if (dmarc.length > 1) return { problem: 'multiple', rua: false };
  const tags = parseTags(dmarc[0]);
  const rua = /mailto:/i.test(tags.rua ?? '');
  const p = (tags.p ?? '').toLowerCase();
  if (p !== 'none' && p !== 'quarantine' && p !== 'reject') return { problem: 'invalid', rua };
  return { policy: p, rua };
}

/** `_smtp._tls` (RFC 8460): exactly one `v=TLSRPTv1` with a mailto: or https: rua. */
export function parseTlsRpt(records: string[]): { problem?: 'missing' | 'multiple' | 'invalid' } {
  const rpt = versioned(records, 'TLSRPTv1');
  if (rpt.length === 0) return { problem: 'missing' };
  if (rpt.length > 1) return { problem: 'multiple' };
  return /^(mailto:|https:)/i.test(parseTags(rpt[0]).rua ?? '') ? {} : { problem: 'invalid' };
}

/** The SPF records among a domain's TXT records: missing, multiple (a permerror, RFC 7208 4.5), or the one. */
export function pickSpf(records: string[]): { record?: string; problem?: 'missing' | 'multiple' } {
  const found = versioned(records, 'spf1');
  if (found.length === 0) return { problem: 'missing' };
  if (found.length > 1) return { problem: 'multiple' };
  return { record: found[0] };
}

export interface SpfOutcome {
  problems: string[];
  /** Sending IP -> whether the domain's SPF passes it. */
  authorised: Map<string, boolean>;
  /** DNS lookups the evaluation needed (limit 10). */
  lookups?: number;
}

/** Evaluates the domain's SPF for each sending IP with mailauth, as a receiver would. */
export async function checkSpf(resolve: Resolve, domain: string, ips: string[]): Promise<SpfOutcome> {
  const picked = pickSpf(await txt(resolve, domain));
  if (picked.problem) return { problems: [picked.problem], authorised: new Map() };
  const problems = new Set<string>();
  const authorised = new Map<string, boolean>();
  let lookups: number | undefined;
  for (const ip of ips) {
    const result = await spf({ ip, sender: `postmaster@${domain}`, helo: domain, mta: 'tinomail-monitor', resolver: resolve });
    const status = result.status.result as string;
    lookups = Math.max(lookups ?? 0, Number(result.lookups?.count) || 0);
    if (status === 'temperror') throw new LookupFailed(new Error(`SPF temperror: ${result.status.comment ?? ''}`));
    if (status === 'permerror') {
      problems.add(/too many dns requests/i.test(String(result.status.comment ?? result.info ?? '')) || (result.lookups?.count ?? 0) > (result.lookups?.limit ?? 10) ? 'too_many_lookups' : 'invalid');
      continue;
    }
    if (status === 'none') {
      problems.add('missing');
      continue;
    }
    authorised.set(ip, status === 'pass');
    if (status !== 'pass') problems.add('ip_not_authorised');
  }
  return { problems: [...problems], authorised, lookups };
}

export async function checkMx(resolve: Resolve, domain: string): Promise<CheckResult & { hosts: string[] }> {
  const mx = (await lookup(resolve, domain, 'MX')) as { exchange: string; priority: number }[];
  if (mx.length === 0) return { problems: ['missing'], hosts: [] };
  // RFC 7505 null MX: the domain receives no mail.
  if (mx.length === 1 && (mx[0].exchange === '' || mx[0].exchange === '.')) return { problems: ['null_mx'], hosts: [] };
  const hosts = mx.map((m) => m.exchange.toLowerCase().replace(/\.$/, ''));
  for (const host of hosts) {
    const [a, aaaa] = await Promise.all([lookup(resolve, host, 'A'), lookup(resolve, host, 'AAAA')]);
    if (a.length + aaaa.length === 0) return { problems: ['host_unresolvable'], hosts };
  }
  return { problems: [], hosts };
}

export async function checkDkim(resolve: Resolve, domain: string, selector: string): Promise<DkimKey> {
  return parseDkimKey(await txt(resolve, `${selector}._domainkey.${domain}`));
}

export async function checkDmarc(resolve: Resolve, domain: string): Promise<CheckResult & { policy?: string }> {
  const d = parseDmarc(await txt(resolve, `_dmarc.${domain}`));
  const problems: string[] = d.problem ? [d.problem] : [];
  if (!d.problem && !d.rua) problems.push('no_rua');
  return { problems, policy: d.policy };
}

export async function checkTlsRpt(resolve: Resolve, domain: string): Promise<CheckResult> {
  const r = parseTlsRpt(await txt(resolve, `_smtp._tls.${domain}`));
  return { problems: r.problem ? [r.problem] : [] };
}

export interface PolicyFetchOptions {
  /** Extra CA certificates (PEM) trusted for the policy host; undefined: the system's. */
  ca?: string;
  /** host:port to connect to instead of mta-sts.<domain>:443 (tests); the TLS name stays mta-sts.<domain>. */
  connectTo?: { host: string; port: number };
  timeoutMs: number;
}

/** At most this much of a policy is read: a hostile server cannot fill memory. */
const MAX_POLICY_BYTES = 64 * 1024;

/** GET https://mta-sts.<domain>/.well-known/mta-sts.txt (RFC 8461 3.3: no redirects, 2xx only). */
export function fetchPolicyText(domain: string, opts: PolicyFetchOptions): Promise<string> {
  const servername = `mta-sts.${domain}`;
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: opts.connectTo?.host ?? servername,
        port: opts.connectTo?.port ?? 443,
        servername,
        path: '/.well-known/mta-sts.txt',
        headers: { host: servername },
        ca: opts.ca,
        timeout: opts.timeoutMs,
        agent: false,
      },
      (res) => {
        if (!res.statusCode || res.statusCode < 200 || res.statusCode >= 300) {
          res.resume();
          return reject(new Error(`HTTP ${res.statusCode}`));
        }
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
          if (body.length > MAX_POLICY_BYTES) req.destroy(new Error('policy too large'));
        });
        res.on('end', () => resolve(body));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

export async function checkMtaSts(resolve: Resolve, domain: string, mxHosts: string[], opts: PolicyFetchOptions): Promise<CheckResult & { mode?: string }> {
  let id: string | false;
  try {
    id = await resolvePolicy(domain, { resolver: resolve });
  } catch (err) {
    if ((err as { code?: string }).code === 'multi_sts_records') return { problems: ['policy_invalid'] };
    throw new LookupFailed(err);
  }
  if (!id) return { problems: ['missing'] };
  let text: string;
  try {
    text = await fetchPolicyText(domain, opts);
  } catch {
    return { problems: ['policy_unreachable'] };
  }
  let policy: ReturnType<typeof parsePolicy>;
  try {
    policy = parsePolicy(text);
  } catch {
    return { problems: ['policy_invalid'] };
  }
  // Every MX must be allowed by the policy, or senders that enforce it cannot deliver to that MX.
  const mismatch = policy.mode !== 'none' && mxHosts.some((mx) => !validateMx(mx, policy).valid);
  return { problems: mismatch ? ['mx_mismatch'] : [], mode: policy.mode };
}

/** The PTR name of an IP: 4.3.2.1.in-addr.arpa or the ip6.arpa nibbles. */
export function ptrName(ip: string): string {
  return `${reverseIp(ip)}.${isIPv4(ip) ? 'in-addr.arpa' : 'ip6.arpa'}`;
}

function sameIp(a: string, b: string): boolean {
  return isIPv6(a) && isIPv6(b) ? expandIpv6(a) === expandIpv6(b) : a === b;
}

/**
 * Forward-confirmed reverse DNS: a PTR name whose A/AAAA leads back to the IP, and, when the HELO name
 * is known, the HELO name among those names (receivers compare the two).
 */
export async function checkFcrdns(resolve: Resolve, ip: string, helo: string | undefined): Promise<CheckResult & { names: string[] }> {
  const names = ((await lookup(resolve, ptrName(ip), 'PTR')) as string[]).map((n) => n.toLowerCase().replace(/\.$/, ''));
  if (names.length === 0) return { problems: ['missing'], names };
  const confirmed: string[] = [];
  for (const name of names) {
    const addresses = (await lookup(resolve, name, isIPv4(ip) ? 'A' : 'AAAA')) as string[];
    if (addresses.some((a) => sameIp(a, ip))) confirmed.push(name);
  }
  if (confirmed.length === 0) return { problems: ['forward_mismatch'], names };
  if (helo && !confirmed.includes(helo.toLowerCase().replace(/\.$/, ''))) return { problems: ['helo_mismatch'], names };
  return { problems: [], names };
}

/** A TLSA record a sending MTA can use (RFC 7672 3.1: DANE-TA(2) or DANE-EE(3); digests of the right length). */
export function usableTlsa(r: Tlsa): boolean {
  if (r.usage !== 2 && r.usage !== 3) return false;
  if (r.selector !== 0 && r.selector !== 1) return false;
  if (r.mtype === 1) return r.data.length === 32;
  if (r.mtype === 2) return r.data.length === 64;
  return r.mtype === 0 && r.data.length > 0;
}

/**
 * DANE for each MX host: a usable TLSA record at `_25._tcp.<mx>`. `validated`: the resolver said the
 * answers are DNSSEC-validated (AD); senders ignore TLSA records that are not.
 */
export async function checkDane(resolveTlsa: (name: string) => Promise<{ records: Tlsa[]; authenticated: boolean }>, mxHosts: string[]): Promise<CheckResult & { validated: boolean }> {
  const problems = new Set<string>();
  let validated = mxHosts.length > 0;
  for (const mx of mxHosts) {
    let answer: { records: Tlsa[]; authenticated: boolean };
    try {
      answer = await resolveTlsa(`_25._tcp.${mx}`);
    } catch (err) {
      if (!isNoRecord(err)) throw new LookupFailed(err);
      problems.add('missing');
      validated = false;
      continue;
    }
    if (!answer.records.some(usableTlsa)) problems.add('invalid');
    validated &&= answer.authenticated;
  }
  return { problems: [...problems], validated };
}

/** Runs a check, turning LookupFailed into a result with `lookupError` (the outcome is unknown). */
export async function guarded<T extends object>(fn: () => Promise<T>): Promise<(T & { lookupError?: undefined }) | { lookupError: unknown }> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof LookupFailed) return { lookupError: err.failure };
    return { lookupError: err };
  }
}
