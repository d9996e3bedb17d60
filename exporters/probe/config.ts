/**
 * The routes of `--probe.config.file` (YAML). Each route names one path a probe message takes: how it is
 * submitted, where it is looked for, and its timing. `parseConfig` is pure (the file's text in, routes out) and
 * throws a ConfigError naming the route and key; secrets stay in their files and are read when used.
 */
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { parseDuration } from '../kit/flags';

export class ConfigError extends Error {}

export type TlsMode = 'none' | 'starttls' | 'implicit';

export interface TlsOptions {
  mode: TlsMode;
  /** PEM file of the CA that signed the server's certificate (else the system's CAs). */
  caFile?: string;
  /** Accept any certificate (tests, self-signed hosts); the probe still encrypts. */
  insecure: boolean;
  /** Name to check the certificate against (default: host). */
  serverName?: string;
}

export interface SmtpSubmit {
  method: 'smtp';
  host: string;
  port: number;
  tls: TlsOptions;
  /** AUTH user; none when the server takes mail without AUTH (an MX). */
  user?: string;
  passwordFile?: string;
}

export interface ZoneMtaSubmit {
  method: 'zonemta';
  /** ZoneMTA API base URL; the probe POSTs /send. */
  url: string;
}

export interface WildDuckSubmit {
  method: 'wildduck';
  /** WildDuck API base URL; the probe POSTs /users/:id/submit. */
  url: string;
  tokenFile?: string;
  userId: string;
}

export type SubmitConfig = SmtpSubmit | ZoneMtaSubmit | WildDuckSubmit;

export interface ImapCheck {
  method: 'imap';
  host: string;
  port: number;
  tls: TlsOptions;
  user: string;
  passwordFile: string;
  folders: string[];
}

export interface WildDuckCheck {
  method: 'wildduck';
  url: string;
  tokenFile?: string;
  userId: string;
  /** Mailbox paths to look in. */
  folders: string[];
}

export type CheckConfig = ImapCheck | WildDuckCheck;

export interface RouteConfig {
  /** The `route` label: bounded, never an address. */
  name: string;
  from: string;
  to: string;
  intervalMs: number;
  /** A round trip that ends within this is a success. */
  timeoutMs: number;
  /** A message that missed its timeout is still looked for until this long after it was sent (then it is late); after that it is lost. */
  lateThresholdMs: number;
  /** How often the mailbox (and the MTA) is asked while messages are in flight; IMAP IDLE answers sooner. */
  pollIntervalMs: number;
  submit: SubmitConfig;
  check: CheckConfig;
  /** ZoneMTA API asked for the queued message's status: a deferral or bounce fails the `deliver` stage at once. */
  mtaUrl?: string;
  /** Which Received header is the MX's and which the store's (regular expressions, case-insensitive). */
  received: { mx: RegExp; store: RegExp };
}

export const MAX_ROUTES = 50;
export const DEFAULT_FOLDERS = ['INBOX', 'Junk'];
export const DEFAULTS = {
  interval: '1m',
  timeout: '2m',
  late_threshold: '30m',
  poll_interval: '5s',
  received_mx: 'Haraka',
  received_store: '\\bwith\\s+LMTPS?A?\\b',
};
const ROUTE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$/;

type Obj = Record<string, unknown>;

class Reader {
  constructor(
    private readonly obj: Obj,
    private readonly where: string,
    private readonly known: string[],
  ) {
    for (const key of Object.keys(obj)) {
      if (!known.includes(key)) throw new ConfigError(`${where}: unknown key ${JSON.stringify(key)} (known: ${known.join(', ')})`);
    }
  }

  fail(key: string, why: string): never {
    throw new ConfigError(`${this.where}.${key}: ${why}`);
  }

  has(key: string): boolean {
    return this.obj[key] !== undefined && this.obj[key] !== null;
  }

  str(key: string, def?: string): string {
    const v = this.obj[key];
    if (v === undefined || v === null) {
      if (def !== undefined) return def;
      this.fail(key, 'is required');
    }
    if (typeof v !== 'string' && typeof v !== 'number') this.fail(key, 'must be a string');
    const s = String(v).trim();
    if (!s) this.fail(key, 'must not be empty');
    return s;
  }

  optStr(key: string): string | undefined {
    return this.has(key) ? this.str(key) : undefined;
  }

  bool(key: string, def: boolean): boolean {
    const v = this.obj[key];
    if (v === undefined || v === null) return def;
    if (typeof v !== 'boolean') this.fail(key, 'must be true or false');
    return v;
  }

