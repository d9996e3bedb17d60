/**
 * The pure parts of the wildduck exporter on literal input. The user entries have the shape
 * WildDuck 1.50.0 lib/api/users.js answers (quota already resolved, enabled2fa a list of methods).
 */
import { domainOf, parseHealth, parseListingPage, UserAggregator } from '../../exporters/wildduck/aggregate';
import { errorForStatus, redactApiUrl, roleHint } from '../../exporters/wildduck/client';

const GiB = 1024 ** 3;

function user(over: Record<string, unknown>): Record<string, unknown> {
  return {
    id: '5f0c6c1e2b9a3e0012345678',
    username: 'someone',
    name: 'Some One',
    address: 'someone@example.com',
    tags: [],
    targets: [],
    enabled2fa: [],
    autoreply: false,
    encryptMessages: false,
    encryptForwarded: false,
    quota: { allowed: GiB, used: 0 },
    hasPasswordSet: true,
    activated: true,
    disabled: false,
    suspended: false,
    ...over,
  };
}

describe('domainOf', () => {
  test.each([
    ['someone@Example.COM', 'example.com'],
    ['a.b+tag@mail.example.co.uk', 'mail.example.co.uk'],
    ['x@täst.ee', 'täst.ee'],
    ['x@xn--tst-qla.ee', 'xn--tst-qla.ee'],
    [undefined, 'none'],
    ['', 'none'],
    ['no-at-sign', 'other'],
    ['x@localhost', 'other'],
    ['x@bad domain.com', 'other'],
    ['x@-dash.com', 'other'],
    [42, 'none'],
  ])('%p -> %p', (address, expected) => {
    expect(domainOf(address)).toBe(expected);
  });
});

