/**
 * Plugin configuration: whatever ZoneMTA's `plugins` section holds under "modules/zonemta-tinomail"
 * arrives as `app.config`. Every key has a default here, in one place.
 */

import { parseAddress as parseKitAddress } from '../../../exporters/kit/flags';

export interface PluginSettings {
  /** HTTP(S) address of /metrics (master process only). */
  listen: Address;
  /** Web config file (exporter-toolkit format: TLS, client certificates, basic auth) for /metrics; '' for none. */
  webConfigFile: string;
  /** UDP address where the master receives ZoneMTA's `log.remote` datagrams and the plugin's own events. */
  logListen: Address;
  /** Destination groups: group name -> domain suffixes, matched against the recipient domain and the MX host. */
  destinations: Record<string, string[]>;
  /** How many distinct values a label may take before new ones become `other`. */
  maxZones: number;
  maxSendingIps: number;
  maxInterfaces: number;
  maxReasons: number;
  /** Kernel receive buffer asked for the UDP socket (bursts from many processes must not overflow it). */
  logReceiveBufferBytes: number;
}

export interface Address {
  host: string;
  port: number;
}

/** Large mailbox providers, by recipient domain and by MX host (a Google Workspace domain's MX is *.google.com). */
export const DEFAULT_DESTINATIONS: Record<string, string[]> = {
  google: ['gmail.com', 'googlemail.com', 'google.com'],
  microsoft: ['outlook.com', 'hotmail.com', 'live.com', 'msn.com'],
  yahoo: ['yahoo.com', 'ymail.com', 'rocketmail.com', 'aol.com', 'yahoodns.net'],
  apple: ['icloud.com', 'me.com', 'mac.com'],
  gmx: ['gmx.net', 'gmx.de', 'gmx.com', 'web.de', 'mail.com'],
  yandex: ['yandex.ru', 'yandex.com', 'ya.ru', 'yandex.net'],
  mailru: ['mail.ru', 'bk.ru', 'inbox.ru', 'list.ru'],
  proton: ['proton.me', 'protonmail.com', 'protonmail.ch'],
  zoho: ['zoho.com', 'zohomail.com'],
};

export const DEFAULTS: PluginSettings = {
  listen: { host: '127.0.0.1', port: 9747 },
  webConfigFile: '',
  logListen: { host: '127.0.0.1', port: 9748 },
  destinations: DEFAULT_DESTINATIONS,
  maxZones: 32,
  maxSendingIps: 64,
  maxInterfaces: 16,
  maxReasons: 20,
  logReceiveBufferBytes: 4 * 1024 * 1024,
};

const GROUP_NAME = /^[a-z][a-z0-9_-]{0,31}$/;

/** "host:port", ":port", "[::1]:port" or a bare port (the kit's parser); a clear error on anything else. */
export function parseAddress(value: unknown, name: string): Address {
  const text = String(value).trim();
  try {
    return parseKitAddress(text);
  } catch {
    throw new Error(`zonemta-tinomail: ${name} must look like "host:port" or ":port", got "${text}"`);
  }
}

/** The form the kit's web server listens on. */
export function formatAddress(address: Address): string {
  return `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
}

function nonEmptyString(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new Error(`zonemta-tinomail: ${name} must be a file path, got "${String(value)}"`);
  return value.trim();
}

function positiveInt(value: unknown, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`zonemta-tinomail: ${name} must be a positive integer, got "${String(value)}"`);
  return n;
}

function parseDestinations(value: unknown): Record<string, string[]> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error('zonemta-tinomail: destinations must be an object { group: ["domain", ...] }');
  }
  const groups: Record<string, string[]> = {};
  for (const [group, suffixes] of Object.entries(value)) {
    if (!GROUP_NAME.test(group) || group === 'other' || group === 'none') {
      throw new Error(`zonemta-tinomail: destination group "${group}" must match ${GROUP_NAME} and not be "other" or "none"`);
    }
    if (!Array.isArray(suffixes) || suffixes.some(s => typeof s !== 'string' || !s)) {
      throw new Error(`zonemta-tinomail: destination group "${group}" must be a list of domains`);
    }
    groups[group] = suffixes.map(s => s.toLowerCase().replace(/^\*?\./, ''));
  }
  return groups;
}

/** Validates the plugin config once, before anything starts; unknown keys (enabled, ordering) are ignored. */
export function parseSettings(config: Record<string, unknown> | undefined | true): PluginSettings {
  const c = typeof config === 'object' && config !== null ? config : {};
  return {
    listen: c.listen !== undefined ? parseAddress(c.listen, 'listen') : DEFAULTS.listen,
    webConfigFile: c.webConfigFile !== undefined ? nonEmptyString(c.webConfigFile, 'webConfigFile') : DEFAULTS.webConfigFile,
    logListen: c.logListen !== undefined ? parseAddress(c.logListen, 'logListen') : DEFAULTS.logListen,
    destinations: c.destinations !== undefined ? parseDestinations(c.destinations) : DEFAULTS.destinations,
    maxZones: c.maxZones !== undefined ? positiveInt(c.maxZones, 'maxZones') : DEFAULTS.maxZones,
    maxSendingIps: c.maxSendingIps !== undefined ? positiveInt(c.maxSendingIps, 'maxSendingIps') : DEFAULTS.maxSendingIps,
    maxInterfaces: c.maxInterfaces !== undefined ? positiveInt(c.maxInterfaces, 'maxInterfaces') : DEFAULTS.maxInterfaces,
    maxReasons: c.maxReasons !== undefined ? positiveInt(c.maxReasons, 'maxReasons') : DEFAULTS.maxReasons,
    logReceiveBufferBytes:
      c.logReceiveBufferBytes !== undefined
        ? positiveInt(c.logReceiveBufferBytes, 'logReceiveBufferBytes')
        : DEFAULTS.logReceiveBufferBytes,
  };
}

/** Whether ZoneMTA's log.remote target is the plugin's receiver (then forwarding too would count twice). */
export function remoteLogReachesReceiver(remote: unknown, receiver: Address): boolean {
  if (!remote || typeof remote !== 'object') return false;
  const { host, port } = remote as { host?: unknown; port?: unknown };
  if (Number(port) !== receiver.port) return false;
  if (['', '0.0.0.0', '::'].includes(receiver.host)) return true; // the receiver listens on every address
  // wild-plugins sends to 'localhost' when host is empty
  const target = typeof host === 'string' && host ? host : 'localhost';
  return target === receiver.host || (target === 'localhost' && ['127.0.0.1', '::1'].includes(receiver.host));
}
