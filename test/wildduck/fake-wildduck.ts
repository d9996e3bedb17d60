/**
 * A stand-in for the WildDuck API server (WildDuck itself cannot run here: it needs MongoDB).
 *
 * It answers exactly as WildDuck 1.50.0 does, read from its source:
 * - api.js token check: X-Access-Token header, Authorization: Bearer or ?accessToken=; a wrong or unknown
 *   token (also a token sent to a server without access control) -> 403 {code:'InvalidToken', message:
 *   'Invalid accessToken value'} (restify-errors ForbiddenError); a role without the grant -> 403
 *   {error:'Not enough privileges', code:'MissingPrivileges'} (req.validate); grants from config/roles.json.
 * - lib/api/users.js, addresses.js, domainaliases.js, webhooks.js listings: `limit` Joi number default 20,
 *   1..250, else 400 {error, code:'InputValidationError', details}; `total` from countDocuments;
 *   `page`, `previousCursor`, `nextCursor` (false on the last page) from lib/mongopaging-find-wrapper.js, whose
 *   cursors are base64url of EJSON [innerCursor, page]; invalid cursors fail the Joi cursor check (400).
 * - users.js result entries: quota.allowed = Number(user.quota) || const:max:storage (1 GiB by default),
 *   quota.used = max(storageUsed, 0), enabled2fa through tools.getEnabled2fa, booleans with !!.
 * - lib/api/health.js: 200 {success:true, version} or 500 {success:false, version, message}.
 * - The custom JSON formatter of api.js: JSON.stringify(body, false, 2) + '\n'.
 *
 * Users are produced by index from a UserSource, so a million users cost no memory.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A `users` document as stored in MongoDB (the fields users.js projects). */
export interface RawUser {
  username: string;
  name?: string;
  address?: string;
  tags?: string[];
  storageUsed?: number;
  enabled2fa?: string[] | boolean;
  autoreply?: boolean;
  targets?: Array<{ value: string }>;
  quota?: number;
  activated?: boolean;
  disabled?: boolean;
  suspended?: boolean;
  password?: string;
}

export interface UserSource {
  count: number;
  user(index: number): RawUser;
}

export type Role = 'root' | 'manager' | 'webmail' | 'user';

// config/roles.json: which roles may list what ('any' = everything, 'own' = only their user's).
const GRANTS: Record<string, Partial<Record<Role, 'any' | 'own'>>> = {
  userlisting: { root: 'any', manager: 'any', user: 'own' },
  addresslisting: { root: 'any', manager: 'any', user: 'own' },
  domainaliases: { root: 'any', manager: 'any' },
  webhooks: { root: 'any', manager: 'any', webmail: 'any', user: 'own' },
};

export const DEFAULT_MAX_STORAGE = 1024 * 1024 * 1024;

export interface FakeWildDuckOptions {
  users: UserSource;
  addresses?: number;
  domainAliases?: number;
  webhooks?: number;
  /** Tokens and their roles; undefined = access control off. A 'user' token belongs to user index 0. */
  tokens?: Record<string, Role>;
  /** const:max:storage */
  maxStorage?: number;
  version?: string;
}

/** What a test can do to a request before it is answered. */
export interface Interference {
  delayMs?: number;
  /** Answer 500 InternalDatabaseError as a MongoDB failure does. */
  databaseError?: boolean;
  /** Drop the connection without an answer. */
  destroy?: boolean;
  /** Answer this status with an HTML page, as a reverse proxy in front of WildDuck does when it fails. */
  proxyError?: number;
  /** Changes the JSON body WildDuck built before it is sent (a broken or hostile API). */
  reply?: (body: Record<string, unknown>) => void;
}

const idOf = (index: number) => (index + 1).toString(16).padStart(24, '0');
const indexOf = (id: string) => parseInt(id, 16) - 1;
const b64 = (s: string) => Buffer.from(s).toString('base64url');

function wrapCursor(inner: string, page: number): string {
  return b64(JSON.stringify([inner, page]));
}

/** Cursor -> [last index seen, page]; undefined when it is not one of ours. */
function unwrapCursor(cursor: string): [number, number] | undefined {
  try {
    const [inner, page] = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as [string, number];
    const data = JSON.parse(inner) as unknown;
    const oid = Array.isArray(data) ? (data[1] as { $oid: string }).$oid : (data as { $oid: string }).$oid;
    const index = indexOf(oid);
    return Number.isInteger(index) && Number.isInteger(page) ? [index, page] : undefined;
  } catch {
    return undefined;
  }
}

export class FakeWildDuck {
  /** '/health' unless set: then 500 with this message (one of health.js's). */
  healthMessage?: string;
  /** Called for every request; may delay or fail it. */
  interfere?: (path: string, params: URLSearchParams) => Interference | undefined;
  requests = 0;
  readonly requestsByPath = new Map<string, number>();
  private readonly server: http.Server;
  private readonly sockets = new Set<import('node:net').Socket>();
  private readonly delays = new Set<() => void>();