describe('UserAggregator', () => {
  test('folds a page of users into exact totals', () => {
    const agg = new UserAggregator(10, 100);
    agg.add(user({ disabled: true, quota: { allowed: 1000, used: 800 } }));
    agg.add(user({ suspended: true, enabled2fa: ['totp', 'webauthn'], quota: { allowed: 1000, used: 899 } }));
    agg.add(user({ activated: false, autoreply: true, address: 'b@other.org', quota: { allowed: 1000, used: 1000 } }));
    agg.add(user({ enabled2fa: true, address: undefined, quota: { allowed: 2000, used: 2500 } }));
    agg.add(user({ quota: { allowed: 1000, used: 900 } }));
    expect(agg.result()).toEqual({
      users: 5,
      disabled: 1,
      suspended: 1,
      notActivated: 1,
      twoFactor: 2,
      autoreply: 1,
      storageUsedBytes: 800 + 899 + 1000 + 2500 + 900,
      quotaAllowedBytes: 6000,
      // 800/1000 is exactly 0.8; 899/1000 is below 0.9; 900/1000 is exactly 0.9
      quotaUseAtLeast: { '0.8': 5, '0.9': 3, '1': 2 },
      domains: [
        { domain: 'example.com', users: 3, storageUsedBytes: 800 + 899 + 900 },
        { domain: 'other.org', users: 1, storageUsedBytes: 1000 },
        { domain: 'none', users: 1, storageUsedBytes: 2500 },
      ],
      malformed: 0,
      malformedQuotas: 0,
    });
  });

  test('counts and drops records that are not users, and tolerates missing fields', () => {
    const agg = new UserAggregator(10, 100);
    for (const bad of [null, 'user', 17, ['a']]) agg.add(bad);
    agg.add({ address: 'x@example.com' }); // no quota, no flags
    agg.add(user({ quota: { allowed: 'lots', used: -3 } }));
    const r = agg.result();
    expect(r.malformed).toBe(4);
    expect(r.malformedQuotas).toBe(2);
    expect(r.users).toBe(2);
    expect(r.storageUsedBytes).toBe(0);
    expect(r.quotaAllowedBytes).toBe(0);
    expect(r.quotaUseAtLeast).toEqual({ '0.8': 0, '0.9': 0, '1': 0 });
  });

  test('a quota that is not a byte count (1e308, Infinity, negative, fractional, 2^53, a string) is counted and left out', () => {
    const agg = new UserAggregator(10, 100);
    agg.add(user({ quota: { allowed: 1000, used: 900 } }));
    for (const quota of [
      { allowed: 1e308, used: 1e308 },
      { allowed: 1000, used: 1e308 },
      { allowed: Infinity, used: 5 },
      { allowed: 1000, used: -1 },
      { allowed: 1000.5, used: 5 },
      { allowed: 2 ** 53, used: 5 },
      { allowed: '1000', used: 5 },
      { allowed: 1000, used: NaN },
    ]) agg.add(user({ quota }));
    agg.add(user({ quota: { allowed: 2 ** 53 - 1, used: 0 } })); // the largest count is still a count
    const r = agg.result();
    expect(r.users).toBe(10);
    expect(r.malformedQuotas).toBe(8);
    expect(r.storageUsedBytes).toBe(900);
    expect(r.quotaAllowedBytes).toBe(1000 + 2 ** 53 - 1);
    expect(Number.isFinite(r.storageUsedBytes)).toBe(true);
    expect(r.quotaUseAtLeast).toEqual({ '0.8': 1, '0.9': 1, '1': 0 });
    expect(r.domains).toEqual([{ domain: 'example.com', users: 10, storageUsedBytes: 900 }]);
  });

  test('keeps the top domains by users (ties by name) and sums the rest as other', () => {
    const agg = new UserAggregator(2, 100);
    const add = (domain: string, n: number, used: number) => {
      for (let i = 0; i < n; i++) agg.add(user({ address: `u${i}@${domain}`, quota: { allowed: GiB, used } }));
    };
    add('c.example', 2, 10);
    add('a.example', 3, 1);
    add('b.example', 2, 100);
    add('d.example', 1, 1000);
    agg.add(user({ address: 'weird@not a domain', quota: { allowed: GiB, used: 5 } }));
    agg.add(user({ address: undefined, quota: { allowed: GiB, used: 7 } }));
    expect(agg.result().domains).toEqual([
      { domain: 'a.example', users: 3, storageUsedBytes: 3 },
      { domain: 'b.example', users: 2, storageUsedBytes: 200 },
      { domain: 'other', users: 4, storageUsedBytes: 20 + 1000 + 5 },
      { domain: 'none', users: 1, storageUsedBytes: 7 },
    ]);
  });

  test('beyond maxTrackedDomains new domains count as other, so memory stays bounded', () => {
    const agg = new UserAggregator(10, 2);
    for (let i = 0; i < 1000; i++) agg.add(user({ address: `u@d${i}.example`, quota: { allowed: GiB, used: 1 } }));
    for (let i = 0; i < 5; i++) agg.add(user({ address: `u${i}@d0.example`, quota: { allowed: GiB, used: 1 } }));
    expect(agg.trackedDomains).toBe(2);
    const r = agg.result();
    expect(r.domains).toEqual([
      { domain: 'd0.example', users: 6, storageUsedBytes: 6 },
      { domain: 'd1.example', users: 1, storageUsedBytes: 1 },
      { domain: 'other', users: 998, storageUsedBytes: 998 },
    ]);
    expect(r.domains.reduce((s, d) => s + d.users, 0)).toBe(r.users);
  });
});

