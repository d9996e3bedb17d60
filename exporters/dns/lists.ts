/**
 * Blocklists (DNSBL for IPs, RHSBL/URIBL for domains): the built-in set, the query name of a target, and
 * what an answer means. A listing is only ever one of the list's documented return codes; the codes lists
 * use to say "your query was refused" (Spamhaus 127.255.255.252/254/255, SURBL and URIBL 127.0.0.1, DBL
 * 127.0.1.255) and anything undocumented are query errors, never listings.
 */
import { isIPv4, isIPv6 } from 'node:net';

export type ListKind = 'ip' | 'domain';
/** major: many receivers reject on it (a page); minor: some do (a ticket). */
export type ListTier = 'major' | 'minor';

export interface ListDefinition {
  name: string;
  zone: string;
  kind: ListKind;
  tier: ListTier;
  /** Exact return codes that are listings: address -> bounded reason. */
  codes: Record<string, string>;
  /** Bitmask lists (SURBL, URIBL): 127.0.0.<bits>, each bit -> reason. */
  bits?: Record<number, string>;
  /** Return codes the list documents as a refused or malformed query: address -> error reason. */
  errors?: Record<string, string>;
  /** Queries per second at most, for this list. */
  rate?: number;
}

const SPAMHAUS_ERRORS = {
  '127.255.255.252': 'typing_error',
  '127.255.255.254': 'public_resolver',
  '127.255.255.255': 'rate_limited',
};

/** The defaults, from each list's own documentation of its return codes. */
export const BUILTIN_LISTS: Record<string, ListDefinition> = {
  'spamhaus-zen': {
    name: 'spamhaus-zen',
    zone: 'zen.spamhaus.org',
    kind: 'ip',
    tier: 'major',
    codes: {
      '127.0.0.2': 'sbl',
      '127.0.0.3': 'css',
      '127.0.0.4': 'xbl',
      '127.0.0.5': 'xbl',
      '127.0.0.6': 'xbl',
      '127.0.0.7': 'xbl',
      '127.0.0.9': 'drop',
      '127.0.0.10': 'pbl_isp',
      '127.0.0.11': 'pbl',
    },
    errors: SPAMHAUS_ERRORS,
  },
  barracuda: { name: 'barracuda', zone: 'b.barracudacentral.org', kind: 'ip', tier: 'major', codes: { '127.0.0.2': 'listed' } },
  spamcop: { name: 'spamcop', zone: 'bl.spamcop.net', kind: 'ip', tier: 'minor', codes: { '127.0.0.2': 'listed' } },
  psbl: { name: 'psbl', zone: 'psbl.surriel.com', kind: 'ip', tier: 'minor', codes: { '127.0.0.2': 'listed' } },
  mailspike: {
    name: 'mailspike',
    zone: 'bl.mailspike.net',
    kind: 'ip',
    tier: 'minor',
    codes: {
      '127.0.0.2': 'listed',
      '127.0.0.10': 'poor_reputation',
      '127.0.0.11': 'poor_reputation',
      '127.0.0.12': 'poor_reputation',
      '127.0.0.13': 'poor_reputation',
      '127.0.0.14': 'poor_reputation',
    },
  },
  'spamhaus-dbl': {
    name: 'spamhaus-dbl',
    zone: 'dbl.spamhaus.org',
    kind: 'domain',
    tier: 'major',
    codes: {
      '127.0.1.2': 'spam',
      '127.0.1.4': 'phish',
      '127.0.1.5': 'malware',
      '127.0.1.6': 'botnet_cc',
      '127.0.1.102': 'abused_spam',
      '127.0.1.103': 'abused_redirector',
      '127.0.1.104': 'abused_phish',
      '127.0.1.105': 'abused_malware',
      '127.0.1.106': 'abused_botnet_cc',
    },
    errors: { ...SPAMHAUS_ERRORS, '127.0.1.255': 'ip_query' },
  },
  surbl: {
    name: 'surbl',
    zone: 'multi.surbl.org',
    kind: 'domain',
    tier: 'minor',
    codes: {},
    bits: { 8: 'phish', 16: 'malware', 64: 'abuse', 128: 'cracked' },
    errors: { '127.0.0.1': 'refused_by_list' },
  },
  uribl: {
    name: 'uribl',
    zone: 'multi.uribl.com',
    kind: 'domain',
    tier: 'minor',
    codes: {},
    bits: { 2: 'black', 4: 'grey', 8: 'red' },
    errors: { '127.0.0.1': 'refused_by_list' },
  },
};

export const DEFAULT_IP_LISTS = ['spamhaus-zen', 'barracuda', 'spamcop', 'psbl', 'mailspike'];
export const DEFAULT_DOMAIN_LISTS = ['spamhaus-dbl', 'surbl', 'uribl'];

/** Spamhaus Data Query Service: the same data, queried as `<key>.<list>.dq.spamhaus.net`, also from public resolvers. */
export function withDqsKey(list: ListDefinition, key: string): ListDefinition {
  const m = /^(zen|dbl|sbl|xbl|pbl|sbl-xbl|zrd)\.spamhaus\.org$/.exec(list.zone);
  if (!key || !m) return list;
  return { ...list, zone: `${key}.${m[1]}.dq.spamhaus.net` };
}

