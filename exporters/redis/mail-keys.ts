/**
 * WildDuck's own keys in its Redis database (db 3 by default; WildDuck, haraka-plugin-wildduck and
 * zonemta-wildduck share it):
 *
 * - `lim:imap`: a hash, one field per user id with that user's open IMAP connections, plus `_version`
 *   (lib/lua/limitedcounter.lua). Small, read whole at every scrape.
 * - `auth_user:<user id or unknown name>` and `auth_user:totp:<user id>`: failed-login counters
 *   (lib/user-handler.js rateLimitUser, lua/ttlcounter.lua); a value at the limit (12 password failures,
 *   6 TOTP failures, in WildDuck's consts.js) locks the user out until the key expires.
 * - Rate-limit counters, strings with a TTL: `rl:rcpt:<user id>` and `rl:rcptIp:<ip>:<user id>`
 *   (haraka-plugin-wildduck, messages received), `wdr:<user id>` (recipients sent per day, WildDuck API and
 *   zonemta-wildduck), `wdf:<address id>` (forwards per day).
 *
 * `wdr:<user id>` is zonemta-wildduck's and the WildDuck API's ttlcounter (lib/lua/ttlcounter.lua: INCRBY by
 * the message's recipients, EXPIRE 86400 when the key is new): recipients the account sent in a 24-hour window
 * that starts with its first message. The limit is not in Redis: zonemta-wildduck takes the user's own
 * `recipients` (MongoDB users), else its config `maxRecipients`, else the setting `const:max:recipients`
 * (WildDuck's default 2000). The scan reads every wdr value and compares it with --redis.recipient-limit.
 *
 * The counters are found with SCAN, which walks the whole database. A scan pass stops at its time or key
 * budget and the next pass (one per scan interval) continues from the cursor; counts are published when a
 * cycle over the whole keyspace completes, and cached until the next one. Key names never become labels.
 */
import type Redis from 'ioredis';
import { Counter, Gauge, type Registry } from 'prom-client';

export type KeyFamily = 'rl:rcpt' | 'rl:rcptIp' | 'wdr' | 'wdf';
export type AuthKind = 'password' | 'totp';
export const KEY_FAMILIES: readonly KeyFamily[] = ['rl:rcpt', 'rl:rcptIp', 'wdr', 'wdf'];
export const AUTH_KINDS: readonly AuthKind[] = ['password', 'totp'];

/** What a key name is, by WildDuck's prefixes; undefined for every other key. */
export function classifyKey(key: string): { family: KeyFamily } | { auth: AuthKind } | undefined {
  if (key.startsWith('auth_user:')) return { auth: key.startsWith('auth_user:totp:') ? 'totp' : 'password' };
  if (key.startsWith('rl:rcpt:')) return { family: 'rl:rcpt' };
  if (key.startsWith('rl:rcptIp:')) return { family: 'rl:rcptIp' };
  if (key.startsWith('wdr:')) return { family: 'wdr' };
  if (key.startsWith('wdf:')) return { family: 'wdf' };
  return undefined;
}

export interface ImapConnections {
  connections: number;
  users: number;
  maxPerUser: number;
}

/** Sums the `lim:imap` hash (HGETALL reply); `_version` is the limiter's bookkeeping, not a user. */
export function sumImapConnections(hash: Record<string, string>): ImapConnections {
  const out: ImapConnections = { connections: 0, users: 0, maxPerUser: 0 };
  for (const [field, raw] of Object.entries(hash)) {
    const n = Number(raw);
    if (field === '_version' || !Number.isFinite(n) || n <= 0) continue;
    out.connections += n;
    out.users += 1;
    out.maxPerUser = Math.max(out.maxPerUser, n);
  }
  return out;
}

/** WildDuck's consts.MAX_RECIPIENTS: the daily recipient limit when nothing else sets one. */
export const WILDDUCK_MAX_RECIPIENTS = 2000;

/** Upper bounds of the recipient usage buckets (fraction of the daily limit). */
export const USAGE_BUCKETS: readonly number[] = [0.1, 0.25, 0.5, 0.8, 0.9, 1];
/** "At or above" thresholds of the near-limit counts. */
export const USAGE_THRESHOLDS: readonly number[] = [0.5, 0.8, 1];