describe('parseListingPage', () => {
  const page = { success: true, query: '', total: 3, page: 1, previousCursor: false, nextCursor: 'WyJ7fSIsMl0', results: [{}] };

  test('accepts the WildDuck envelope', () => {
    expect(parseListingPage(page)).toEqual({ total: 3, nextCursor: 'WyJ7fSIsMl0', results: [{}] });
    expect(parseListingPage({ ...page, nextCursor: false }).nextCursor).toBe(false);
  });

  test.each([1e308, -1, 2.5, 2 ** 53, Infinity])('a total of %p is not a count: undefined, not thrown', (total) => {
    expect(parseListingPage({ ...page, total }).total).toBeUndefined();
  });

  test.each([
    ['not an object', 'x', /not a JSON object/],
    ['success false', { ...page, success: false }, /success/],
    ['no total', { ...page, total: undefined }, /total/],
    ['no results', { ...page, results: null }, /results/],
    ['empty cursor', { ...page, nextCursor: '' }, /nextCursor/],
    ['cursor true', { ...page, nextCursor: true }, /nextCursor/],
  ])('rejects %s', (_what, body, message) => {
    expect(() => parseListingPage(body)).toThrow(message);
  });
});

describe('parseHealth', () => {
  test.each([
    ['DB is down', 'db_down'],
    ['Could not write to DB', 'db_not_writeable'],
    ['Redis is down', 'redis_down'],
    ['Redis is not writeable/readable', 'redis_not_writeable'],
    ['Something new', 'unhealthy'],
  ])('500 %p -> %p', (message, reason) => {
    expect(parseHealth(500, { success: false, version: '1.50.0', message })).toEqual({ ok: false, reason, version: '1.50.0' });
  });

  test('200 success is healthy and keeps a version that looks like one', () => {
    expect(parseHealth(200, { success: true, version: '1.50.0' })).toEqual({ ok: true, version: '1.50.0' });
    expect(parseHealth(200, { success: true, version: '<script>' })).toEqual({ ok: true, version: 'other' });
  });

  test('a proxy page or another status is not health', () => {
    // A non-2xx status is http_error whatever the body, the same name the crawl gives it (errorForStatus).
    expect(parseHealth(502, undefined).reason).toBe('http_error');
    expect(parseHealth(500, undefined).reason).toBe(errorForStatus('/users', 500, undefined).reason);
    expect(parseHealth(500, { error: 'MongoDB Error: x', code: 'InternalDatabaseError' }).reason).toBe('http_error');
    expect(parseHealth(404, { code: 'ResourceNotFound', message: '/health does not exist' }).reason).toBe('http_error');
    // A 200 that is not WildDuck's answer is bad_response, as a listing page that is not one.
    expect(parseHealth(200, undefined).reason).toBe('bad_response');
    expect(parseHealth(200, { hello: 1 }).reason).toBe('bad_response');
  });
});

describe('errorForStatus', () => {
  test('an invalid token says which role is needed', () => {
    const err = errorForStatus('/users?limit=250', 403, { code: 'InvalidToken', message: 'Invalid accessToken value' });
    expect(err.reason).toBe('token_rejected');
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/role root or manager/);
    expect(err.message).not.toMatch(/limit=250/);
  });

  test('missing privileges are told apart from a bad token', () => {
    const err = errorForStatus('/webhooks?limit=1', 403, { error: 'Not enough privileges', code: 'MissingPrivileges' });
    expect(err.reason).toBe('missing_privileges');
    expect(err.message).toMatch(/root, manager or webmail/);
  });

  test('5xx and 429 may pass; 400 will not', () => {
    expect(errorForStatus('/users', 500, { error: 'MongoDB Error: x', code: 'InternalDatabaseError' })).toMatchObject({ reason: 'http_error', retryable: true });
    expect(errorForStatus('/users', 429, undefined).retryable).toBe(true);
    const bad = errorForStatus('/users', 400, { error: '"limit" must be less than or equal to 250', code: 'InputValidationError' });
    expect(bad).toMatchObject({ reason: 'http_error', retryable: false });
    expect(bad.message).toMatch(/InputValidationError/);
  });

  test('role hints follow config/roles.json', () => {
    expect(roleHint('/health')).toBe('any valid token');
    expect(roleHint('/domainaliases')).toMatch(/root or manager/);
  });
});

test('redactApiUrl drops credentials and the query', () => {
  expect(redactApiUrl('https://admin:secret@api.example:8443/wd/?accessToken=abc')).toBe('https://xxxxx@api.example:8443/wd/');
});