  port(key: string, def?: number): number {
    const v = this.obj[key] ?? def;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) this.fail(key, 'must be a port number (1..65535)');
    return v;
  }

  duration(key: string, def: string): number {
    const v = this.obj[key] ?? def;
    try {
      return parseDuration(String(v));
    } catch (err) {
      this.fail(key, (err as Error).message);
    }
  }

  oneOf<T extends string>(key: string, choices: readonly T[], def?: T): T {
    const v = this.str(key, def);
    if (!choices.includes(v as T)) this.fail(key, `must be one of ${choices.join(', ')}`);
    return v as T;
  }

  url(key: string): string {
    const v = this.str(key);
    let protocol = '';
    try {
      protocol = new URL(v).protocol;
    } catch {
      // reported below
    }
    if (protocol !== 'http:' && protocol !== 'https:') this.fail(key, 'must be an http:// or https:// URL');
    return v.replace(/\/+$/, '');
  }

  regex(key: string, def: string): RegExp {
    const v = this.str(key, def);
    try {
      return new RegExp(v, 'i');
    } catch (err) {
      this.fail(key, `not a regular expression: ${(err as Error).message}`);
    }
  }

  folders(key: string): string[] {
    const v = this.obj[key];
    if (v === undefined || v === null) return [...DEFAULT_FOLDERS];
    if (!Array.isArray(v) || v.length === 0 || v.length > 10 || !v.every((f) => typeof f === 'string' && f.trim())) {
      this.fail(key, 'must be a list of 1..10 folder names');
    }
    return v.map((f: string) => f.trim());
  }

  child(key: string, known: string[]): Reader {
    const v = this.obj[key];
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(key, 'must be a mapping');
    return new Reader(v as Obj, `${this.where}.${key}`, known);
  }

  /** A file that must exist now; it is read again whenever it is used (rotation needs no restart). */
  file(key: string, required: boolean, base: string): string | undefined {
    if (!required && !this.has(key)) return undefined;
    const path = this.str(key);
    const resolved = path.startsWith('/') || !base ? path : `${base}/${path}`;
    try {
      readFileSync(resolved);
    } catch (err) {
      this.fail(key, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    return resolved;
  }
}

function tlsOptions(r: Reader, defaultMode: TlsMode, base: string): TlsOptions {
  return {
    mode: r.oneOf('tls', ['none', 'starttls', 'implicit'] as const, defaultMode),
    caFile: r.file('ca_file', false, base),
    insecure: r.bool('insecure', false),
    serverName: r.optStr('server_name'),
  };
}

const TLS_KEYS = ['tls', 'ca_file', 'insecure', 'server_name'];
// Every key any method knows: the method is read first, then its own keys are checked.
const SUBMIT_KEYS = ['method', 'host', 'port', 'user', 'password_file', 'url', 'token_file', 'user_id', ...TLS_KEYS];
const CHECK_KEYS = ['method', 'host', 'port', 'user', 'password_file', 'folders', 'url', 'token_file', 'user_id', ...TLS_KEYS];

function readSubmit(parent: Reader, base: string): SubmitConfig {
  const method = parent.child('submit', SUBMIT_KEYS).oneOf('method', ['smtp', 'zonemta', 'wildduck'] as const);
  if (method === 'smtp') {
    const r = parent.child('submit', ['method', 'host', 'port', 'user', 'password_file', ...TLS_KEYS]);
    const tls = tlsOptions(r, 'starttls', base);
    const user = r.optStr('user');
    if (user && !r.has('password_file')) r.fail('password_file', 'is required with user (AUTH)');
    return { method, host: r.str('host'), port: r.port('port', tls.mode === 'implicit' ? 465 : 587), tls, user, passwordFile: user ? r.file('password_file', true, base) : undefined };
  }
  if (method === 'zonemta') {
    const r = parent.child('submit', ['method', 'url']);
    return { method, url: r.url('url') };
  }
  const r = parent.child('submit', ['method', 'url', 'token_file', 'user_id']);
  return { method, url: r.url('url'), tokenFile: r.file('token_file', false, base), userId: wildduckId(r, 'user_id') };
}

function readCheck(parent: Reader, base: string): CheckConfig {
  const method = parent.child('check', CHECK_KEYS).oneOf('method', ['imap', 'wildduck'] as const, 'imap');
  if (method === 'imap') {
    const r = parent.child('check', ['method', 'host', 'port', 'user', 'password_file', 'folders', ...TLS_KEYS]);
    const tls = tlsOptions(r, 'implicit', base);
    return {
      method,
      host: r.str('host'),
      port: r.port('port', tls.mode === 'implicit' ? 993 : 143),
      tls,
      user: r.str('user'),
      passwordFile: r.file('password_file', true, base)!,
      folders: r.folders('folders'),
    };
  }
  const r = parent.child('check', ['method', 'url', 'token_file', 'user_id', 'folders']);
  return { method, url: r.url('url'), tokenFile: r.file('token_file', false, base), userId: wildduckId(r, 'user_id'), folders: r.folders('folders') };
}

function wildduckId(r: Reader, key: string): string {
  const id = r.str(key);
  if (!/^[0-9a-f]{24}$/i.test(id)) r.fail(key, 'must be a WildDuck user id (24 hex digits)');
  return id.toLowerCase();
}

function address(r: Reader, key: string): string {
  const v = r.str(key);
  if (!/^[^\s@<>]+@[^\s@<>]+$/.test(v)) r.fail(key, 'must be an e-mail address');
  return v;
}

/** Parses the YAML text of the config file. `base` is the directory relative file names start from. */
export function parseConfig(text: string, base = ''): RouteConfig[] {
  let doc: unknown;
  try {
    doc = yaml.load(text);
  } catch (err) {
    throw new ConfigError(`not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new ConfigError('must be a mapping with a `routes` list');
  new Reader(doc as Obj, 'config', ['routes']);
  const list = (doc as Obj).routes;
  if (!Array.isArray(list) || list.length === 0) throw new ConfigError('routes: must be a non-empty list');
  if (list.length > MAX_ROUTES) throw new ConfigError(`routes: at most ${MAX_ROUTES} routes (each is a label value)`);
  const names = new Set<string>();
  return list.map((item, i) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new ConfigError(`routes[${i}]: must be a mapping`);
    const rawName = (item as Obj).name;
    const where = typeof rawName === 'string' && rawName ? `route ${JSON.stringify(rawName)}` : `routes[${i}]`;
    const r = new Reader(item as Obj, where, ['name', 'from', 'to', 'interval', 'timeout', 'late_threshold', 'poll_interval', 'submit', 'check', 'mta', 'received']);
    const name = r.str('name');
    if (!ROUTE_NAME.test(name)) r.fail('name', 'must be 1..40 letters, digits, ".", "_" or "-" (it is the route label; never an address)');
    if (names.has(name)) r.fail('name', 'is used by another route');
    names.add(name);
    const intervalMs = r.duration('interval', DEFAULTS.interval);
    const timeoutMs = r.duration('timeout', DEFAULTS.timeout);
    const lateThresholdMs = r.duration('late_threshold', DEFAULTS.late_threshold);
    const pollIntervalMs = r.duration('poll_interval', DEFAULTS.poll_interval);
    if (intervalMs < 1000) r.fail('interval', 'must be at least 1s');
    if (timeoutMs < 100) r.fail('timeout', 'must be at least 100ms');
    if (lateThresholdMs < timeoutMs) r.fail('late_threshold', 'must be at least the timeout');
    if (pollIntervalMs < 50) r.fail('poll_interval', 'must be at least 50ms');
    let mtaUrl: string | undefined;
    if (r.has('mta')) mtaUrl = r.child('mta', ['zonemta_url']).url('zonemta_url');
    let received = { mx: new RegExp(DEFAULTS.received_mx, 'i'), store: new RegExp(DEFAULTS.received_store, 'i') };
    if (r.has('received')) {
      const rr = r.child('received', ['mx', 'store']);
      received = { mx: rr.regex('mx', DEFAULTS.received_mx), store: rr.regex('store', DEFAULTS.received_store) };
    }
    return {
      name,
      from: address(r, 'from'),
      to: address(r, 'to'),
      intervalMs,
      timeoutMs,
      lateThresholdMs,
      pollIntervalMs,
      submit: readSubmit(r, base),
      check: readCheck(r, base),
      mtaUrl,
      received,
    };
  });
}

/** Reads a password or token file: the first line, trimmed. The secret never reaches a message. */
export function readSecret(path: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the ${what} file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const secret = text.split(/\r?\n/)[0].trim();
  if (!secret) throw new Error(`the ${what} file ${path} is empty`);
  return secret;
}