/** `192.0.2.1` -> `1.2.0.192`; `2001:db8::1` -> 32 reversed nibbles (RFC 5782). */
export function reverseIp(ip: string): string {
  if (isIPv4(ip)) return ip.split('.').reverse().join('.');
  if (!isIPv6(ip)) throw new Error(`not an IP address: ${ip}`);
  return expandIpv6(ip).replace(/:/g, '').split('').reverse().join('.');
}

/** `2001:db8::1` -> `2001:0db8:0000:0000:0000:0000:0000:0001` (an embedded IPv4 tail is converted). */
export function expandIpv6(ip: string): string {
  let text = ip.toLowerCase();
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1].split('.').map(Number);
    text = text.slice(0, -v4[1].length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((g) => g.padStart(4, '0')).join(':');
}

/** The name to look up: `<reversed ip>.<zone>` or `<domain>.<zone>`. */
export function queryName(list: ListDefinition, target: string): string {
  return `${list.kind === 'ip' ? reverseIp(target) : target.toLowerCase().replace(/\.$/, '')}.${list.zone}`;
}

export type Verdict = { listed: true; reasons: string[] } | { listed: false } | { error: string };

/**
 * What the A records of a lookup mean. Every address must be documented: one undocumented or error
 * code makes the whole answer a query error (a resolver that rewrites NXDOMAIN to its own page, a
 * list that is refusing us), so nothing but a documented code is ever a listing.
 */
export function interpretAnswer(list: ListDefinition, addresses: string[]): Verdict {
  if (addresses.length === 0) return { listed: false };
  const reasons = new Set<string>();
  for (const address of addresses) {
    const error = list.errors?.[address];
    if (error) return { error };
    const code = list.codes[address];
    if (code) {
      reasons.add(code);
      continue;
    }
    const bits = list.bits && bitReasons(list.bits, address);
    if (bits && bits.length) {
      for (const r of bits) reasons.add(r);
      continue;
    }
    return { error: 'unexpected_answer' };
  }
  return { listed: true, reasons: [...reasons].sort() };
}

/** 127.0.0.<b>: the documented bits set in b, or undefined when b has any undocumented bit. */
function bitReasons(bits: Record<number, string>, address: string): string[] | undefined {
  const m = /^127\.0\.0\.(\d{1,3})$/.exec(address);
  if (!m) return undefined;
  const value = Number(m[1]);
  let known = 0;
  const reasons: string[] = [];
  for (const [bit, reason] of Object.entries(bits)) {
    if (value & Number(bit)) {
      known |= Number(bit);
      reasons.push(reason);
    }
  }
  return known === value ? reasons : undefined;
}

/** Every reason a list can give (bounded: the label values of dns_blocklist_listing_reason). */
export function listReasons(list: ListDefinition): string[] {
  return [...new Set([...Object.values(list.codes), ...Object.values(list.bits ?? {})])];
}

/**
 * Lists from a file (YAML or JSON): `{ <name>: { zone, kind, tier, codes, bits, errors, rate } }`.
 * A name that is built in is replaced by the file's definition. Throws with the list's name on bad input.
 */
export function parseListsFile(data: unknown): ListDefinition[] {
  if (!data || typeof data !== 'object' || Array.isArray(data)) throw new Error('must be a map of list name to definition');
  const out: ListDefinition[] = [];
  for (const [name, raw] of Object.entries(data as Record<string, unknown>)) {
    const d = raw as Partial<ListDefinition> | null;
    const fail = (why: string) => new Error(`list ${JSON.stringify(name)}: ${why}`);
    if (!/^[a-z0-9][a-z0-9_.-]{0,39}$/.test(name)) throw fail('name must be lower-case letters, digits, - _ . (at most 40)');
    if (!d || typeof d !== 'object') throw fail('must be a map');
    if (typeof d.zone !== 'string' || !/^[a-z0-9.-]+$/i.test(d.zone)) throw fail('zone must be a DNS name');
    if (d.kind !== 'ip' && d.kind !== 'domain') throw fail('kind must be ip or domain');
    if (d.tier !== 'major' && d.tier !== 'minor') throw fail('tier must be major or minor');
    const codes = d.codes ?? {};
    const bits = d.bits;
    if (Object.keys(codes).length === 0 && !bits) throw fail('needs codes (or bits): the return codes that are listings');
    for (const table of [codes, d.errors ?? {}, bits ?? {}]) {
      for (const reason of Object.values(table)) if (!/^[a-z0-9_]{1,32}$/.test(String(reason))) throw fail(`reason ${JSON.stringify(reason)} must be [a-z0-9_]`);
    }
    if (d.rate !== undefined && !(Number(d.rate) > 0)) throw fail('rate must be above 0');
    out.push({ name, zone: d.zone.toLowerCase(), kind: d.kind, tier: d.tier, codes, bits, errors: d.errors, rate: d.rate });
  }
  return out;
}
