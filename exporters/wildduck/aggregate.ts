/**
 * Pure aggregation of WildDuck API answers: no I/O here, so every rule is tested on literal input.
 *
 * Users are folded into counters one at a time as pages arrive (streaming): memory depends on the number of
 * distinct domains tracked (bounded), never on the number of users.
 */
import { OTHER } from '../kit/labels';

/** Fractions of the quota for `wildduck_users_quota_use_at_least{ratio}`; as [label, numerator, denominator]. */
export const QUOTA_THRESHOLDS: ReadonlyArray<readonly [string, number, number]> = [
  ['0.8', 4, 5],
  ['0.9', 9, 10],
  ['1', 1, 1],
];

/** Label for users that have no main address (created with emptyAddress). */
export const NO_DOMAIN = 'none';

/** What a crawl of users yields: only counts and sums, never a name. */
export interface UserTotals {
  users: number;
  disabled: number;
  suspended: number;
  notActivated: number;
  twoFactor: number;
  autoreply: number;
  storageUsedBytes: number;
  quotaAllowedBytes: number;
  /** Users at or above each QUOTA_THRESHOLDS ratio, keyed by its label. */
  quotaUseAtLeast: Record<string, number>;
  /** Top domains by users, then OTHER (and NO_DOMAIN when present). */
  domains: Array<{ domain: string; users: number; storageUsedBytes: number }>;
  /** Records that were not user objects (counted and dropped). */
  malformed: number;
  /** Quota values that were not byte counts (counted, and left out of the sums and ratios). */
  malformedQuotas: number;
}

interface DomainTally {
  users: number;
  storageUsedBytes: number;
}

// Domains as WildDuck stores them: lower case, ASCII or Unicode (it normalises to Unicode), dots and dashes.
const LABEL = '[\\p{Ll}\\p{Lo}\\p{M}\\p{N}](?:[\\p{Ll}\\p{Lo}\\p{M}\\p{N}-]*[\\p{Ll}\\p{Lo}\\p{M}\\p{N}])?';
const DOMAIN_PATTERN = new RegExp(`^${LABEL}(?:\\.${LABEL})+$`, 'u');

/** The domain of a user's main address as a label value: NO_DOMAIN when absent, OTHER when it does not look like one. */
export function domainOf(address: unknown): string {
  if (typeof address !== 'string' || address === '') return NO_DOMAIN;
  const at = address.lastIndexOf('@');
  if (at < 0) return OTHER;
  const domain = address.slice(at + 1).toLowerCase();
  return domain.length <= 253 && DOMAIN_PATTERN.test(domain) ? domain : OTHER;
}

/**
 * A count or a byte size as WildDuck answers it: a finite, non-negative integer below 2^53. Anything else
 * (1e308, -3, 1.5, '12', missing) is malformed and must not reach a gauge.
 */
export function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Folds `/users` results into totals. Exact per-domain counts are kept for the first `maxTrackedDomains`
 * distinct domains seen (users are listed in creation order); users of later domains count as OTHER, so
 * memory stays bounded even when every user has a domain of its own.
 */
export class UserAggregator {
  private readonly totals: Omit<UserTotals, 'domains'>;
  private readonly byDomain = new Map<string, DomainTally>();
  private readonly untracked: DomainTally = { users: 0, storageUsedBytes: 0 };

  constructor(
    private readonly topDomains: number,
    private readonly maxTrackedDomains: number,
  ) {
    this.totals = {
      users: 0,
      disabled: 0,
      suspended: 0,
      notActivated: 0,
      twoFactor: 0,
      autoreply: 0,
      storageUsedBytes: 0,
      quotaAllowedBytes: 0,
      quotaUseAtLeast: Object.fromEntries(QUOTA_THRESHOLDS.map(([label]) => [label, 0])),
      malformed: 0,
      malformedQuotas: 0,
    };
  }

  /** Adds one entry of a `/users` page (the shape lib/api/users.js answers). */
  add(user: unknown): void {
    const t = this.totals;
    if (typeof user !== 'object' || user === null || Array.isArray(user)) {
      t.malformed++;
      return;
    }
    const u = user as Record<string, unknown>;
    const quota = (typeof u.quota === 'object' && u.quota !== null ? u.quota : {}) as Record<string, unknown>;
    // A user whose quota is not two byte counts still counts as a user, but not in the storage sums.
    const quotaOk = isCount(quota.used) && isCount(quota.allowed);
    if (!quotaOk) t.malformedQuotas++;
    const used = quotaOk ? (quota.used as number) : 0;
    const allowed = quotaOk ? (quota.allowed as number) : 0;

    t.users++;
    if (u.disabled === true) t.disabled++;
    if (u.suspended === true) t.suspended++;
    if (u.activated === false) t.notActivated++;
    // enabled2fa is a list of methods (['totp', 'webauthn', ...]); older answers had a boolean.
    if (Array.isArray(u.enabled2fa) ? u.enabled2fa.length > 0 : u.enabled2fa === true) t.twoFactor++;
    if (u.autoreply === true) t.autoreply++;
    t.storageUsedBytes += used;
    t.quotaAllowedBytes += allowed;
    if (allowed > 0) {
      // Integer comparison: used/allowed >= n/d without rounding at the boundary.
      for (const [label, n, d] of QUOTA_THRESHOLDS) if (used * d >= allowed * n) t.quotaUseAtLeast[label]++;
    }

    const domain = domainOf(u.address);
    let tally = this.byDomain.get(domain);
    if (!tally) {
      if (domain === OTHER || this.byDomain.size >= this.maxTrackedDomains) {
        tally = this.untracked;
      } else {
        tally = { users: 0, storageUsedBytes: 0 };
        this.byDomain.set(domain, tally);
      }
    }
    tally.users++;
    tally.storageUsedBytes += used;
  }

