/**
 * `tinomail-monitor redis`: Redis INFO plus the mail system inside it (WildDuck's IMAP connection
 * counts, login lockouts and rate-limit counters). See docs/redis.md.
 */
import Redis from 'ioredis';
import type { Exporter, ExporterContext, ExporterDefinition, ScrapeContext } from '../kit/exporter';
import { CollectorRunner, type Collector } from '../kit/collectors';
import { FlagError, positiveFlag, type FlagSpec } from '../kit/flags';
import { redactUrl, type Logger } from '../kit/log';
import { InfoMetrics, parseInfo } from './info';
import { KeyScanner, MailKeyMetrics, sumImapConnections, type PassResult } from './mail-keys';

const FLAGS: FlagSpec[] = [
  { name: 'redis.uri', type: 'string', default: 'redis://127.0.0.1:6379/3', secret: true, help: 'Redis to watch (redis:// or rediss://, with password if any); the path selects WildDuck\'s database (3 by default).' },
  { name: 'redis.mail-keys', type: 'bool', default: 'true', help: 'Read WildDuck\'s keys: lim:imap at every scrape, and a SCAN for auth_user:*, rl:rcpt, rl:rcptIp, wdr, wdf counters.' },
  { name: 'redis.scan-interval', type: 'duration', default: '1m', help: 'Time between two SCAN passes over the WildDuck database; results are cached in between.' },
  { name: 'redis.scan-count', type: 'int', default: '500', help: 'SCAN COUNT per call: how much work Redis does per call (keep small so other clients wait at most a fraction of a millisecond).' },
  { name: 'redis.scan-pause', type: 'duration', default: '1ms', help: 'Pause between two SCAN calls, so the scan leaves Redis idle time for the mail system (0ms: none).' },
  { name: 'redis.scan-time-budget', type: 'duration', default: '10s', help: 'A SCAN pass stops after this long; the next pass continues where it stopped.' },
  { name: 'redis.scan-key-budget', type: 'int', default: '2000000', help: 'A SCAN pass stops after examining this many keys; the next pass continues where it stopped.' },
  { name: 'redis.auth-lockout-failures', type: 'int', default: '12', help: 'Failed password logins at which WildDuck locks a user out (consts.USER_AUTH_FAILURES).' },
  { name: 'redis.recipient-limit', type: 'int', default: '2000', help: "Daily recipient limit of an account (WildDuck's const:max:recipients, 2000 by default, or zonemta-wildduck's maxRecipients): each wdr counter is compared with it." },
  { name: 'redis.totp-lockout-failures', type: 'int', default: '6', help: 'Failed TOTP codes at which WildDuck locks a user out (consts.TOTP_FAILURES).' },
];

const positive = (ctx: ExporterContext, name: string): number => positiveFlag(ctx.flags, name);

class RedisExporter implements Exporter {
  private readonly log: Logger;
  private readonly client: Redis;
  private readonly runner: CollectorRunner;
  private readonly scanner: KeyScanner;
  private readonly mailKeys: MailKeyMetrics;
  private readonly mailKeysEnabled: boolean;
  private readonly scanIntervalMs: number;
  private scanTimer: NodeJS.Timeout | undefined;
  private scanRunning: Promise<void> | undefined;
  private lastPass: PassResult | undefined;
  private stopping = false;
  private connectionFailed = false;
  /** Where Redis is, password masked, for messages. */
  private readonly where: string;
  /** The socket's last error (ECONNREFUSED ...), to say why commands fail while disconnected. */
  private lastConnectionError = '';

