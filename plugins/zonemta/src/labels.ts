/**
 * Turning log entry fields into bounded label values without personal data. The bounded-label helpers are
 * the kit's own (exporters/kit/labels.ts), bundled into the plugin package at build time.
 */
import { isIP } from 'node:net';
import { OTHER } from '../../../exporters/kit/labels';

export { allowlisted, BoundedLabel, OTHER } from '../../../exporters/kit/labels';
export const NONE = 'none';

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

/**
 * Rspamd actions as ZoneMTA's core/rspamd plugin logs them in SPAMCHECK `result` (rspamd's `default.action`,
 * `unknown` when rspamd's answer had none).
 */
export const RSPAMD_ACTIONS: ReadonlySet<string> = new Set(['no action', 'greylist', 'add header', 'rewrite subject', 'soft reject', 'reject', 'unknown']);

export const TLS_VERSIONS: ReadonlySet<string> = new Set(['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3']);

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
