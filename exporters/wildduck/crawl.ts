/**
 * One crawl: the totals of addresses, domain aliases and webhooks (the `total` of a one-item page), then
 * every page of `GET /users` following nextCursor, each folded into a UserAggregator as it arrives.
 * Throws on the first page that fails (after the client's retries): a crawl yields whole totals or none.
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

export interface CrawlResult {
  users: UserTotals;
  addresses: number;
  domainAliases: number;
  webhooks: number;
  /** Pages of /users read. */
  pages: number;
}

/** `onPage` hears of each /users page folded in (progress logs; the benchmark reads memory there). */
export async function crawl(
  client: WildDuckClient,
  opts: CrawlOptions,
  signal: AbortSignal,
  onPage?: (pages: number, users: number) => void,
): Promise<CrawlResult> {
  const totalOf = async (path: string) => (await client.getListing(`${path}?limit=1`, signal)).total;
  // Cheap counts first: a token without the role to list users fails here before a long crawl.
  const addresses = await totalOf('/addresses');
  const domainAliases = await totalOf('/domainaliases');
  const webhooks = await totalOf('/webhooks');

  const aggregator = new UserAggregator(opts.topDomains, opts.maxTrackedDomains);
  let cursor: string | false = false;
  let pages = 0;
  do {
    const query: string = `/users?limit=${opts.pageSize}${cursor ? `&next=${encodeURIComponent(cursor)}` : ''}`;
    const page = await client.getListing(query, signal);
    pages++;
    for (const user of page.results) aggregator.add(user);
    onPage?.(pages, page.total);
    // A cursor that does not move (or a page that brings nothing yet promises more) would loop for ever.
    if (page.nextCursor !== false && (page.nextCursor === cursor || page.results.length === 0)) {
      throw new WildDuckApiError(`/users: page ${pages} did not advance the cursor`, 'bad_response', false);
    }
    cursor = page.nextCursor;
  } while (cursor);

  return { users: aggregator.result(), addresses, domainAliases, webhooks, pages };
}