  constructor(public options: FakeWildDuckOptions) {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const done of this.delays) done();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private rewrite?: (body: Record<string, unknown>) => void;

  private send(res: http.ServerResponse, status: number, body: unknown): void {
    if (this.rewrite && typeof body === 'object' && body !== null) this.rewrite(body as Record<string, unknown>);
    this.rewrite = undefined;
    const data = JSON.stringify(body, null, 2) + '\n';
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(data) });
    res.end(data);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    const params = url.searchParams;
    this.requests++;
    this.requestsByPath.set(path, (this.requestsByPath.get(path) ?? 0) + 1);

    const trouble = this.interfere?.(path, params);
    if (trouble?.delayMs) {
      // stop() ends the wait, so a delayed answer holds no timer after the test (jest exits by itself)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, trouble.delayMs);
        function done() {
          clearTimeout(timer);
          pending.delete(done);
          resolve();
        }
        const pending = this.delays;
        pending.add(done);
      });
    }
    if (trouble?.destroy) return void req.socket.destroy();
    if (res.destroyed) return;
    if (trouble?.proxyError) {
      res.writeHead(trouble.proxyError, { 'Content-Type': 'text/html' });
      return void res.end(`<html><body><h1>${trouble.proxyError} Bad Gateway</h1><hr>nginx</body></html>\n`);
    }
    this.rewrite = trouble?.reply;

    const routes: Record<string, (role: Role) => void> = {
      '/health': () => this.health(res),
      '/users': (role) => this.listUsers(res, params, role, trouble),
      '/addresses': (role) => this.listCount(res, params, role, 'addresslisting', this.options.addresses ?? 0, trouble),
      '/domainaliases': (role) => this.listCount(res, params, role, 'domainaliases', this.options.domainAliases ?? 0, trouble),
      '/webhooks': (role) => this.listCount(res, params, role, 'webhooks', this.options.webhooks ?? 0, trouble),
    };
    if (req.method !== 'GET' || !routes[path]) {
      // restify's answer for an unknown route
      return this.send(res, 404, { code: 'ResourceNotFound', message: `${path} does not exist` });
    }
    const token = params.get('accessToken') || req.headers['x-access-token'] || (req.headers.authorization ?? '').replace(/^Bearer\s+/i, '').trim() || '';
    const role = this.options.tokens ? this.options.tokens[String(token)] : token ? undefined : 'root';
    if (!role) return this.send(res, 403, { code: 'InvalidToken', message: 'Invalid accessToken value' });
    routes[path](role);
  }

  private health(res: http.ServerResponse): void {
    const version = this.options.version ?? '1.50.0';
    if (this.healthMessage) return this.send(res, 500, { success: false, version, message: this.healthMessage });
    this.send(res, 200, { success: true, version });
  }

  /** Joi validation of limit/next as the listing routes do it; sends the 400 and returns undefined on error. */
  private validate(res: http.ServerResponse, params: URLSearchParams): { limit: number; after: number; page: number } | undefined {
    const raw = params.get('limit');
    const limit = raw === null || raw === '' ? 20 : Number(raw);
    let error = '';
    let key = 'limit';
    if (!Number.isFinite(limit)) error = '"limit" must be a number';
    else if (limit < 1) error = '"limit" must be greater than or equal to 1';
    else if (limit > 250) error = '"limit" must be less than or equal to 250';
    let after = -1;
    let page = 1;
    const next = params.get('next');
    if (!error && next) {
      const parsed = /^[A-Za-z0-9_-]+$/.test(next) ? unwrapCursor(next) : undefined;
      if (!parsed) {
        error = '"Next page cursor" contains an invalid value';
        key = 'next';
      } else [after, page] = parsed;
    }
    if (error) {
      this.send(res, 400, { error, code: 'InputValidationError', details: { [key]: error } });
      return undefined;
    }
    return { limit, after, page };
  }

  private grant(res: http.ServerResponse, role: Role, resource: string): 'any' | 'own' | undefined {
    const grant = GRANTS[resource][role];
    if (!grant) this.send(res, 403, { error: 'Not enough privileges', code: 'MissingPrivileges' });
    return grant;
  }

  /** Paging over indexes 0..count-1 sorted by _id, as mongo-cursor-pagination does. */
  private page(count: number, after: number, limit: number, page: number) {
    const from = after + 1;
    const to = Math.min(count, from + limit);
    const hasNext = to < count;
    const hasPrevious = from > 0;
    const current = hasPrevious ? Math.max(page, 1) : 1;
    return {
      indexes: Array.from({ length: Math.max(0, to - from) }, (_, k) => from + k),
      page: current,
      nextCursor: hasNext ? wrapCursor(JSON.stringify({ $oid: idOf(to - 1) }), current + 1) : false,
      previousCursor: hasPrevious && to > from ? wrapCursor(JSON.stringify({ $oid: idOf(from) }), Math.max(current - 1, 0)) : false,
    };
  }

  private dbError(res: http.ServerResponse): void {
    this.send(res, 500, { error: 'MongoDB Error: connection 4 to 127.0.0.1:27017 closed', code: 'InternalDatabaseError' });
  }

  private listUsers(res: http.ServerResponse, params: URLSearchParams, role: Role, trouble?: Interference): void {
    const q = this.validate(res, params);
    if (!q) return;
    const grant = this.grant(res, role, 'userlisting');
    if (!grant) return;
    if (trouble?.databaseError) return this.dbError(res);
    const source = this.options.users;
    // A 'user' token sees only its own account (index 0).
    const count = grant === 'own' ? Math.min(1, source.count) : source.count;
    const p = this.page(count, q.after, q.limit, q.page);
    const maxStorage = this.options.maxStorage ?? DEFAULT_MAX_STORAGE;
    this.send(res, 200, {
      success: true,
      query: undefined,
      total: count,
      page: p.page,
      previousCursor: p.previousCursor,
      nextCursor: p.nextCursor,
      results: p.indexes.map((i) => {
        const u = source.user(i);
        let twoFa = Array.isArray(u.enabled2fa) ? u.enabled2fa : u.enabled2fa ? ['totp'] : [];
        if (twoFa.includes('u2f')) twoFa = [...new Set([...twoFa.filter((m) => m !== 'u2f'), 'webauthn'])];
        return {
          id: idOf(i),
          username: u.username,
          name: u.name,
          address: u.address,
          tags: u.tags || [],
          targets: u.targets && u.targets.map((t) => t.value).filter((t) => t),
          enabled2fa: twoFa,
          autoreply: !!u.autoreply,
          encryptMessages: false,
          encryptForwarded: false,
          quota: { allowed: Number(u.quota) || maxStorage, used: Math.max(Number(u.storageUsed) || 0, 0) },
          hasPasswordSet: !!u.password,
          activated: !!u.activated,
          disabled: !!u.disabled,
          suspended: !!u.suspended,
        };
      }),
    });
  }

  /** /addresses, /domainaliases, /webhooks: only their paging envelope matters to the exporter. */
  private listCount(res: http.ServerResponse, params: URLSearchParams, role: Role, resource: string, total: number, trouble?: Interference): void {
    const q = this.validate(res, params);
    if (!q) return;
    const grant = this.grant(res, role, resource);
    if (!grant) return;
    if (trouble?.databaseError) return this.dbError(res);
    const count = grant === 'own' ? Math.min(1, total) : total;
    const p = this.page(count, q.after, q.limit, q.page);
    this.send(res, 200, {
      success: true,
      query: '',
      total: count,
      page: p.page,
      previousCursor: p.previousCursor,
      nextCursor: p.nextCursor,
      results: p.indexes.map((i) => ({ id: idOf(i) })),
    });
  }
}