export interface RecipientUsage {
  /** Accounts with a live wdr counter. */
  accounts: number;
  /** Non-cumulative counts per USAGE_BUCKETS bound, plus one for above the last bound. */
  buckets: number[];
  /** Accounts at or above each USAGE_THRESHOLDS fraction. */
  atOrAbove: number[];
  /** Highest fraction of the limit (above 1 is possible: a message's recipients are added all at once). */
  max: number;
}

export function emptyUsage(): RecipientUsage {
  return { accounts: 0, buckets: Array(USAGE_BUCKETS.length + 1).fill(0), atOrAbove: USAGE_THRESHOLDS.map(() => 0), max: 0 };
}

/** Adds one wdr counter value (recipients sent in the window) against the daily limit. */
export function addUsage(usage: RecipientUsage, sent: number, limit: number): void {
  const ratio = sent / limit;
  usage.accounts += 1;
  const bucket = USAGE_BUCKETS.findIndex((le) => ratio <= le);
  usage.buckets[bucket < 0 ? USAGE_BUCKETS.length : bucket] += 1;
  USAGE_THRESHOLDS.forEach((t, i) => {
    if (ratio >= t) usage.atOrAbove[i] += 1;
  });
  usage.max = Math.max(usage.max, ratio);
}

export interface ScanTally {
  counters: Record<KeyFamily, number>;
  recipients: RecipientUsage;
  authFailing: Record<AuthKind, number>;
  authLocked: Record<AuthKind, number>;
  keysExamined: number;
  scanSeconds: number;
  passes: number;
}

function emptyTally(): ScanTally {
  return {
    counters: { 'rl:rcpt': 0, 'rl:rcptIp': 0, wdr: 0, wdf: 0 },
    recipients: emptyUsage(),
    authFailing: { password: 0, totp: 0 },
    authLocked: { password: 0, totp: 0 },
    keysExamined: 0,
    scanSeconds: 0,
    passes: 0,
  };
}

export interface ScanOptions {
  /** SCAN COUNT hint: keys Redis looks at per call (each call blocks Redis for about that much work). */
  count: number;
  /** Pause between two SCAN calls, in ms: Redis and the host's CPUs get idle time for everyone else. */
  pauseMs: number;
  /** A pass stops after this long, in ms. */
  timeBudgetMs: number;
  /** A pass stops after examining this many keys. */
  keyBudget: number;
  /** Failure counts at which WildDuck locks a user out. */
  lockoutFailures: Record<AuthKind, number>;
  /** Daily recipient limit each wdr counter is compared with; WildDuck's MAX_RECIPIENTS when not given. */
  recipientLimit?: number;
}

export type PassResult = 'complete' | 'budget' | 'error';

/** Resumable SCAN over one database; `published` holds the last complete cycle. */
export class KeyScanner {
  private cursor = '0';
  private tally = emptyTally();
  published: (ScanTally & { completedAt: number }) | undefined;
  lastError: Error | undefined;

  constructor(
    private readonly client: Redis,
    private readonly opts: ScanOptions,
  ) {}

