/**
 * WildDuck watched by our exporters, against WildDuck's own records: the wildduck exporter's totals against what
 * this test created through the API; the gelf exporter's auth counters (from WildDuck's real GELF) against
 * WildDuck's native wildduck_auth_attempts_total; the redis exporter on the keys WildDuck itself writes
 * (lim:imap for open IMAP connections, auth_user:* for failed logins and lockouts).
 */
import { ImapFlow } from 'imapflow';
import Redis from 'ioredis';
import { sample, scrape, total } from '../helpers/exposition';
import { type RealSuite, startRealSuite, until } from './harness';

jest.setTimeout(120_000);

let suite: RealSuite;
beforeAll(async () => {
  suite = await startRealSuite({ services: ['wildduck', 'exporters'], exporters: ['wildduck', 'gelf', 'redis'] });
}, 90_000);
afterAll(async () => {
  await suite?.close();
});

const text = async (url: string) => (await scrape(url)).text;
const api = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${suite.wildduck.api}${path}`, {
    method,
    headers: { 'Content-Type': 'application/json', 'X-Access-Token': suite.wildduck.token },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, any>;
  if (!json.success) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
};
const imap = (user: string, pass: string) =>
  new ImapFlow({ host: suite.wildduck.imap.host, port: suite.wildduck.imap.port, secure: false, auth: { user, pass }, logger: false });
/** One IMAP login; true when WildDuck accepted it. */
async function login(user: string, pass: string): Promise<boolean> {
  const client = imap(user, pass);
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.logout();
    return true;
  } catch {
    client.close();
    return false;
  }
}

const GIB = 1024 ** 3;
const users: Record<string, { id: string; password: string }> = {};

test('the wildduck exporter gives the users, disabled, suspended, quota and address totals created through the API', async () => {
  for (const [name, extra] of [
    ['carol', { quota: 10 * 1024 * 1024 }],
    ['dave', {}],
    ['erin', {}],
    ['frank', {}],
  ] as const) {
    const password = `${name}-password-1`;
    users[name] = { id: (await suite.wildduck.createUser(name, password, extra)).id, password };
  }
  await api('PUT', `/users/${users.erin.id}`, { disabled: true });
  await api('PUT', `/users/${users.frank.id}`, { suspended: true });
  await api('POST', `/users/${users.carol.id}/addresses`, { address: `carol.alias@${suite.domain}` });

  // WildDuck's own view, through its API: what the exporter must report.
  const listed = (await api('GET', '/users?limit=250')).results as { quota: { allowed: number }; disabled: boolean; suspended: boolean }[];
  expect(listed).toHaveLength(4);
  const quotaAllowed = listed.reduce((sum, u) => sum + u.quota.allowed, 0);
  expect(quotaAllowed).toBe(10 * 1024 * 1024 + 3 * GIB); // a quota of 0 is WildDuck's default, 1 GiB
  const addresses = (await api('GET', '/addresses?limit=250')).total as number;
  expect(addresses).toBe(5);

  const t = await until('a crawl that sees the 4 users and 5 addresses', async () => {
    const m = await text(suite.exporters.wildduck!);
    return sample(m, 'wildduck_users') === 4 && sample(m, 'wildduck_addresses') === 5 && m;
  }, 60_000);
  expect(sample(t, 'wildduck_up')).toBe(1);
  expect(sample(t, 'wildduck_users_disabled')).toBe(1);
  expect(sample(t, 'wildduck_users_suspended')).toBe(1);
  expect(sample(t, 'wildduck_users_quota_allowed_bytes')).toBe(quotaAllowed);
  expect(sample(t, 'wildduck_domain_users', { domain: suite.domain })).toBe(4);
  expect(sample(t, 'wildduck_health_failure', { reason: 'none' }) ?? 0).toBe(0);
});

test('good and bad IMAP logins: the gelf exporter counts what WildDuck counts natively', async () => {
  const { password } = users.dave;
  const results = [await login('dave', password), await login('dave', 'wrong-1'), await login('dave', password), await login('dave', 'wrong-2'), await login('dave', 'wrong-3')];
  expect(results).toEqual([true, false, true, false, false]);

  const native = await until('WildDuck to count 5 IMAP logins', async () => {
    const m = await text(suite.wildduck.metrics);
    return total(m, 'wildduck_auth_attempts_total', { service: 'imap' }) === 5 && m;
  }, 30_000);
  const nativeBy = (result: string) => total(native, 'wildduck_auth_attempts_total', { service: 'imap', result });
  expect(nativeBy('success')).toBe(2);
  expect(nativeBy('fail')).toBe(3);

  const gelf = await until('the gelf exporter to count the same 5 logins', async () => {
    const m = await text(suite.gelf!.metrics);
    return total(m, 'gelf_auth_attempts_total', { component: 'wildduck' }) === 5 && m;
  }, 30_000);
  expect(total(gelf, 'gelf_auth_attempts_total', { component: 'wildduck', result: 'success' })).toBe(nativeBy('success'));
  expect(total(gelf, 'gelf_auth_attempts_total', { component: 'wildduck', result: 'fail' })).toBe(nativeBy('fail'));
  expect(total(gelf, 'gelf_decode_errors_total')).toBe(0);
});

test('the redis exporter reads the IMAP connections WildDuck holds in lim:imap', async () => {
  const open: ImapFlow[] = [];
  try {
    for (const [name, n] of [['dave', 3], ['carol', 1]] as const) {
      for (let i = 0; i < n; i++) {
        const c = imap(name, users[name].password);
        c.on('error', () => undefined);
        await c.connect();
        open.push(c);
      }
    }
    const m = await until('4 IMAP connections in lim:imap', async () => {
      const t = await text(suite.exporters.redis!);
      return sample(t, 'redis_wildduck_imap_connections') === 4 && t;
    }, 30_000);
    expect(sample(m, 'redis_wildduck_imap_connected_users')).toBe(2);
    expect(sample(m, 'redis_wildduck_imap_connections_per_user_max')).toBe(3);
    // WildDuck's native gauge of open IMAP sessions agrees.
    expect(sample(await text(suite.wildduck.metrics), 'wildduck_connections', { service: 'imap' })).toBe(4);
  } finally {
    for (const c of open) await c.logout().catch(() => c.close());
  }
  await until('lim:imap to empty again', async () => sample(await text(suite.exporters.redis!), 'redis_wildduck_imap_connections') === 0, 30_000);
});

test('repeated failed logins lock the user out, and the redis exporter sees the lockout in auth_user:*', async () => {
  // WildDuck locks a user out after consts.USER_AUTH_FAILURES (12) failures within its window.
  for (let i = 0; i < 13; i++) expect(await login('carol', `wrong-${i}`)).toBe(false);
  // The right password is refused now: WildDuck itself says the user is locked out.
  expect(await login('carol', users.carol.password)).toBe(false);
  const m = await until('a lockout in auth_user:*', async () => {
    const t = await text(suite.exporters.redis!);
    return sample(t, 'redis_wildduck_auth_lockouts', { kind: 'password' }) === 1 && t;
  }, 30_000);
  // Users with recent failures: as many as WildDuck's own auth_user:<id> counters in Redis db 3.
  const redis = new Redis({ host: suite.redis.host, port: suite.redis.port, db: 3 });
  try {
    const keys = (await redis.keys('auth_user:*')).filter((k) => !k.startsWith('auth_user:totp:'));
    expect(keys.length).toBeGreaterThanOrEqual(1);
    expect(sample(m, 'redis_wildduck_auth_failure_counters', { kind: 'password' })).toBe(keys.length);
    expect(keys).toContain(`auth_user:${users.carol.id}`);
  } finally {
    redis.disconnect();
  }
});
