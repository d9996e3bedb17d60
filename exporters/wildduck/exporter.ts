/**
 * The wildduck exporter: `/health` at scrape time, and a background crawl of the REST API whose last
 * successful result feeds the account gauges. Metric names start with `wildduck_` (the exporter's name) and
 * avoid every name and subsystem of WildDuck's own /metrics (lib/metrics.js: info, service, api, auth,
 * connections, imap, pop3, lmtp, message, journal, notifications, events, tasks, task, bullmq, webhook, search).
 */
import { readFileSync } from 'node:fs';
import { Counter, Gauge, type Registry } from 'prom-client';
import { type Collector, CollectorRunner } from '../kit/collectors';
import type { Exporter, ExporterContext, ScrapeContext } from '../kit/exporter';
import { FlagError } from '../kit/flags';
import type { Logger } from '../kit/log';
import { CRAWL_FAILURES, FAILURE_REASONS, type FailureReason, type HealthResult, parseHealth, QUOTA_THRESHOLDS } from './aggregate';
import { errorForStatus, redactApiUrl, WildDuckApiError, WildDuckClient } from './client';
import { COUNTED_LISTINGS, crawl, type CrawlOptions, type CrawlResult, MAX_PAGE_SIZE } from './crawl';

export interface WildDuckSettings extends CrawlOptions {
  url: string;
  tokenFile: string;
  timeoutMs: number;
  crawlIntervalMs: number;
  crawlTimeoutMs: number;
  retries: number;
}

/** Reads and checks the settings; throws FlagError naming the flag. */
export function settingsFromFlags(flags: ExporterContext['flags']): WildDuckSettings {
  const s: WildDuckSettings = {
    url: String(flags['wildduck.url']),
    tokenFile: String(flags['wildduck.token-file']),
    timeoutMs: Number(flags['wildduck.timeout']),
    crawlIntervalMs: Number(flags['wildduck.crawl-interval']),
    crawlTimeoutMs: Number(flags['wildduck.crawl-timeout']),
    retries: Number(flags['wildduck.retries']),
    pageSize: Number(flags['wildduck.page-size']),
    topDomains: Number(flags['wildduck.top-domains']),
    maxTrackedDomains: Number(flags['wildduck.max-tracked-domains']),
  };
  let protocol = '';
  try {
    protocol = new URL(s.url).protocol;
  } catch {
    // reported below
  }
  if (protocol !== 'http:' && protocol !== 'https:') throw new FlagError(`--wildduck.url must be an http:// or https:// URL`);
  if (s.pageSize < 1 || s.pageSize > MAX_PAGE_SIZE) throw new FlagError(`--wildduck.page-size must be 1..${MAX_PAGE_SIZE} (WildDuck refuses larger pages)`);
  if (s.timeoutMs <= 0) throw new FlagError('--wildduck.timeout must be above 0');
  if (s.crawlIntervalMs < 1000) throw new FlagError('--wildduck.crawl-interval must be at least 1s');
  if (s.crawlTimeoutMs <= 0) throw new FlagError('--wildduck.crawl-timeout must be above 0');
  if (s.retries < 0 || s.retries > 10) throw new FlagError('--wildduck.retries must be 0..10');
  if (s.topDomains < 0 || s.topDomains > 1000) throw new FlagError('--wildduck.top-domains must be 0..1000');
  if (s.maxTrackedDomains < s.topDomains) throw new FlagError('--wildduck.max-tracked-domains must be at least --wildduck.top-domains');
  return s;
}

