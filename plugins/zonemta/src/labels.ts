/**
 * Turning log entry fields into bounded label values without personal data.
 * (The plugin ships on its own, so it carries its own small bounded-label helper instead of importing the exporters' kit.)
 */
import { isIP } from 'node:net';

export const OTHER = 'other';
export const NONE = 'none';

/** First `max` distinct values seen keep their name; later ones, and anything that looks like free text, are `other`. */
export class BoundedLabel {
  private readonly seen = new Set<string>();

  constructor(
    readonly max: number,
    private readonly accept: (value: string) => boolean = looksLikeName,
  ) {}

  value(raw: unknown): string {
    if (raw === undefined || raw === null || raw === '' || raw === false) return NONE;
    const s = String(raw);
    if (this.seen.has(s)) return s;
    if (!this.accept(s) || this.seen.size >= this.max) return OTHER;
    this.seen.add(s);
    return s;
  }
}

function looksLikeName(s: string): boolean {
  return /^[A-Za-z0-9_.:-]{1,64}$/.test(s);
}

/** Sending IPs are the server's own addresses (never a client's): accept only real IP literals. */
export function isIpAddress(s: string): boolean {
  return isIP(s) !== 0;
}

/** Groups recipient domains and MX hosts into a fixed set of provider names, else `other`. */
export class DestinationGroups {
  private readonly bySuffix = new Map<string, string>();
  readonly names: string[];

  constructor(groups: Record<string, string[]>) {
    this.names = Object.keys(groups);
    for (const [group, suffixes] of Object.entries(groups)) {
      for (const suffix of suffixes) if (!this.bySuffix.has(suffix)) this.bySuffix.set(suffix, group);
    }
  }

  /** `to` is the recipient address (only its domain is read), `mx` the MX host name or the domain. */
  group(to: unknown, mx: unknown): string {
    return this.match(domainOf(to)) ?? this.match(typeof mx === 'string' ? mx.toLowerCase() : '') ?? OTHER;
  }

  /** Tries "a.b.c", then "b.c", then "c". */
  private match(host: string): string | undefined {
    for (let h = host.replace(/\.$/, ''); h; ) {
      const group = this.bySuffix.get(h);
      if (group) return group;
      const dot = h.indexOf('.');
      h = dot < 0 ? '' : h.slice(dot + 1);
    }
    return undefined;
  }
}

function domainOf(address: unknown): string {
  if (typeof address !== 'string') return '';
  const at = address.lastIndexOf('@');
  return at < 0 ? '' : address.slice(at + 1).trim().toLowerCase();
}

/** "550 5.7.1 blocked" -> { code: '5xx', enhanced: '5.7' }; anything unparseable is `none`. */
export function responseClasses(response: unknown): { code: string; enhanced: string } {
  if (typeof response !== 'string') return { code: NONE, enhanced: NONE };
  const m = /^\s*([245])\d\d(?:[ -]+([245])\.(\d{1,3})\.\d{1,3}\b)?/.exec(response);
  if (!m) return { code: NONE, enhanced: NONE };
  const subject = m[3] !== undefined && Number(m[3]) <= 7 ? `${m[2]}.${m[3]}` : m[2] ? OTHER : NONE;
  return { code: `${m[1]}xx`, enhanced: subject };
}

/** Categories of ZoneMTA's config/bounces.txt plus those set in code (dns, network, policy, http, plugin). */
export const BOUNCE_CATEGORIES: ReadonlySet<string> = new Set([
  'auth', 'blacklist', 'block', 'capacity', 'config', 'dmarc', 'dns', 'envelope', 'greylist', 'http', 'message',
  'network', 'other', 'plugin', 'policy', 'protocol', 'rate', 'recipient', 'sender', 'spam', 'virus',
]);

export const TLS_VERSIONS: ReadonlySet<string> = new Set(['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']);

export function allowlisted(value: unknown, allowed: ReadonlySet<string>): string {
  if (value === undefined || value === null || value === '' || value === false) return NONE;
  const s = String(value);
  return allowed.has(s) ? s : OTHER;
}

/** Deferral attempt numbers 1..max keep their number, later ones share `<max+1>+`. */
export function attemptLabel(defcount: unknown, max = 20): string {
  const n = Number(defcount);
  if (!Number.isInteger(n) || n < 1) return NONE;
  return n <= max ? String(n) : `${max + 1}+`;
}

/**
 * NOQUEUE and DROP reasons are short descriptions chosen by ZoneMTA or a plugin ("spam", "virus",
 * "Recipient was found from suppression list"). Folded into a slug so the same reason is one label value.
 */
export function reasonSlug(entry: { description?: unknown; reason?: unknown; error?: unknown }): string {
  const text = [entry.description, entry.reason].find(v => typeof v === 'string' && v.trim() !== '') as string | undefined;
  if (text === undefined) return entry.error ? 'error' : NONE;
  if (/suppression list/i.test(text)) return 'suppressed';
  if (text.includes('@')) return OTHER;
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 40) || NONE;
}
