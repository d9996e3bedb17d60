/**
 * `tinomail-monitor wildduck`: account aggregates (users, storage, quota, domains) and health from the
 * WildDuck REST API, which WildDuck's native /metrics does not have.
 */
import type { ExporterDefinition } from '../kit/exporter';
import { MAX_PAGE_SIZE } from './crawl';
import { WildDuckExporter } from './exporter';

export { WildDuckExporter } from './exporter';

export const definition: ExporterDefinition = {
  name: 'wildduck',
  description: 'WildDuck users, storage, quota and health from its REST API',
  defaultPort: 9741,
  target: (f) => String(f['wildduck.url']),
  flags: [
    { name: 'wildduck.url', type: 'string', default: 'http://127.0.0.1:8080', help: 'Base URL of the WildDuck API.' },
    {
      name: 'wildduck.token-file',
      type: 'string',
      default: '',
      help: 'File holding the API access token (role root or manager); empty when WildDuck runs without access control.',
    },
    { name: 'wildduck.timeout', type: 'duration', default: '20s', help: "Timeout of one API request (a scrape-time /health also ends with the scrape); above WildDuck's own 10 s wait for Redis in /health." },
    { name: 'wildduck.crawl-interval', type: 'duration', default: '5m', help: 'Pause between the end of one background crawl of users and the start of the next.' },
    { name: 'wildduck.crawl-timeout', type: 'duration', default: '30m', help: 'A background crawl that takes longer fails and keeps the previous totals.' },
    { name: 'wildduck.page-size', type: 'int', default: String(MAX_PAGE_SIZE), help: `Users per page in the crawl (1..${MAX_PAGE_SIZE}, WildDuck's maximum).` },
    { name: 'wildduck.retries', type: 'int', default: '3', help: 'Retries of a crawl request after a network error, timeout, 5xx or 429, with exponential backoff.' },
    { name: 'wildduck.top-domains', type: 'int', default: '20', help: 'Domains with most users that get their own label value; the rest are summed as "other".' },
    {
      name: 'wildduck.max-tracked-domains',
      type: 'int',
      default: '10000',
      help: 'Distinct domains counted exactly during a crawl; users of domains first seen beyond this count as "other" (bounds memory).',
    },
  ],
  create: (ctx) => new WildDuckExporter(ctx),
};
