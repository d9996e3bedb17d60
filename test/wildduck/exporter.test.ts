/**
 * The wildduck exporter end to end: the real exporter (kit HTTP server, undici client, background crawl)
 * against FakeWildDuck. WildDuck itself cannot run here (it needs MongoDB), so the fake answers exactly as
 * WildDuck 1.50.0's api.js, lib/api/users.js, addresses.js, domainaliases.js, webhooks.js and health.js do
 * (see test/wildduck/fake-wildduck.ts for what was copied from where).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { FlagError } from '../../exporters/kit/flags';
import { createLogger } from '../../exporters/kit/log';
import { runExporter, type RunningExporter } from '../../exporters/kit/run';
import { definition, WildDuckExporter } from '../../exporters/wildduck';
import { sample, scrape as scrapeUrl } from '../helpers/exposition';
import { DEFAULT_MAX_STORAGE, FakeWildDuck, type FakeWildDuckOptions, mixedUsers, type UserSource } from './fake-wildduck';

const dir = mkdtempSync(join(tmpdir(), 'wildduck-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ROOT_TOKEN = 'a1b2c3d4e5f60718293a4b5c6d7e8f9001122334';

interface Running {
  fake: FakeWildDuck;
  exporter: RunningExporter;
  wd: WildDuckExporter;
  logs: string[];
}

const running: Running[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) {
    await r.exporter.stop();
    await r.fake.stop();
  }
});

async function start(
  fakeOptions: Partial<FakeWildDuckOptions> = {},
  flags: string[] = [],
  token = ROOT_TOKEN,
  interfere?: FakeWildDuck['interfere'],
): Promise<Running> {
  const fake = new FakeWildDuck({ users: mixedUsers(0), tokens: { [ROOT_TOKEN]: 'root' }, ...fakeOptions });
  fake.interfere = interfere;
  const url = await fake.start();
  const tokenFile = join(dir, `token-${running.length}-${Math.random()}`);
  writeFileSync(tokenFile, token + '\n');
  const logs: string[] = [];
  const exporter = await runExporter(
    definition,
    ['--web.listen-address=127.0.0.1:0', `--wildduck.url=${url}`, `--wildduck.token-file=${tokenFile}`, '--wildduck.crawl-interval=1h', ...flags],
    { env: {}, log: createLogger({ level: 'debug', write: (line) => logs.push(line) }) },
  );
  const r = { fake, exporter, wd: exporter.exporter as WildDuckExporter, logs };
  running.push(r);
  return r;
}

/** Scrapes the exporter of `r`, sending Prometheus's scrape timeout header when given. */
const scrape = (r: Running, timeoutSeconds?: number) => scrapeUrl(`${r.exporter.url}/metrics`, { timeoutSeconds });

/** What the crawl should find, computed straight from the stored documents. */
function expectedTotals(source: UserSource, topDomains: number) {
  const e = { users: 0, disabled: 0, suspended: 0, notActivated: 0, twoFa: 0, autoreply: 0, used: 0, allowed: 0, q80: 0, q90: 0, q100: 0 };
  const domains = new Map<string, { users: number; used: number }>();
  for (let i = 0; i < source.count; i++) {
    const u = source.user(i);
    const allowed = u.quota || DEFAULT_MAX_STORAGE;
    const used = Math.max(u.storageUsed ?? 0, 0);
    e.users++;
    if (u.disabled) e.disabled++;
    if (u.suspended) e.suspended++;
    if (!u.activated) e.notActivated++;
    if (u.enabled2fa === true || (Array.isArray(u.enabled2fa) && u.enabled2fa.length)) e.twoFa++;
    if (u.autoreply) e.autoreply++;
    e.used += used;
    e.allowed += allowed;
    if (used >= allowed * 0.8) e.q80++;
    if (used >= allowed * 0.9) e.q90++;
    if (used >= allowed) e.q100++;
    const domain = u.address ? u.address.split('@')[1] : 'none';
    const d = domains.get(domain) ?? { users: 0, used: 0 };
    d.users++;
    d.used += used;
    domains.set(domain, d);
  }
  const none = domains.get('none');
  domains.delete('none');
  const ranked = [...domains.entries()].sort((a, b) => b[1].users - a[1].users || a[0].localeCompare(b[0]));
  const top = new Map(ranked.slice(0, topDomains));
  const rest = ranked.slice(topDomains).reduce((s, [, d]) => ({ users: s.users + d.users, used: s.used + d.used }), { users: 0, used: 0 });
  return { ...e, top, other: rest, none };
}

