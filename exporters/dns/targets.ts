/**
 * What the dns exporter watches: own sending IPs (with their HELO names), own domains (with their DKIM
 * selectors), from flags and an optional targets file. Everything here is the operator's own
 * configuration, so it is bounded and may be a label.
 */
import { isIP } from 'node:net';

export interface Targets {
  ips: string[];
  domains: string[];
  /** IP -> HELO name it greets with (FCrDNS must lead to it). */
  helo: Map<string, string>;
  /** domain -> DKIM selectors to check. */
  selectors: Map<string, string[]>;
}

const DOMAIN = /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$/;
const SELECTOR = /^[a-z0-9_]([a-z0-9_.-]{0,62})$/;

export function normaliseDomain(text: string): string {
  const d = text.trim().toLowerCase().replace(/\.$/, '');
  if (!DOMAIN.test(d)) throw new Error(`not a domain name: ${JSON.stringify(text)}`);
  return d;
}

export function normaliseIp(text: string): string {
  const ip = text.trim().toLowerCase();
  if (!isIP(ip)) throw new Error(`not an IP address: ${JSON.stringify(text)}`);
  return ip;
}

/**
 * A targets file: one entry per line, `#` starts a comment.
 *   192.0.2.10 mail.example.com        a sending IP and its HELO name (the name is optional)
 *   example.com default s2024          an own domain and its DKIM selectors (optional)
 */
export function parseTargetsFile(text: string): { ips: Array<[string, string | undefined]>; domains: Array<[string, string[]]> } {
  const ips: Array<[string, string | undefined]> = [];
  const domains: Array<[string, string[]]> = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) return;
    const [first, ...rest] = line.split(/\s+/);
    try {
      if (isIP(first)) {
        if (rest.length > 1) throw new Error('an IP line has at most a HELO name after the address');
        ips.push([normaliseIp(first), rest[0] ? normaliseDomain(rest[0]) : undefined]);
      } else {
        domains.push([normaliseDomain(first), rest.map(selector)]);
      }
    } catch (err) {
      throw new Error(`line ${i + 1}: ${(err as Error).message}`);
    }
  });
  return { ips, domains };
}

function selector(text: string): string {
  const s = text.toLowerCase();
  if (!SELECTOR.test(s)) throw new Error(`not a DKIM selector: ${JSON.stringify(text)}`);
  return s;
}

export interface TargetFlags {
  ips: string[];
  domains: string[];
  /** `ip=name` entries, or one bare `name` for every IP. */
  heloNames: string[];
  /** `selector` for every domain, or `domain:selector`. */
  selectors: string[];
  file?: string;
}

/** Flags and file merged; throws with the offending value (the caller names the flag). */
export function buildTargets(flags: TargetFlags): Targets {
  const fromFile = flags.file ? parseTargetsFile(flags.file) : { ips: [], domains: [] };
  const ips = new Set<string>(flags.ips.map(normaliseIp));
  const helo = new Map<string, string>();
  const domains = new Set<string>(flags.domains.map(normaliseDomain));
  const selectors = new Map<string, string[]>();
  for (const [ip, name] of fromFile.ips) {
    ips.add(ip);
    if (name) helo.set(ip, name);
  }
  for (const [domain, sels] of fromFile.domains) {
    domains.add(domain);
    if (sels.length) selectors.set(domain, [...new Set([...(selectors.get(domain) ?? []), ...sels])]);
  }
  let defaultHelo: string | undefined;
  for (const entry of flags.heloNames) {
    const eq = entry.indexOf('=');
    if (eq < 0) defaultHelo = normaliseDomain(entry);
    else helo.set(normaliseIp(entry.slice(0, eq)), normaliseDomain(entry.slice(eq + 1)));
  }
  if (defaultHelo) for (const ip of ips) if (!helo.has(ip)) helo.set(ip, defaultHelo);
  const everywhere: string[] = [];
  for (const entry of flags.selectors) {
    const colon = entry.indexOf(':');
    if (colon < 0) everywhere.push(selector(entry));
    else {
      const domain = normaliseDomain(entry.slice(0, colon));
      domains.add(domain);
      selectors.set(domain, [...new Set([...(selectors.get(domain) ?? []), selector(entry.slice(colon + 1))])]);
    }
  }
  for (const domain of domains) {
    if (everywhere.length) selectors.set(domain, [...new Set([...(selectors.get(domain) ?? []), ...everywhere])]);
  }
  return { ips: [...ips], domains: [...domains], helo, selectors };
}
