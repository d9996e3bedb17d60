/**
 * A small client for the WildDuck REST API on undici: one keep-alive connection pool, a timeout per
 * request, retries with backoff for what can pass (network, timeouts, 5xx, 429), and errors that carry a
 * bounded reason. The token travels in the X-Access-Token header and appears in no message.
 */
import { Agent, request } from 'undici';
import { type FailureReason, type ListingPage, parseListingPage } from './aggregate';

export class WildDuckApiError extends Error {
  constructor(
    message: string,
    readonly reason: FailureReason,
    readonly retryable: boolean,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface WildDuckResponse {
  status: number;
  /** Parsed JSON, undefined when the body was not JSON. */
  body: unknown;
}

export interface ClientOptions {
  /** Base URL of the API, e.g. http://127.0.0.1:8080 (a path prefix behind a proxy is kept). */
  url: string;
  /** Access token; empty when WildDuck runs without access control. */
  token: string;
  timeoutMs: number;
  /** Extra attempts after a retryable failure. */
  retries: number;
  /** First backoff; doubles per attempt (with jitter), at most 10 s. */
  backoffMs?: number;
  /** Told about every request made and every retry (for the crawl's counters). */
  onRequest?: () => void;
  onRetry?: (err: WildDuckApiError) => void;
}

/**
 * Largest answer read: a page of 250 users is a few hundred KB, so 4 MiB leaves room for long tag and target
 * lists while a hostile or broken API cannot make the exporter buffer and parse tens of MB (undici stops
 * reading once the limit is passed, and refuses a Content-Length above it at once).
 */
export const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
const MAX_BACKOFF_MS = 10_000;
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** Which role a path needs (config/roles.json of WildDuck), for the message of a 403. */
export function roleHint(path: string): string {
  if (path.startsWith('/health')) return 'any valid token';
  if (path.startsWith('/webhooks')) return 'a token with role root, manager or webmail';
  return 'a token with role root or manager';
}

/** Strips credentials and query (accessToken=...) from a URL before it is logged. */
export function redactApiUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = u.username ? 'xxxxx' : '';
    u.password = '';
    u.search = '';
    return u.toString();
  } catch {
    return '<invalid url>';
  }
}

/** Waits ms, or rejects when the signal aborts first. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Messages name the path only: a paging cursor encodes a user id. */
function withoutQuery(path: string): string {
  return path.split('?')[0];
}

/** Turns a non-2xx answer into an error with its reason; WildDuck's own `code` decides between token and role. */
export function errorForStatus(pathAndQuery: string, status: number, body: unknown): WildDuckApiError {
  const path = withoutQuery(pathAndQuery);
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const code = typeof b.code === 'string' ? b.code : '';
  const text = typeof b.error === 'string' ? b.error : typeof b.message === 'string' ? b.message : '';
  const detail = `${path}: HTTP ${status}${code ? ' ' + code : ''}${text ? ` (${text.slice(0, 200)})` : ''}`;
  if (status === 403 && code === 'MissingPrivileges') {
    return new WildDuckApiError(`${detail}: the token lacks privileges, ${path} needs ${roleHint(path)}`, 'missing_privileges', false, status);
  }
  if (status === 401 || status === 403) {
    return new WildDuckApiError(`${detail}: the token was rejected (check --wildduck.token-file); ${path} needs ${roleHint(path)}`, 'token_rejected', false, status);
  }
  return new WildDuckApiError(detail, 'http_error', status >= 500 || status === 429, status);
}

export class WildDuckClient {
  private readonly agent: Agent;
  private readonly base: string;

  constructor(private readonly opts: ClientOptions) {
    const url = new URL(opts.url);
    this.base = url.origin + url.pathname.replace(/\/+$/, '');
    this.agent = new Agent({
      // Requests go one at a time (the crawl is sequential, the kit shares one scrape among scrapers).
      connections: 2,
      keepAliveTimeout: 30_000,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
      connect: { timeout: opts.timeoutMs },
      maxResponseSize: MAX_RESPONSE_BYTES,
    });
  }

  /** One GET without retries. Transport failures throw WildDuckApiError; any HTTP status resolves. */
  async get(pathAndQuery: string, signal: AbortSignal): Promise<WildDuckResponse> {
    const path = withoutQuery(pathAndQuery);
    const timeout = AbortSignal.timeout(this.opts.timeoutMs);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.opts.token) headers['x-access-token'] = this.opts.token;
    this.opts.onRequest?.();
    try {
      const res = await request(this.base + pathAndQuery, {
        method: 'GET',
        headers,
        dispatcher: this.agent,
        signal: AbortSignal.any([signal, timeout]),
      });
      // Read the whole body either way, so the connection goes back to the pool.
      const text = await res.body.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      return { status: res.statusCode, body };
    } catch (err) {
      const e = err as Error & { code?: string };
      if (timeout.aborted || TIMEOUT_CODES.has(e.code ?? '')) {
        throw new WildDuckApiError(`${path}: no answer within ${this.opts.timeoutMs} ms`, 'timeout', true);
      }
      if (signal.aborted) throw new WildDuckApiError(`${path}: aborted`, 'timeout', false);
      if (e.code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') throw new WildDuckApiError(`${path}: answer larger than ${MAX_RESPONSE_BYTES} bytes`, 'bad_response', false);
      throw new WildDuckApiError(`${path}: ${e.code ?? ''} ${e.message}`.trim(), 'unreachable', true);
    }
  }

  /** GET of one listing page, retried with backoff while the failure may pass. */
  async getListing(pathAndQuery: string, signal: AbortSignal): Promise<ListingPage> {
    const path = withoutQuery(pathAndQuery);
    for (let attempt = 0; ; attempt++) {
      try {
        const { status, body } = await this.get(pathAndQuery, signal);
        if (status !== 200) throw errorForStatus(path, status, body);
        try {
          return parseListingPage(body);
        } catch (err) {
          throw new WildDuckApiError(`${path}: ${(err as Error).message}`, 'bad_response', false, status);
        }
      } catch (err) {
        const e = err as WildDuckApiError;
        if (!(e instanceof WildDuckApiError) || !e.retryable || attempt >= this.opts.retries || signal.aborted) throw err;
        this.opts.onRetry?.(e);
        const backoff = Math.min(MAX_BACKOFF_MS, (this.opts.backoffMs ?? 250) * 2 ** attempt);
        await sleep(backoff * (0.8 + 0.4 * Math.random()), signal).catch(() => {
          throw new WildDuckApiError(`${path}: aborted`, 'timeout', false);
        });
      }
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