/** Reads the token file (trimmed); a file that cannot serve is a bad value of the flag (exit 2). The token never reaches a message. */
export function readToken(path: string): string {
  if (!path) return '';
  let token: string;
  try {
    token = readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new FlagError(`cannot read --wildduck.token-file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (!token) throw new FlagError(`--wildduck.token-file ${path} is empty`);
  if (/\s/.test(token)) throw new FlagError(`--wildduck.token-file ${path} holds more than one word`);
  return token;
}

/** A gauge filled when read; it has no sample at all while `fill` returns false (no zeros before data exists). */
class OptionalGauge<L extends string> extends Gauge<L> {
  constructor(
    config: { name: string; help: string; labelNames?: readonly L[]; registers: Registry[] },
    private readonly fill: (gauge: Gauge<L>) => boolean,
  ) {
    super(config);
  }

  override async get() {
    this.reset();
    const hasData = this.fill(this);
    const metric = await super.get();
    return hasData ? metric : { ...metric, values: [] };
  }
}

const CRAWLED = 'as of the last successful background crawl of the WildDuck API (not live)';

export class WildDuckExporter implements Exporter {
  private readonly settings: WildDuckSettings;
  private readonly log: Logger;
  private readonly runner: CollectorRunner;
  private healthClient?: WildDuckClient;
  private crawlClient?: WildDuckClient;

  // Health, from the last scrape.
  private health: HealthResult = { ok: false };
  private healthSeconds?: number;
  private healthSeq = 0;

  // Crawl state.
  private lastCrawl?: CrawlResult;
  private lastSuccessSeconds?: number;
  private lastCrawlOk?: boolean;
  private lastCrawlSeconds?: number;
  private crawling?: Promise<boolean>;
  private crawlsFinished = 0;
  private crawlWaiters: Array<{ count: number; resolve: (ok: boolean) => void }> = [];
  private crawlAbort?: AbortController;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  private readonly crawlsTotal: Counter<'result'>;
  private readonly crawlRequests: Counter;
  private readonly crawlRetries: Counter;

  constructor(ctx: ExporterContext) {
    this.settings = settingsFromFlags(ctx.flags);
    this.log = ctx.log;
    const registers = [ctx.registry];
    const health: Collector = { name: 'health', collect: (c) => this.collectHealth(c) };
    this.runner = new CollectorRunner('wildduck', ctx.registry, [health], ctx.log);

    // --- scrape time: /health
    new OptionalGauge(
      {
        name: 'wildduck_health_request_duration_seconds',
        help: 'Time the last completed GET /health of the WildDuck API took, in seconds (asked at scrape time).',
        registers,
      },
      (g) => {
        if (this.healthSeconds === undefined) return false;
        g.set(this.healthSeconds);
        return true;
      },
    );
    new OptionalGauge(
      {
        name: 'wildduck_health_failure',
        help: 'Why the last GET /health at scrape time failed: 1 for the current reason, 0 for the others (all 0 when healthy).',
        labelNames: ['reason'],
        registers,
      },
      (g) => {
        for (const reason of FAILURE_REASONS) g.set({ reason }, this.health.reason === reason ? 1 : 0);
        return true;
      },
    );
    new OptionalGauge(
      {
        name: 'wildduck_health_version_info',
        help: 'WildDuck version reported by GET /health at scrape time; always 1.',
        labelNames: ['version'],
        registers,
      },
      (g) => {
        if (!this.health.version) return false;
        g.set({ version: this.health.version }, 1);
        return true;
      },
    );

    // --- background crawl: aggregates of the last successful crawl
    // No sample before the first crawl, nor for a total WildDuck answered malformed (see isCount).
    const crawled = (name: string, help: string, value: (c: CrawlResult) => number | undefined) =>
      new OptionalGauge({ name, help: `${help}, ${CRAWLED}.`, registers }, (g) => {
        const v = this.lastCrawl && value(this.lastCrawl);
        if (v === undefined) return false;
        g.set(v);
        return true;
      });
    crawled('wildduck_users', 'Users', (c) => c.users.users);
    crawled('wildduck_users_disabled', 'Users that are disabled', (c) => c.users.disabled);
    crawled('wildduck_users_suspended', 'Users that are suspended', (c) => c.users.suspended);
    crawled('wildduck_users_not_activated', 'Users that are not activated', (c) => c.users.notActivated);
    crawled('wildduck_users_2fa_enabled', 'Users with at least one second factor enabled', (c) => c.users.twoFactor);
    crawled('wildduck_users_autoreply_enabled', 'Users with an autoreply turned on', (c) => c.users.autoreply);
    crawled('wildduck_users_storage_used_bytes', 'Storage used by all users, in bytes', (c) => c.users.storageUsedBytes);
    crawled('wildduck_users_quota_allowed_bytes', 'Storage quota allowed to all users (a quota of 0 counts as the default), in bytes', (c) => c.users.quotaAllowedBytes);
    crawled('wildduck_addresses', 'Addresses (GET /addresses total)', (c) => c.addresses);
    crawled('wildduck_domain_aliases', 'Domain aliases (GET /domainaliases total)', (c) => c.domainAliases);
    crawled('wildduck_webhooks', 'Webhooks (GET /webhooks total)', (c) => c.webhooks);
    crawled('wildduck_crawl_malformed_records', 'User records that were not objects and were dropped', (c) => c.users.malformed);
    new OptionalGauge(
      {
        name: 'wildduck_crawl_malformed_values',
        help: `Values that were not counts (finite non-negative integers below 2^53) and were left out of the gauges, by field, ${CRAWLED}.`,
        labelNames: ['field'],
        registers,
      },
      (g) => {
        if (!this.lastCrawl) return false;
        g.set({ field: 'quota' }, this.lastCrawl.users.malformedQuotas);
        for (const listing of COUNTED_LISTINGS) g.set({ field: `${listing}_total` }, Number(this.lastCrawl.malformedTotals.includes(listing)));
        return true;
      },
    );
    new OptionalGauge(
      {
        name: 'wildduck_users_quota_use_at_least',
        help: `Users whose storage used is at least this ratio of their quota, ${CRAWLED}.`,
        labelNames: ['ratio'],
        registers,
      },
      (g) => {
        if (!this.lastCrawl) return false;
        for (const [ratio] of QUOTA_THRESHOLDS) g.set({ ratio }, this.lastCrawl.users.quotaUseAtLeast[ratio]);
        return true;
      },
    );
    const perDomain = (name: string, help: string, value: (d: CrawlResult['users']['domains'][number]) => number) =>
      new OptionalGauge({ name, help: `${help} by domain of the main address (top domains by users, then other; none = no address), ${CRAWLED}.`, labelNames: ['domain'], registers }, (g) => {
        if (!this.lastCrawl) return false;
        for (const d of this.lastCrawl.users.domains) g.set({ domain: d.domain }, value(d));
        return true;
      });
    perDomain('wildduck_domain_users', 'Users', (d) => d.users);
    perDomain('wildduck_domain_storage_used_bytes', 'Storage used in bytes', (d) => d.storageUsedBytes);

    // --- crawl bookkeeping
    const optional = (name: string, help: string, value: () => number | undefined) =>
      new OptionalGauge({ name, help, registers }, (g) => {
        const v = value();
        if (v === undefined) return false;
        g.set(v);
        return true;
      });
    optional('wildduck_crawl_success', 'Whether the last background crawl of the WildDuck API succeeded (1) or failed and kept the previous totals (0).', () =>
      this.lastCrawlOk === undefined ? undefined : Number(this.lastCrawlOk),
    );
    optional('wildduck_crawl_duration_seconds', 'Time the last background crawl of the WildDuck API took, in seconds.', () => this.lastCrawlSeconds);
    optional('wildduck_crawl_last_success_timestamp_seconds', 'Unix time when the last successful background crawl of the WildDuck API ended.', () => this.lastSuccessSeconds);
    optional('wildduck_crawl_in_progress', 'Whether a background crawl of the WildDuck API is running now (1) or not (0).', () => Number(this.crawling !== undefined));
    this.crawlsTotal = new Counter({
      name: 'wildduck_crawls_total',
      help: 'Background crawls of the WildDuck API by result: success or the failure reason.',
      labelNames: ['result'],
      registers,
    });
    for (const result of ['success', ...CRAWL_FAILURES]) this.crawlsTotal.inc({ result }, 0);
    this.crawlRequests = new Counter({ name: 'wildduck_crawl_requests_total', help: 'HTTP requests made by background crawls of the WildDuck API, retries included.', registers });
    this.crawlRetries = new Counter({ name: 'wildduck_crawl_retries_total', help: 'Crawl requests to the WildDuck API retried after a network error, timeout, 5xx or 429.', registers });
  }

  async start(): Promise<void> {
    const token = readToken(this.settings.tokenFile);
    const { url, timeoutMs, retries } = this.settings;
    this.healthClient = new WildDuckClient({ url, token, timeoutMs, retries: 0 });
    // Its own pool, so a long crawl never queues the scrape-time /health behind it.
    this.crawlClient = new WildDuckClient({
      url,
      token,
      timeoutMs,
      retries,
      onRequest: () => this.crawlRequests.inc(),
      onRetry: (err) => {
        this.crawlRetries.inc();
        this.log.debug('retrying', { reason: err.reason, err: err.message });
      },
    });
    this.log.info('watching WildDuck', {
      url: redactApiUrl(url),
      token: token ? 'from file' : 'none',
      crawl_interval_ms: this.settings.crawlIntervalMs,
    });
    this.schedule(0);
  }

  async scrape(ctx: ScrapeContext): Promise<boolean> {
    const failed = await this.runner.run(ctx);
    return failed.length === 0;
  }

  /** Resolves (to whether the last crawl succeeded) once `count` crawls have finished since start. */
  whenCrawled(count: number): Promise<boolean> {
    if (this.crawlsFinished >= count) return Promise.resolve(Boolean(this.lastCrawlOk));
    return new Promise((resolve) => this.crawlWaiters.push({ count, resolve }));
  }

  /** Starts a crawl now (or joins the running one); resolves to whether it succeeded. */
  crawlNow(): Promise<boolean> {
    if (this.crawling) return this.crawling;
    clearTimeout(this.timer);
    this.crawling = this.runCrawl().finally(() => {
      this.crawling = undefined;
      this.schedule(this.settings.crawlIntervalMs);
    });
    return this.crawling;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.crawlAbort?.abort();
    await this.crawling;
    await Promise.all([this.healthClient?.close(), this.crawlClient?.close()]);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.crawlNow(), delayMs);
    this.timer.unref();
  }

  private async runCrawl(): Promise<boolean> {
    const client = this.crawlClient;
    if (!client) return false;
    this.crawlAbort = new AbortController();
    const signal = AbortSignal.any([this.crawlAbort.signal, AbortSignal.timeout(this.settings.crawlTimeoutMs)]);
    const started = performance.now();
    let result: string;
    try {
      const crawled = await crawl(client, this.settings, signal, (pages, total) => {
        if (pages % 100 === 0) this.log.debug('crawling users', { pages, total });
      });
      this.lastCrawl = crawled;
      this.lastSuccessSeconds = Date.now() / 1000;
      result = 'success';
      this.log.info('crawl finished', { users: crawled.users.users, pages: crawled.pages, seconds: ((performance.now() - started) / 1000).toFixed(1) });
    } catch (err) {
      const reason: FailureReason = err instanceof WildDuckApiError ? err.reason : 'bad_response';
      result = reason;
      const message = signal.aborted && !this.stopped ? `took longer than --wildduck.crawl-timeout (${(err as Error).message})` : (err as Error).message;
      const level = reason === 'token_rejected' || reason === 'missing_privileges' ? 'error' : 'warn';
      if (!this.stopped) this.log[level]('crawl failed, keeping the totals of the last successful crawl', { reason, err: message });
    } finally {
      this.crawlAbort = undefined;
    }
    this.lastCrawlOk = result === 'success';
    this.lastCrawlSeconds = (performance.now() - started) / 1000;
    this.crawlsTotal.inc({ result });
    this.crawlsFinished++;
    const ok = this.lastCrawlOk;
    this.crawlWaiters = this.crawlWaiters.filter((w) => (w.count <= this.crawlsFinished ? (w.resolve(ok), false) : true));
    return ok;
  }

  private async collectHealth({ signal }: ScrapeContext): Promise<void> {
    const client = this.healthClient;
    if (!client) throw new Error('not started');
    const seq = ++this.healthSeq;
    // Pessimistic until the answer comes: if the scrape deadline passes first, this is what it shows.
    this.health = { ok: false, reason: 'timeout', version: this.health.version };
    const started = performance.now();
    let result: HealthResult;
    let message = '';
    try {
      const { status, body } = await client.get('/health', signal);
      if (status === 401 || status === 403) {
        const err = errorForStatus('/health', status, body);
        result = { ok: false, reason: err.reason };
        message = err.message;
      } else {
        result = parseHealth(status, body);
      }
    } catch (err) {
      result = { ok: false, reason: err instanceof WildDuckApiError ? err.reason : 'unreachable' };
      message = (err as Error).message;
    }
    if (seq !== this.healthSeq) return; // a newer scrape has started: this answer is stale
    this.health = result;
    this.healthSeconds = (performance.now() - started) / 1000;
    if (!result.ok) throw new Error(message || `/health: ${result.reason}`);
  }
}
