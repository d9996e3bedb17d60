/**
 * `--web.config.file` in the Prometheus exporter-toolkit format, so operators reuse the file they already
 * have for node_exporter: `tls_server_config` and `basic_auth_users` (bcrypt hashes).
 */
import { createHash, randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';
import type { SecureContextOptions, TlsOptions } from 'node:tls';
import yaml from 'js-yaml';
import { BcryptPool, type Bcrypt } from './bcrypt-pool';

export type ClientAuthType =
  | 'NoClientCert'
  | 'RequestClientCert'
  | 'RequireAnyClientCert'
  | 'VerifyClientCertIfGiven'
  | 'RequireAndVerifyClientCert';

export interface WebConfig {
  tls?: TlsOptions;
  clientAuth?: ClientAuthType;
  /** user -> bcrypt hash */
  basicAuthUsers?: Map<string, string>;
  /** Extra response headers (http_server_config.headers). */
  headers?: Record<string, string>;
}

export class WebConfigError extends Error {}

const TLS_VERSIONS: Record<string, SecureContextOptions['minVersion']> = {
  TLS10: 'TLSv1',
  TLS11: 'TLSv1.1',
  TLS12: 'TLSv1.2',
  TLS13: 'TLSv1.3',
};

function checkKeys(section: string, obj: Record<string, unknown>, allowed: string[]): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) throw new WebConfigError(`${section}: unknown key "${key}" (known: ${allowed.join(', ')})`);
  }
}

function readPem(path: unknown, what: string, dir: string): Buffer {
  if (typeof path !== 'string' || path === '') throw new WebConfigError(`tls_server_config.${what} is required`);
  const full = path.startsWith('/') ? path : `${dir}/${path}`;
  try {
    return readFileSync(full);
  } catch (err) {
    throw new WebConfigError(`tls_server_config.${what}: cannot read ${full}: ${(err as Error).message}`);
  }
}