describe('wildduck exporter', () => {
  test('10,000 users of mixed states give exact aggregates, with no personal data in labels', async () => {
    const users = mixedUsers(10_000);
    const r = await start({ users, addresses: 12_345, domainAliases: 7, webhooks: 3 }, ['--wildduck.top-domains=5']);
    await expect(r.wd.whenCrawled(1)).resolves.toBe(true);
    const { status, text } = await scrape(r);
    expect(status).toBe(200);
    const e = expectedTotals(users, 5);

    expect(sample(text, 'wildduck_up')).toBe(1);
    expect(sample(text, 'wildduck_users')).toBe(e.users);
    expect(sample(text, 'wildduck_users_disabled')).toBe(e.disabled);
    expect(sample(text, 'wildduck_users_suspended')).toBe(e.suspended);
    expect(sample(text, 'wildduck_users_not_activated')).toBe(e.notActivated);
    expect(sample(text, 'wildduck_users_2fa_enabled')).toBe(e.twoFa);
    expect(sample(text, 'wildduck_users_autoreply_enabled')).toBe(e.autoreply);
    expect(sample(text, 'wildduck_users_storage_used_bytes')).toBe(e.used);
    expect(sample(text, 'wildduck_users_quota_allowed_bytes')).toBe(e.allowed);
    expect(sample(text, 'wildduck_users_quota_use_at_least', { ratio: '0.8' })).toBe(e.q80);
    expect(sample(text, 'wildduck_users_quota_use_at_least', { ratio: '0.9' })).toBe(e.q90);
    expect(sample(text, 'wildduck_users_quota_use_at_least', { ratio: '1' })).toBe(e.q100);
    // The generator makes every state common enough that a wrong rule shows.
    for (const v of [e.disabled, e.suspended, e.notActivated, e.twoFa, e.autoreply, e.q80 - e.q90, e.q90 - e.q100, e.q100]) expect(v).toBeGreaterThan(50);

    for (const [domain, d] of e.top) {
      expect(sample(text, 'wildduck_domain_users', { domain })).toBe(d.users);
      expect(sample(text, 'wildduck_domain_storage_used_bytes', { domain })).toBe(d.used);
    }
    expect(sample(text, 'wildduck_domain_users', { domain: 'other' })).toBe(e.other.users);
    expect(sample(text, 'wildduck_domain_storage_used_bytes', { domain: 'other' })).toBe(e.other.used);
    expect(sample(text, 'wildduck_domain_users', { domain: 'none' })).toBe(e.none?.users);
    expect(text.match(/^wildduck_domain_users\{/gm)).toHaveLength(7); // 5 domains, other, none

    expect(sample(text, 'wildduck_addresses')).toBe(12_345);
    expect(sample(text, 'wildduck_domain_aliases')).toBe(7);
    expect(sample(text, 'wildduck_webhooks')).toBe(3);
    expect(sample(text, 'wildduck_crawl_success')).toBe(1);
    expect(sample(text, 'wildduck_crawls_total', { result: 'success' })).toBe(1);
    // 3 one-item totals + 10,000 / 250 pages, each asked once
    expect(sample(text, 'wildduck_crawl_requests_total')).toBe(43);
    expect(r.fake.requestsByPath.get('/users')).toBe(40);
    expect(sample(text, 'wildduck_crawl_last_success_timestamp_seconds')).toBeCloseTo(Date.now() / 1000, -1);

    // No user name, address or id anywhere in the samples, nor the token in the logs.
    const samples = text.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(samples.filter((l) => /@|user\d|User Number|0{10}/.test(l))).toEqual([]);
    expect(r.logs.join('\n')).not.toContain(ROOT_TOKEN);
  });

  test('before the first crawl ends the account gauges have no samples, and a scrape does not wait for it', async () => {
    const r = await start({ users: mixedUsers(10) }, [], ROOT_TOKEN, (path) => (path === '/addresses' ? { delayMs: 500 } : undefined));
    const t0 = Date.now();
    const { text } = await scrape(r);
    expect(Date.now() - t0).toBeLessThan(300);
    expect(text).toContain('# HELP wildduck_users ');
    expect(sample(text, 'wildduck_users')).toBeUndefined();
    expect(sample(text, 'wildduck_crawl_success')).toBeUndefined();
    expect(sample(text, 'wildduck_crawl_in_progress')).toBe(1);
    expect(sample(text, 'wildduck_up')).toBe(1);
    await expect(r.wd.whenCrawled(1)).resolves.toBe(true);
    const after = await scrape(r);
    expect(sample(after.text, 'wildduck_users')).toBe(10);
    expect(sample(after.text, 'wildduck_crawl_in_progress')).toBe(0);
  });

  test('a rejected token: up 0 with the reason, the crawl fails and the log says which role is needed, never the token', async () => {
    const r = await start({ users: mixedUsers(5) }, [], 'wrong-token-0123456789');
    await expect(r.wd.whenCrawled(1)).resolves.toBe(false);
    const { status, text } = await scrape(r);
    expect(status).toBe(200);
    expect(sample(text, 'wildduck_up')).toBe(0);
    expect(sample(text, 'wildduck_health_failure', { reason: 'token_rejected' })).toBe(1);
    expect(sample(text, 'wildduck_health_failure', { reason: 'db_down' })).toBe(0);
    expect(sample(text, 'wildduck_crawls_total', { result: 'token_rejected' })).toBe(1);
    expect(sample(text, 'wildduck_crawl_success')).toBe(0);
    expect(sample(text, 'wildduck_users')).toBeUndefined();
    const log = r.logs.join('\n');
    expect(log).toMatch(/level=error msg="crawl failed.*reason=token_rejected.*role root or manager/);
    expect(log).not.toContain('wrong-token-0123456789');
  });

  test.each([
    ['webmail', '/addresses'],
    ['user', '/domainaliases'],
  ] as const)('a %s token is healthy but cannot crawl (%s answers MissingPrivileges)', async (role, path) => {
    const token = role === 'webmail' ? 'f'.repeat(40) : 'e'.repeat(40);
    const r = await start({ users: mixedUsers(5), tokens: { [token]: role } }, [], token);
    await expect(r.wd.whenCrawled(1)).resolves.toBe(false);
    const { text } = await scrape(r);
    expect(sample(text, 'wildduck_up')).toBe(1);
    expect(sample(text, 'wildduck_crawls_total', { result: 'missing_privileges' })).toBe(1);
    expect(r.logs.join('\n')).toContain(`${path} needs a token with role root or manager`);
    // A 'user' token would list only its own account: the crawl must not report 1 user as the total.
    expect(sample(text, 'wildduck_users')).toBeUndefined();
  });

  test.each([
    ['DB is down', 'db_down'],
    ['Could not write to DB', 'db_not_writeable'],
    ['Redis is down', 'redis_down'],
    ['Redis is not writeable/readable', 'redis_not_writeable'],
  ])('health 500 %p: up 0 and reason %p', async (message, reason) => {
    const r = await start({ version: '1.50.0' });
    r.fake.healthMessage = message;
    const { status, text } = await scrape(r);
    expect(status).toBe(200);
    expect(sample(text, 'wildduck_up')).toBe(0);
    expect(sample(text, 'wildduck_health_failure', { reason })).toBe(1);
    expect(text.match(/^wildduck_health_failure\{.*\} 1$/gm)).toHaveLength(1);
    expect(sample(text, 'wildduck_health_version_info', { version: '1.50.0' })).toBe(1);
    expect(sample(text, 'wildduck_scrape_collector_success', { collector: 'health' })).toBe(0);

    r.fake.healthMessage = undefined; // recovers by itself
    const healthy = await scrape(r);
    expect(sample(healthy.text, 'wildduck_up')).toBe(1);
    expect(healthy.text.match(/^wildduck_health_failure\{.*\} 1$/gm)).toBeNull();
  });

  test('a slow API: the scrape still answers within its timeout, with reason timeout', async () => {
    const r = await start();
    r.fake.interfere = (path) => (path === '/health' ? { delayMs: 3000 } : undefined);
    const t0 = Date.now();
    const { status, text } = await scrape(r, 1); // Prometheus asks for 1 s: the kit keeps 0.5 s of it
    const took = Date.now() - t0;
    expect(status).toBe(200);
    expect(took).toBeLessThan(1000);
    expect(sample(text, 'wildduck_up')).toBe(0);
    expect(sample(text, 'wildduck_health_failure', { reason: 'timeout' })).toBe(1);
  });

  test('the API down: up 0, reason unreachable, HTTP 200 at once', async () => {
    const r = await start({}, ['--wildduck.retries=0']);
    await r.wd.whenCrawled(1);
    await r.fake.stop();
    const { status, text } = await scrape(r);
    expect(status).toBe(200);
    expect(sample(text, 'wildduck_up')).toBe(0);
    expect(sample(text, 'wildduck_health_failure', { reason: 'unreachable' })).toBe(1);
    await expect(r.wd.crawlNow()).resolves.toBe(false);
    expect(sample((await scrape(r)).text, 'wildduck_crawls_total', { result: 'unreachable' })).toBe(1);
    await r.fake.start(); // afterEach stops it again
  });

  test('a crawl that fails half way keeps the previous totals and says it failed', async () => {
    const r = await start({ users: mixedUsers(2_000), addresses: 10 }, ['--wildduck.page-size=100', '--wildduck.retries=1']);
    await expect(r.wd.whenCrawled(1)).resolves.toBe(true);
    const first = await scrape(r);
    const firstSuccess = sample(first.text, 'wildduck_crawl_last_success_timestamp_seconds');
    const e = expectedTotals(mixedUsers(2_000), 20);

    // Now more users in other states, and the 5th page fails every time (a MongoDB error).
    r.fake.options.users = mixedUsers(3_000, 1);
    r.fake.options.addresses = 20;
    let usersPages = 0;
    r.fake.interfere = (path) => (path === '/users' && ++usersPages >= 5 ? { databaseError: true } : undefined);
    await expect(r.wd.crawlNow()).resolves.toBe(false);
    const { text } = await scrape(r);
    expect(usersPages).toBe(6); // the failing page and its one retry
    expect(sample(text, 'wildduck_crawl_success')).toBe(0);
    expect(sample(text, 'wildduck_crawls_total', { result: 'http_error' })).toBe(1);
    expect(sample(text, 'wildduck_crawl_retries_total')).toBe(1);
    expect(sample(text, 'wildduck_crawl_last_success_timestamp_seconds')).toBe(firstSuccess);
    // Every total is still the first crawl's, not the 400 users read before the failure.
    expect(sample(text, 'wildduck_users')).toBe(2_000);
    expect(sample(text, 'wildduck_users_disabled')).toBe(e.disabled);
    expect(sample(text, 'wildduck_users_storage_used_bytes')).toBe(e.used);
    expect(sample(text, 'wildduck_addresses')).toBe(10);
    expect(r.logs.join('\n')).toMatch(/crawl failed, keeping the totals.*InternalDatabaseError/);

    // A dropped connection in the middle fails the same way.
    usersPages = 0;
    r.fake.interfere = (path) => (path === '/users' && ++usersPages >= 3 ? { destroy: true } : undefined);
    await expect(r.wd.crawlNow()).resolves.toBe(false);
    expect(sample((await scrape(r)).text, 'wildduck_crawls_total', { result: 'unreachable' })).toBe(1);
    expect(sample((await scrape(r)).text, 'wildduck_users')).toBe(2_000);

    // When the API recovers, the next crawl replaces the totals.
    r.fake.interfere = undefined;
    await expect(r.wd.crawlNow()).resolves.toBe(true);
    const recovered = await scrape(r);
    expect(sample(recovered.text, 'wildduck_users')).toBe(3_000);
    expect(sample(recovered.text, 'wildduck_users_disabled')).toBe(expectedTotals(mixedUsers(3_000, 1), 20).disabled);
    expect(sample(recovered.text, 'wildduck_addresses')).toBe(20);
    expect(sample(recovered.text, 'wildduck_crawl_success')).toBe(1);
  });

  test('a page that fails once is retried and the crawl succeeds', async () => {
    let failed = false;
    const r = await start({ users: mixedUsers(600) }, ['--wildduck.retries=2'], ROOT_TOKEN, (path, params) =>
      path === '/users' && params.has('next') && !failed ? ((failed = true), { databaseError: true }) : undefined,
    );
    await expect(r.wd.whenCrawled(1)).resolves.toBe(true);
    const { text } = await scrape(r);
    expect(sample(text, 'wildduck_users')).toBe(600);
    expect(sample(text, 'wildduck_crawl_retries_total')).toBe(1);
    expect(sample(text, 'wildduck_crawl_requests_total')).toBe(3 + 3 + 1);
  });

  test('the background crawl starts by itself and repeats on its interval', async () => {
    const r = await start({ users: mixedUsers(3) }, ['--wildduck.crawl-interval=1s']);
    await expect(r.wd.whenCrawled(2)).resolves.toBe(true);
    expect(sample((await scrape(r)).text, 'wildduck_crawls_total', { result: 'success' })).toBe(2);
    expect(r.fake.requestsByPath.get('/users')).toBe(2);
  });

  test('a crawl longer than --wildduck.crawl-timeout fails; stop() ends a running crawl at once', async () => {
    const r = await start({ users: mixedUsers(10) }, ['--wildduck.crawl-timeout=300ms', '--wildduck.retries=0'], ROOT_TOKEN, (path) =>
      path === '/users' ? { delayMs: 5000 } : undefined,
    );
    await expect(r.wd.whenCrawled(1)).resolves.toBe(false);
    expect(sample((await scrape(r)).text, 'wildduck_crawls_total', { result: 'timeout' })).toBe(1);
    expect(r.logs.join('\n')).toMatch(/crawl failed.*took longer than --wildduck.crawl-timeout/);

    void r.wd.crawlNow(); // waits on the slow page again
    const t0 = Date.now();
    await r.exporter.stop();
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(r.logs.filter((l) => l.includes('crawl failed'))).toHaveLength(1); // no noise on shutdown
  });

  test('a page size above 250 is refused before anything starts, as WildDuck would refuse it', async () => {
    await expect(runExporter(definition, ['--web.listen-address=127.0.0.1:0', '--wildduck.page-size=251'], { env: {} })).rejects.toThrow(FlagError);
    // ...and the fake answers it the way lib/api/users.js does.
    const fake = new FakeWildDuck({ users: mixedUsers(1) });
    const url = await fake.start();
    const res = await request(`${url}/users?limit=251`);
    expect(res.statusCode).toBe(400);
    expect(await res.body.json()).toEqual({
      error: '"limit" must be less than or equal to 250',
      code: 'InputValidationError',
      details: { limit: '"limit" must be less than or equal to 250' },
    });
    await fake.stop();
  });

  test('an unreadable token file stops the start with a message naming the file', async () => {
    await expect(
      runExporter(definition, ['--web.listen-address=127.0.0.1:0', `--wildduck.token-file=${join(dir, 'missing')}`], { env: {} }),
    ).rejects.toThrow(/cannot read --wildduck.token-file .*missing: ENOENT/);
  });
});

describe('wildduck exporter against a broken or hostile API', () => {
  test('a cursor that comes back (A -> B -> A) fails the crawl as cursor_loop after 3 pages, in the metric and the log', async () => {
    const cursors: string[] = [];
    // The 3rd page sends the crawl back to the cursor of the 1st; without the check the crawl would loop until its timeout.
    const r = await start({ users: mixedUsers(100) }, ['--wildduck.page-size=10'], ROOT_TOKEN, (path) =>
      path === '/users'
        ? {
            reply: (body) => {
              cursors.push(body.nextCursor as string);
              if (cursors.length === 3) body.nextCursor = cursors[0];
            },
          }
        : undefined,
    );
    await expect(r.wd.whenCrawled(1)).resolves.toBe(false);
    const { text } = await scrape(r);
    expect(r.fake.requestsByPath.get('/users')).toBe(3);
    expect(sample(text, 'wildduck_crawls_total', { result: 'cursor_loop' })).toBe(1);
    expect(sample(text, 'wildduck_crawl_success')).toBe(0);
    expect(sample(text, 'wildduck_users')).toBeUndefined();
    expect(r.logs.join('\n')).toMatch(/level=warn msg="crawl failed.*reason=cursor_loop.*nextCursor already asked for/);
  });

  test('pages beyond what total and the page size allow fail the crawl as page_limit', async () => {
    // Fresh cursors for ever would pass any repeat check: the pages are bounded by total (10 users, 2 a page: 5 pages + 2 of slack).
    const r = await start({ users: mixedUsers(1000) }, ['--wildduck.page-size=2'], ROOT_TOKEN, (path) =>
      path === '/users' ? { reply: (body) => void (body.total = 10) } : undefined,
    );
    await expect(r.wd.whenCrawled(1)).resolves.toBe(false);
    const { text } = await scrape(r);
    expect(r.fake.requestsByPath.get('/users')).toBe(7);
    expect(sample(text, 'wildduck_crawls_total', { result: 'page_limit' })).toBe(1);
    expect(r.logs.join('\n')).toMatch(/reason=page_limit.*7 pages read and more promised, but a total of 10 users needs 5/);
  });

  test('users created during the crawl (total grows) still let it finish', async () => {
    let pages = 0;
    // Every page reports 2 more users than the last; the real count is 40, page size 5.
    const r = await start({ users: mixedUsers(40) }, ['--wildduck.page-size=5'], ROOT_TOKEN, (path) =>
      path === '/users' ? { reply: (body) => void (body.total = 30 + 2 * ++pages) } : undefined,
    );
    await expect(r.wd.whenCrawled(1)).resolves.toBe(true);
    expect(sample((await scrape(r)).text, 'wildduck_users')).toBe(40);
  });

  test('quotas of 1e308 and an /addresses total of 1e308 are counted as malformed and left out of the gauges', async () => {
    const good = mixedUsers(50);
    const users: UserSource = {
      count: 60,
      // 10 users whose stored quota and storageUsed are 1e308: users.js answers them as they are.
      user: (i) => (i < 50 ? good.user(i) : { ...good.user(i), quota: 1e308, storageUsed: 1e308 }),
    };
    const r = await start({ users, addresses: 5, webhooks: 2 }, [], ROOT_TOKEN, (path) =>
      path === '/addresses' ? { reply: (body) => void (body.total = 1e308) } : undefined,
    );
    await expect(r.wd.whenCrawled(1)).resolves.toBe(true);
    const { text } = await scrape(r);
    const e = expectedTotals(good, 20);
    expect(sample(text, 'wildduck_users')).toBe(60);
    expect(sample(text, 'wildduck_users_storage_used_bytes')).toBe(e.used);
    expect(sample(text, 'wildduck_users_quota_allowed_bytes')).toBe(e.allowed);
    expect(sample(text, 'wildduck_crawl_malformed_values', { field: 'quota' })).toBe(10);
    expect(sample(text, 'wildduck_crawl_malformed_values', { field: 'addresses_total' })).toBe(1);
    expect(sample(text, 'wildduck_crawl_malformed_values', { field: 'webhooks_total' })).toBe(0);
    expect(sample(text, 'wildduck_addresses')).toBeUndefined();
    expect(sample(text, 'wildduck_webhooks')).toBe(2);
    expect(text).not.toMatch(/Inf|e\+308/);
  });

  test('a page above the size cap is refused while it is read, and scrapes meanwhile are answered', async () => {
    const big = mixedUsers(250);
    // 250 users with 40 KB names: a 10 MB page (the cap is 4 MiB; a real page of 250 users is a few hundred KB).
    const users: UserSource = { count: 250, user: (i) => ({ ...big.user(i), name: 'n'.repeat(40_000) }) };
    const r = await start({ users }, [], ROOT_TOKEN);
    const scrapes = await Promise.all([scrape(r, 2), scrape(r, 2), r.wd.whenCrawled(1).then(() => scrape(r, 2))]);
    for (const s of scrapes) {
      expect(s.status).toBe(200);
      expect(sample(s.text, 'wildduck_up')).toBe(1);
    }
    const { text } = scrapes[2];
    expect(sample(text, 'wildduck_crawls_total', { result: 'bad_response' })).toBe(1);
    expect(r.logs.join('\n')).toMatch(/reason=bad_response.*\/users: answer larger than 4194304 bytes/);
  });

  test('the same HTTP 500 (a proxy page) has one name, http_error, in the health check and in the crawl', async () => {
    const r = await start({ users: mixedUsers(5) }, ['--wildduck.retries=0'], ROOT_TOKEN, () => ({ proxyError: 500 }));
    await expect(r.wd.whenCrawled(1)).resolves.toBe(false);
    const { text } = await scrape(r);
    expect(sample(text, 'wildduck_up')).toBe(0);
    expect(sample(text, 'wildduck_health_failure', { reason: 'http_error' })).toBe(1);
    expect(sample(text, 'wildduck_health_failure', { reason: 'bad_response' })).toBe(0);
    expect(sample(text, 'wildduck_crawls_total', { result: 'http_error' })).toBe(1);
  });
});