  constructor(ctx: ExporterContext) {
    const uri = ctx.flags['redis.uri'] as string;
    this.where = redactUrl(uri);
    this.log = ctx.log.child({ redis: this.where });
    this.mailKeysEnabled = ctx.flags['redis.mail-keys'] as boolean;
    this.scanIntervalMs = positive(ctx, 'redis.scan-interval');
    const scanOptions = {
      count: positive(ctx, 'redis.scan-count'),
      pauseMs: ctx.flags['redis.scan-pause'] as number,
      timeBudgetMs: positive(ctx, 'redis.scan-time-budget'),
      keyBudget: positive(ctx, 'redis.scan-key-budget'),
      lockoutFailures: { password: positive(ctx, 'redis.auth-lockout-failures'), totp: positive(ctx, 'redis.totp-lockout-failures') },
      recipientLimit: positive(ctx, 'redis.recipient-limit'),
    };
    if (!/^rediss?:\/\//.test(uri)) throw new FlagError('--redis.uri must start with redis:// or rediss://');

    this.client = new Redis(uri, {
      lazyConnect: true,
      // Fail commands at once while disconnected: a down Redis is `redis_up 0` now, not a queued scrape.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
      // ioredis waits this long for a socket that is already gone before it lets the process exit.
      disconnectTimeout: 100,
      commandTimeout: 5000,
      retryStrategy: (times) => Math.min(times * 200, 2000),
    });
    this.client.on('error', (err: Error) => {
      this.lastConnectionError = err.message;
      if (!this.connectionFailed) this.log.warn(`Redis is unreachable at ${this.where}; retrying`, { err: err.message });
      this.connectionFailed = true;
    });
    this.client.on('ready', () => {
      if (this.connectionFailed) this.log.info('redis connection restored');
      this.connectionFailed = false;
      this.scanner.restartCycle();
      // Do not wait a whole scan interval to show mail keys again after an outage.
      if (this.lastPass === 'error') this.scheduleScan(0);
    });

    const info = new InfoMetrics(ctx.registry);
    this.mailKeys = new MailKeyMetrics(ctx.registry);
    this.mailKeys.recipientLimit.set(scanOptions.recipientLimit);
    this.scanner = new KeyScanner(this.client, scanOptions);

    const collectors: Collector[] = [
      {
        name: 'info',
        collect: async () => {
          try {
            info.fill(parseInfo(await this.client.info()));
          } catch (err) {
            info.clear();
            throw this.explain(err);
          }
        },
      },
    ];
    if (this.mailKeysEnabled) {
      collectors.push(
        {
          name: 'imap_connections',
          collect: async () => {
            try {
              this.mailKeys.setImap(sumImapConnections(await this.client.hgetall('lim:imap')));
            } catch (err) {
              this.mailKeys.clearImap();
              throw this.explain(err);
            }
          },
        },
        {
          name: 'mail_keys',
          collect: async () => {
            this.mailKeys.publish(this.scanner.published);
            if (this.lastPass === 'error' && this.scanner.lastError) throw this.explain(this.scanner.lastError);
          },
        },
      );
    }
    this.runner = new CollectorRunner('redis', ctx.registry, collectors, this.log);
  }

  async start(): Promise<void> {
    // A Redis that is down now is not a configuration error: ioredis keeps retrying in the background.
    await this.client.connect().catch(() => undefined);
    if (this.mailKeysEnabled) this.scheduleScan(0);
  }

  async scrape(ctx: ScrapeContext): Promise<boolean> {
    const failed = await this.runner.run(ctx);
    return !failed.includes('info');
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.scanTimer);
    await this.scanRunning;
    this.client.disconnect();
  }

  /** ioredis' words for "not connected" become where Redis is and why it cannot be reached. */
  private explain(err: unknown): Error {
    return new Error(describeRedisError(err, this.where, this.lastConnectionError));
  }

  private scheduleScan(delayMs: number): void {
    if (this.stopping || this.scanRunning) return;
    clearTimeout(this.scanTimer);
    this.scanTimer = setTimeout(() => {
      this.scanRunning = this.runScanPass().finally(() => {
        this.scanRunning = undefined;
        this.scheduleScan(this.scanIntervalMs);
      });
    }, delayMs);
    this.scanTimer.unref();
  }

  private async runScanPass(): Promise<void> {
    const result = await this.scanner.pass(() => this.stopping);
    if (result === 'error' && this.lastPass !== 'error') {
      this.log.warn('mail key scan failed', { err: this.scanner.lastError && this.explain(this.scanner.lastError).message });
    }
    this.lastPass = result;
    this.mailKeys.passes.inc({ result });
  }
}

// What ioredis says when a command meets no connection (enableOfflineQueue false, closed, retries used up).
const NOT_CONNECTED = /Stream isn't writeable|enableOfflineQueue|Connection is closed|max retries per request|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN/;

/**
 * A Redis error as an operator reads it: "Redis is unreachable at <uri with password masked>" with the socket's
 * own reason, instead of ioredis internals; other errors (a command Redis refused) keep their message.
 */
export function describeRedisError(err: unknown, where: string, connectionError = ''): string {
  const message = err instanceof Error ? err.message : String(err);
  if (!NOT_CONNECTED.test(message)) return message;
  const cause = connectionError || (/^(connect )?E[A-Z]+/.test(message) ? message : '');
  return `Redis is unreachable at ${where}${cause ? ` (${cause})` : ''}`;
}

export const definition: ExporterDefinition = {
  name: 'redis',
  description: 'Redis INFO and the WildDuck mail keys in it: IMAP connections, login lockouts, rate-limit counters',
  defaultPort: 9744,
  target: (f) => String(f['redis.uri']),
  flags: FLAGS,
  create: (ctx) => new RedisExporter(ctx),
};