/** Reads and validates the file. Relative paths inside it are relative to the file, as in exporter-toolkit. */
export function loadWebConfig(file: string): WebConfig {
  let doc: unknown;
  try {
    doc = yaml.load(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new WebConfigError(`cannot read web config ${file}: ${(err as Error).message}`);
  }
  if (doc === undefined || doc === null) return {};
  if (typeof doc !== 'object') throw new WebConfigError(`web config ${file} is not a YAML mapping`);
  const root = doc as Record<string, unknown>;
  checkKeys('web config', root, ['tls_server_config', 'basic_auth_users', 'http_server_config']);
  const dir = file.includes('/') ? file.slice(0, file.lastIndexOf('/')) : '.';
  const config: WebConfig = {};

  const tlsSection = root.tls_server_config as Record<string, unknown> | undefined;
  if (tlsSection) {
    checkKeys('tls_server_config', tlsSection, [
      'cert_file',
      'key_file',
      'client_auth_type',
      'client_ca_file',
      'min_version',
      'max_version',
    ]);
    const authType = (tlsSection.client_auth_type ?? 'NoClientCert') as ClientAuthType;
    const needsCa = authType === 'VerifyClientCertIfGiven' || authType === 'RequireAndVerifyClientCert';
    if (!['NoClientCert', 'RequestClientCert', 'RequireAnyClientCert', 'VerifyClientCertIfGiven', 'RequireAndVerifyClientCert'].includes(authType)) {
      throw new WebConfigError(`tls_server_config.client_auth_type: unknown value "${authType}"`);
    }
    if (needsCa && !tlsSection.client_ca_file) {
      throw new WebConfigError(`tls_server_config.client_ca_file is required for client_auth_type ${authType}`);
    }
    const tls: TlsOptions = {
      cert: readPem(tlsSection.cert_file, 'cert_file', dir),
      key: readPem(tlsSection.key_file, 'key_file', dir),
      requestCert: authType !== 'NoClientCert',
      // Only the two "Verify" modes check the chain; "RequireAny" only demands that a certificate is sent,
      // which the server checks per request (see clientCertRequired).
      rejectUnauthorized: authType === 'RequireAndVerifyClientCert',
      minVersion: 'TLSv1.2',
    };
    if (tlsSection.client_ca_file) tls.ca = readPem(tlsSection.client_ca_file, 'client_ca_file', dir);
    for (const [key, field] of [
      ['min_version', 'minVersion'],
      ['max_version', 'maxVersion'],
    ] as const) {
      const v = tlsSection[key];
      if (v === undefined) continue;
      if (typeof v !== 'string' || !TLS_VERSIONS[v]) throw new WebConfigError(`tls_server_config.${key}: unknown version "${String(v)}"`);
      tls[field] = TLS_VERSIONS[v];
    }
    config.tls = tls;
    config.clientAuth = authType;
  }

  const users = root.basic_auth_users as Record<string, unknown> | undefined;
  if (users) {
    config.basicAuthUsers = new Map();
    for (const [user, hash] of Object.entries(users)) {
      if (typeof hash !== 'string' || !/^\$2[abxy]\$\d\d\$/.test(hash)) {
        throw new WebConfigError(`basic_auth_users.${user}: not a bcrypt hash`);
      }
      config.basicAuthUsers.set(user, hash);
    }
  }

  const http = root.http_server_config as Record<string, unknown> | undefined;
  if (http) {
    checkKeys('http_server_config', http, ['headers', 'http2']);
    if (http.headers) config.headers = Object.fromEntries(Object.entries(http.headers as object).map(([k, v]) => [k, String(v)]));
  }
  return config;
}

export type AuthResult = 'ok' | 'denied' | 'busy';

const POOL_SIZE = Math.max(1, Math.min(2, availableParallelism()));
let shared: { pool: BcryptPool; users: number } | undefined;

/** One worker pool per process (`all` runs every exporter in one), closed when its last user closes. */
function sharedPool(): Bcrypt {
  const s = (shared ??= { pool: new BcryptPool(POOL_SIZE), users: 0 });
  s.users++;
  let closed = false;
  return {
    compare: (password, hash) => s.pool.compare(password, hash),
    hash: (password, rounds) => s.pool.hash(password, rounds),
    async close() {
      if (closed) return;
      closed = true;
      if (--s.users > 0) return;
      if (shared === s) shared = undefined;
      await s.pool.close();
    },
  };
}

export interface BasicAuthOptions {
  /** Where bcrypt runs; a worker-thread pool unless a test gives its own. */
  bcrypt?: Bcrypt;
  /** Verifications at once (default: the pool size). */
  maxConcurrent?: number;
  /** Verifications waiting for a slot; beyond that a request is answered `busy` (429) at once. */
  maxQueued?: number;
  /** Successful verifications remembered. */
  cacheSize?: number;
}

/** The cost (log2 rounds) of a bcrypt hash: `$2b$12$...` is 12. */
export function bcryptCost(hash: string): number {
  return Number(/^\$2[abxy]\$(\d\d)\$/.exec(hash)?.[1] ?? 10);
}

/**
 * Checks `Authorization: Basic ...` against the bcrypt hashes.
 * - bcrypt runs in worker threads (one pool per process): a flood of guesses never stalls the event loop.
 * - A success is cached (as exporter-toolkit does), keyed by a SHA-256 of user, password and configured
 *   hash: a changed password or hash misses the cache. A known client is answered at once during a flood.
 * - At most maxConcurrent verifications run and maxQueued wait; more are `busy`, so guesses cannot pile up.
 * - An unknown user is compared against a real hash of the users' cost, so it takes as long as a wrong password.
 */
export class BasicAuth {
  private readonly cache = new Map<string, true>();
  private readonly bcrypt: Bcrypt;
  private readonly maxConcurrent: number;
  private readonly maxQueued: number;
  private readonly cacheSize: number;
  private readonly dummy: Promise<string>;
  private active = 0;
  private readonly queue: Array<() => void> = [];

  constructor(
    private readonly users: Map<string, string>,
    opts: BasicAuthOptions = {},
  ) {
    this.bcrypt = opts.bcrypt ?? sharedPool();
    this.maxConcurrent = opts.maxConcurrent ?? POOL_SIZE;
    this.maxQueued = opts.maxQueued ?? 2 * this.maxConcurrent;
    this.cacheSize = opts.cacheSize ?? 1000;
    const cost = Math.max(...[...users.values()].map(bcryptCost), 4);
    this.dummy = this.bcrypt.hash(randomBytes(16).toString('hex'), cost);
    this.dummy.catch(() => undefined); // awaited (and reported) by the first unknown user
  }

  async check(header: string | undefined): Promise<AuthResult> {
    if (!header?.startsWith('Basic ')) return 'denied';
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return 'denied';
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const hash = this.users.get(user);
    const key = hash === undefined ? '' : createHash('sha256').update(`${user}\0${password}\0${hash}`).digest('hex');
    if (key && this.cache.delete(key)) {
      this.cache.set(key, true); // most recently used last: eviction takes the oldest
      return 'ok';
    }

    if (this.active >= this.maxConcurrent) {
      if (this.queue.length >= this.maxQueued) return 'busy';
      await new Promise<void>((resolve) => this.queue.push(resolve));
    } else {
      this.active++;
    }
    try {
      // bcryptjs knows $2a$/$2b$; Go's bcrypt (htpasswd) writes $2y$, the same algorithm.
      const ok = await this.bcrypt.compare(password, hash === undefined ? await this.dummy : hash.replace(/^\$2y\$/, '$2b$'));
      if (!ok || hash === undefined) return 'denied';
      if (this.cache.size >= this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(key, true);
      return 'ok';
    } finally {
      // Hand the slot to the next waiting request, or free it.
      const next = this.queue.shift();
      if (next) next();
      else this.active--;
    }
  }

  close(): Promise<void> {
    return this.bcrypt.close();
  }
}