  /** Distinct domains with exact counts so far (at most maxTrackedDomains). */
  get trackedDomains(): number {
    return this.byDomain.size;
  }

  /** The totals: the `topDomains` largest domains by users (ties by name), the rest summed into OTHER. */
  result(): UserTotals {
    const ranked = [...this.byDomain.entries()]
      .filter(([domain]) => domain !== NO_DOMAIN)
      .sort(([a, x], [b, y]) => y.users - x.users || (a < b ? -1 : a > b ? 1 : 0));
    const domains = ranked.slice(0, this.topDomains).map(([domain, d]) => ({ domain, ...d }));
    const other = { ...this.untracked };
    for (const [, d] of ranked.slice(this.topDomains)) {
      other.users += d.users;
      other.storageUsedBytes += d.storageUsedBytes;
    }
    if (other.users > 0) domains.push({ domain: OTHER, ...other });
    const none = this.byDomain.get(NO_DOMAIN);
    if (none) domains.push({ domain: NO_DOMAIN, ...none });
    return { ...this.totals, quotaUseAtLeast: { ...this.totals.quotaUseAtLeast }, domains };
  }
}

/** One page of a WildDuck listing (users, addresses, domainaliases, webhooks all answer this way). */
export interface ListingPage {
  /** undefined when the answer's total is not a count (see isCount). */
  total: number | undefined;
  nextCursor: string | false;
  results: unknown[];
}

/** Checks the envelope of a listing answer; throws a message naming what is wrong. */
export function parseListingPage(body: unknown): ListingPage {
  if (typeof body !== 'object' || body === null) throw new Error('listing answer is not a JSON object');
  const b = body as Record<string, unknown>;
  if (b.success !== true) throw new Error('listing answer has no success:true');
  if (typeof b.total !== 'number') throw new Error('listing answer has no numeric total');
  if (!Array.isArray(b.results)) throw new Error('listing answer has no results array');
  const next = b.nextCursor;
  if (next !== false && (typeof next !== 'string' || next === '')) throw new Error('listing answer has no nextCursor');
  return { total: isCount(b.total) ? b.total : undefined, nextCursor: next, results: b.results };
}

/**
 * Why a request to the API failed (any endpoint): a bounded set, used as label values. A non-2xx answer is
 * http_error whatever its body; bad_response is a 2xx answer that is not what WildDuck sends (or too large).
 */
export const REQUEST_FAILURES = ['token_rejected', 'missing_privileges', 'http_error', 'bad_response', 'timeout', 'unreachable'] as const;
/** Why WildDuck is not healthy or not reachable: what /health reports, then the request failures. */
export const FAILURE_REASONS = ['db_down', 'db_not_writeable', 'redis_down', 'redis_not_writeable', 'unhealthy', ...REQUEST_FAILURES] as const;
/**
 * Why a crawl failed: the request failures, then paging that cannot end: a nextCursor already asked for
 * (cursor_loop), or more pages than the totals allow (page_limit).
 */
export const CRAWL_FAILURES = [...REQUEST_FAILURES, 'cursor_loop', 'page_limit'] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number] | (typeof CRAWL_FAILURES)[number];

// The messages lib/api/health.js answers with its 500.
const HEALTH_MESSAGES: Record<string, FailureReason> = {
  'DB is down': 'db_down',
  'Could not write to DB': 'db_not_writeable',
  'Redis is down': 'redis_down',
  'Redis is not writeable/readable': 'redis_not_writeable',
};

export interface HealthResult {
  ok: boolean;
  reason?: FailureReason;
  version?: string;
}

const VERSION_PATTERN = /^v?\d+\.\d+\.\d+[0-9A-Za-z.+-]{0,24}$/;

/** Reads a `/health` answer (status and parsed body, undefined when not JSON). Token errors are the caller's. */
export function parseHealth(status: number, body: unknown): HealthResult {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const version = typeof b.version === 'string' ? (VERSION_PATTERN.test(b.version) ? b.version : OTHER) : undefined;
  if (status === 200 && b.success === true) return { ok: true, version };
  if (status === 500 && b.success === false) {
    const reason = (typeof b.message === 'string' && HEALTH_MESSAGES[b.message]) || 'unhealthy';
    return { ok: false, reason, version };
  }
  // The same status is the same reason as in the crawl (errorForStatus): http_error for any non-2xx.
  return { ok: false, reason: status >= 200 && status < 300 ? 'bad_response' : 'http_error', version };
}