/**
 * Users of mixed states, by index, without storing them: some without an address, some with quota 0 (the
 * default applies), negative or missing storageUsed, the legacy boolean and u2f forms of enabled2fa, and
 * domains of uneven sizes. `variant` changes the states, so two crawls of the same source can differ.
 */
export function mixedUsers(count: number, variant = 0): UserSource {
  const MiB = 1024 * 1024;
  return {
    count,
    user(i: number): RawUser {
      const v = i + variant;
      const domainIndex = Math.floor(Math.sqrt(i)) % 40; // uneven: low indexes crowd the first domains
      const quota = v % 3 === 0 ? 0 : ((v % 5) + 1) * 100 * MiB;
      const allowed = quota || DEFAULT_MAX_STORAGE;
      const storageUsed =
        v % 31 === 0 ? -5 : v % 37 === 0 ? undefined : v % 9 === 0 ? allowed : v % 10 === 0 ? Math.floor(allowed * 0.85) : v % 12 === 0 ? Math.ceil(allowed * 0.95) : (v * 7919) % (50 * MiB);
      const enabled2fa = v % 19 === 0 ? ['totp'] : v % 23 === 0 ? true : v % 29 === 0 ? ['u2f', 'totp'] : v % 2 === 0 ? [] : undefined;
      return {
        username: `user${i}`,
        name: `User Number ${i}`,
        address: i % 101 === 0 ? undefined : `user${i}@d${domainIndex}.example`,
        storageUsed,
        quota,
        enabled2fa,
        autoreply: v % 7 === 0,
        activated: v % 17 !== 0,
        disabled: v % 11 === 0,
        suspended: v % 13 === 0 ? true : undefined,
        password: '$2b$10$abcdefghijklmnopqrstuv',
        tags: v % 4 === 0 ? ['vip'] : undefined,
        targets: v % 5 === 0 ? [{ value: `user${i}@elsewhere.example` }] : undefined,
      };
    },
  };
}