  /** One pass within the budgets. `shouldStop` lets the exporter end a pass early at shutdown. */
  async pass(shouldStop: () => boolean = () => false): Promise<PassResult> {
    const started = performance.now();
    let examined = 0;
    try {
      for (;;) {
        const [next, keys] = await this.client.scan(this.cursor, 'COUNT', this.opts.count);
        examined += keys.length;
        await this.count(keys);
        this.cursor = next;
        if (next === '0') {
          this.finishCycle(started, examined);
          return 'complete';
        }
        if (examined >= this.opts.keyBudget || performance.now() - started >= this.opts.timeBudgetMs || shouldStop()) {
          this.addPass(started, examined);
          return 'budget';
        }
        if (this.opts.pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, this.opts.pauseMs));
      }
    } catch (err) {
      // Connection lost: show nothing stale, and start over.
      this.restartCycle();
      this.published = undefined;
      this.lastError = err as Error;
      return 'error';
    }
  }

  /** Drops the cycle in progress: after a reconnection the cursor may belong to another (restarted) server. */
  restartCycle(): void {
    this.cursor = '0';
    this.tally = emptyTally();
  }

  private async count(keys: string[]): Promise<void> {
    const authKeys: Array<{ key: string; kind: AuthKind }> = [];
    const sentKeys: string[] = [];
    for (const key of keys) {
      const kind = classifyKey(key);
      if (!kind) continue;
      if ('family' in kind) {
        this.tally.counters[kind.family] += 1;
        if (kind.family === 'wdr') sentKeys.push(key);
      } else authKeys.push({ key, kind: kind.auth });
    }
    if (authKeys.length === 0 && sentKeys.length === 0) return;
    // One MGET for both: the values of this SCAN batch only, so a reply stays small.
    const values = await this.client.mget([...authKeys.map((a) => a.key), ...sentKeys]);
    // A key may have expired between SCAN and MGET (null): it no longer counts.
    const number = (v: string | null) => (v === null ? NaN : Number(v));
    authKeys.forEach(({ kind }, i) => {
      const failures = number(values[i]);
      if (!Number.isFinite(failures)) return;
      this.tally.authFailing[kind] += 1;
      if (failures >= this.opts.lockoutFailures[kind]) this.tally.authLocked[kind] += 1;
    });
    sentKeys.forEach((_, i) => {
      const sent = number(values[authKeys.length + i]);
      if (Number.isFinite(sent) && sent >= 0) addUsage(this.tally.recipients, sent, this.opts.recipientLimit ?? WILDDUCK_MAX_RECIPIENTS);
    });
  }

  private addPass(started: number, examined: number): void {
    this.tally.keysExamined += examined;
    this.tally.scanSeconds += (performance.now() - started) / 1000;
    this.tally.passes += 1;
  }

  private finishCycle(started: number, examined: number): void {
    this.addPass(started, examined);
    this.published = { ...this.tally, completedAt: Date.now() };
    this.tally = emptyTally();
    this.lastError = undefined;
  }
}

const CACHED = 'Cached: counted by the last complete SCAN cycle (see redis_mail_keys_scan_last_complete_timestamp_seconds).';

