/**
 * One crawl: the totals of addresses, domain aliases and webhooks (the `total` of a one-item page), then
 * every page of `GET /users` following nextCursor, each folded into a UserAggregator as it arrives.
 * Throws on the first page that fails (after the client's retries): a crawl yields whole totals or none.
 *
 * Paging must end: a nextCursor already asked for (A -> B -> A) fails the crawl as cursor_loop, and the pages
 * are bounded by the largest `total` seen (page_limit), so a broken API cannot keep a crawl busy for its timeout.
 */
import { type UserTotals, UserAggregator } from './aggregate';
import { type WildDuckClient, WildDuckApiError } from './client';

/** WildDuck answers 400 InputValidationError above this `limit` (lib/api/users.js). */
export const MAX_PAGE_SIZE = 250;

export interface CrawlOptions {
  pageSize: number;
  topDomains: number;
  maxTrackedDomains: number;
}

/** The listing totals read besides /users; undefined when the answer's total was not a count. */
export const COUNTED_LISTINGS = ['addresses', 'domainaliases', 'webhooks'] as const;
export type CountedListing = (typeof COUNTED_LISTINGS)[number];

export interface CrawlResult {
  users: UserTotals;
  addresses?: number;
  domainAliases?: number;
  webhooks?: number;
  /** Listings whose `total` was malformed (left out of the gauges). */
  malformedTotals: CountedListing[];
  /** Pages of /users read. */
  pages: number;
}

/**
 * The most /users pages a crawl may read when the largest `total` seen is `total`: every page but the last is
 * full, plus slack for users created or deleted while the crawl runs (10%, at least 2 pages).
 */
export function maxPages(total: number, pageSize: number): number {
  const needed = Math.ceil(total / pageSize);
  return needed + Math.max(2, Math.ceil(needed / 10));
}

/** `onPage` hears of each /users page folded in (progress logs; the benchmark reads memory there). */
export async function crawl(
  client: WildDuckClient,
  opts: CrawlOptions,
  signal: AbortSignal,
  onPage?: (pages: number, users: number) => void,
): Promise<CrawlResult> {
  const malformedTotals: CountedListing[] = [];
  const totalOf = async (listing: CountedListing) => {
    const total = (await client.getListing(`/${listing}?limit=1`, signal)).total;
    if (total === undefined) malformedTotals.push(listing);
    return total;
  };
  // Cheap counts first: a token without the role to list users fails here before a long crawl.
  const addresses = await totalOf('addresses');
  const domainAliases = await totalOf('domainaliases');
  const webhooks = await totalOf('webhooks');

  const aggregator = new UserAggregator(opts.topDomains, opts.maxTrackedDomains);
  const seen = new Set<string>();
  let cursor: string | false = false;
  let pages = 0;
  let largestTotal = 0;
  do {
    const query: string = `/users?limit=${opts.pageSize}${cursor ? `&next=${encodeURIComponent(cursor)}` : ''}`;
    const page = await client.getListing(query, signal);
    pages++;
    if (page.total === undefined) throw new WildDuckApiError(`/users: page ${pages} has a total that is not a count`, 'bad_response', false);
    largestTotal = Math.max(largestTotal, page.total);
    for (const user of page.results) aggregator.add(user);
    onPage?.(pages, page.total);
    const next = page.nextCursor;
    if (next === false) break;
    if (page.results.length === 0) throw new WildDuckApiError(`/users: page ${pages} is empty yet has a nextCursor`, 'bad_response', false);
    if (next === cursor || seen.has(next)) {
      throw new WildDuckApiError(`/users: page ${pages} gave a nextCursor already asked for (the API pages in a loop)`, 'cursor_loop', false);
    }
    if (pages >= maxPages(largestTotal, opts.pageSize)) {
      throw new WildDuckApiError(`/users: ${pages} pages read and more promised, but a total of ${largestTotal} users needs ${Math.ceil(largestTotal / opts.pageSize)}`, 'page_limit', false);
    }
    if (cursor) seen.add(cursor);
    cursor = next;
  } while (cursor);

  return { users: aggregator.result(), addresses, domainAliases, webhooks, malformedTotals, pages };
}