/** The metrics fed by the scanner and by `lim:imap`. */
export class MailKeyMetrics {
  readonly imapConnections: Gauge;
  readonly imapUsers: Gauge;
  readonly imapMaxPerUser: Gauge;
  private readonly counters: Gauge<'family'>;
  private readonly authFailing: Gauge<'kind'>;
  private readonly authLocked: Gauge<'kind'>;
  private readonly usageBuckets: Gauge<'le'>;
  private readonly nearLimit: Gauge<'threshold'>;
  private readonly usageMax: Gauge;
  private readonly usageAccounts: Gauge;
  readonly recipientLimit: Gauge;
  private readonly lastComplete: Gauge;
  private readonly keysExamined: Gauge;
  private readonly cycleSeconds: Gauge;
  private readonly cyclePasses: Gauge;
  readonly passes: Counter<'result'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.imapConnections = new Gauge({ name: 'redis_wildduck_imap_connections', help: 'Open IMAP connections of all WildDuck users (sum of the lim:imap hash), read at scrape time.', registers });
    this.imapUsers = new Gauge({ name: 'redis_wildduck_imap_connected_users', help: 'WildDuck users with at least one open IMAP connection (fields of lim:imap), read at scrape time.', registers });
    this.imapMaxPerUser = new Gauge({ name: 'redis_wildduck_imap_connections_per_user_max', help: 'Most IMAP connections held by one user (WildDuck refuses above imapMaxConnections, 15 by default), read at scrape time.', registers });
    this.counters = new Gauge({ name: 'redis_wildduck_rate_limit_counters', help: `Live WildDuck rate-limit counters by key family (rl:rcpt, rl:rcptIp, wdr, wdf). ${CACHED}`, labelNames: ['family'], registers });
    this.authFailing = new Gauge({ name: 'redis_wildduck_auth_failure_counters', help: `Users with recent failed logins (auth_user:* keys) by kind (password, totp). ${CACHED}`, labelNames: ['kind'], registers });
    this.authLocked = new Gauge({ name: 'redis_wildduck_auth_lockouts', help: `Users locked out after too many failed logins (auth_user:* at the limit) by kind. ${CACHED}`, labelNames: ['kind'], registers });
    this.usageBuckets = new Gauge({ name: 'redis_wildduck_recipient_usage_accounts', help: `Accounts whose recipients sent in their 24 h window (wdr counter) are at most \`le\` of the daily recipient limit: cumulative buckets of a snapshot (a gauge histogram; no rate()). ${CACHED}`, labelNames: ['le'], registers });
    this.nearLimit = new Gauge({ name: 'redis_wildduck_accounts_near_recipient_limit', help: `Accounts at or above \`threshold\` (0.5, 0.8, 1) of the daily recipient limit; at 1 zonemta-wildduck refuses their mail. ${CACHED}`, labelNames: ['threshold'], registers });
    this.usageMax = new Gauge({ name: 'redis_wildduck_recipient_usage_ratio_max', help: `Highest fraction of the daily recipient limit any account has used (can pass 1: a message's recipients count at once). ${CACHED}`, registers });
    this.usageAccounts = new Gauge({ name: 'redis_wildduck_sending_accounts', help: `Accounts with a live daily recipient counter (sent mail in the last 24 h). ${CACHED}`, registers });
    this.recipientLimit = new Gauge({ name: 'redis_wildduck_recipient_limit', help: 'Daily recipient limit the wdr counters are compared with (--redis.recipient-limit).', registers });
    this.lastComplete = new Gauge({ name: 'redis_mail_keys_scan_last_complete_timestamp_seconds', help: 'Unix time the last complete SCAN cycle over the WildDuck database finished.', registers });
    this.keysExamined = new Gauge({ name: 'redis_mail_keys_scan_keys', help: 'Keys examined by the last complete SCAN cycle.', registers });
    this.cycleSeconds = new Gauge({ name: 'redis_mail_keys_scan_duration_seconds', help: 'Time spent scanning in the last complete SCAN cycle (all its passes), in seconds.', registers });
    this.cyclePasses = new Gauge({ name: 'redis_mail_keys_scan_passes', help: 'Passes the last complete SCAN cycle needed (more than 1: the keyspace exceeds one pass budget).', registers });
    this.passes = new Counter({ name: 'redis_mail_keys_scan_passes_total', help: 'SCAN passes by result: complete (cycle finished), budget (stopped at its budget, continues next pass), error.', labelNames: ['result'], registers });
    for (const result of ['complete', 'budget', 'error']) this.passes.inc({ result }, 0);
    this.publish(undefined);
    this.clearImap();
  }

  clearImap(): void {
    for (const g of [this.imapConnections, this.imapUsers, this.imapMaxPerUser]) g.remove();
  }

  setImap(c: ImapConnections): void {
    this.imapConnections.set(c.connections);
    this.imapUsers.set(c.users);
    this.imapMaxPerUser.set(c.maxPerUser);
  }

  /** Shows the last complete cycle, or nothing when there is none (just started, or Redis went away). */
  publish(tally: KeyScanner['published']): void {
    for (const g of [this.counters, this.authFailing, this.authLocked, this.usageBuckets, this.nearLimit]) g.reset();
    for (const g of [this.lastComplete, this.keysExamined, this.cycleSeconds, this.cyclePasses, this.usageMax, this.usageAccounts]) g.remove();
    if (!tally) return;
    const usage = tally.recipients;
    let cumulative = 0;
    USAGE_BUCKETS.forEach((le, i) => {
      cumulative += usage.buckets[i];
      this.usageBuckets.set({ le: String(le) }, cumulative);
    });
    this.usageBuckets.set({ le: '+Inf' }, usage.accounts);
    USAGE_THRESHOLDS.forEach((threshold, i) => this.nearLimit.set({ threshold: String(threshold) }, usage.atOrAbove[i]));
    this.usageMax.set(usage.max);
    this.usageAccounts.set(usage.accounts);
    for (const family of KEY_FAMILIES) this.counters.set({ family }, tally.counters[family]);
    for (const kind of AUTH_KINDS) {
      this.authFailing.set({ kind }, tally.authFailing[kind]);
      this.authLocked.set({ kind }, tally.authLocked[kind]);
    }
    this.lastComplete.set(tally.completedAt / 1000);
    this.keysExamined.set(tally.keysExamined);
    this.cycleSeconds.set(tally.scanSeconds);
    this.cyclePasses.set(tally.passes);
  }
}
