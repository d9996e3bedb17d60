/**
 * The redis exporter against a real redis-server started here (no persistence, a free port), with keys
 * written the way WildDuck, haraka-plugin-wildduck and zonemta-wildduck write them:
 * ttlcounter.lua is INCRBY + EXPIRE on a string, limitedcounter.lua is HSET _version + HINCRBY on lim:imap.
 */
import Redis from 'ioredis';
import { createLogger } from '../../exporters/kit/log';
import { runExporter, type RunningExporter } from '../../exporters/kit/run';
import { definition } from '../../exporters/redis';
import { KeyScanner } from '../../exporters/redis/mail-keys';
import { sample, scrape, scrapeUntil } from '../helpers/exposition';
import { freePort, RedisServer } from './helpers';

const U1 = '6510f1c2a0b1c2d3e4f5a6b7';
const U2 = '6510f1c2a0b1c2d3e4f5a6b8';
const U3 = '6510f1c2a0b1c2d3e4f5a6b9';

const metricsUrl = (r: RunningExporter) => `${r.url}/metrics`;
/** The scan runs in the background on its interval: wait for what it should find. */
const scrapeUntilReady = (r: RunningExporter, ready: (body: string) => boolean) => scrapeUntil(metricsUrl(r), ready, 10_000);

const scanCompletedAfter = (since: number) => (body: string) =>
  (sample(body, 'redis_mail_keys_scan_last_complete_timestamp_seconds') ?? 0) * 1000 >= since;

async function ttlcounter(db: Redis, key: string, count: number, windowSeconds: number): Promise<void> {
  await db.multi().incrby(key, count).expire(key, windowSeconds).exec();
}

async function writeWildDuckKeys(db: Redis): Promise<void> {
  await db.hset('lim:imap', '_version', String(Date.now()));
  await db.hincrby('lim:imap', U1, 3);
  await db.hincrby('lim:imap', U2, 1);
  await ttlcounter(db, `auth_user:${U1}`, 12, 120); // at USER_AUTH_FAILURES: locked out
  await ttlcounter(db, `auth_user:${U2}`, 3, 120);
  await ttlcounter(db, 'auth_user:nosuchname', 1, 120);
  await ttlcounter(db, `auth_user:totp:${U3}`, 6, 180); // at TOTP_FAILURES: locked out
  for (const u of [U1, U2, U3, 'srs-target']) await ttlcounter(db, `rl:rcpt:${u}`, 1, 60);
  await ttlcounter(db, `rl:rcptIp:192.0.2.7:${U1}`, 1, 3600);
  await ttlcounter(db, `rl:rcptIp:192.0.2.8:${U1}`, 1, 3600);
  for (const u of [U1, U2, U3]) await ttlcounter(db, `wdr:${u}`, 5, 86400);
  await ttlcounter(db, `wdf:${U2}`, 1, 86400);
  // Everything else in WildDuck's database: many keys the scan must walk past.
  const noise = db.pipeline();
  for (let i = 0; i < 600; i++) noise.set(`bull:tasks:${i}`, 'x');
  await noise.exec();
}

describe('redis exporter against a real redis-server', () => {
  let server: RedisServer;
  let running: RunningExporter | undefined;
  let db3: Redis | undefined;

  beforeEach(async () => {
    server = await RedisServer.start();
  });
  afterEach(async () => {
    await running?.stop();
    running = undefined;
    db3?.disconnect();
    db3 = undefined;
    await server.stop();
  });

  test('INFO, mail keys over several budgeted passes, then down (up 0, nothing stale) and recovery', async () => {
    db3 = new Redis(`${server.uri}/3`);
    await writeWildDuckKeys(db3);
    const db0 = new Redis(`${server.uri}/0`);
    await db0.set(`wdr:${U1}`, '1'); // another database: not WildDuck's, not counted
    db0.disconnect();

    const started = Date.now();
    running = await runExporter(definition, [
      '--web.listen-address=127.0.0.1:0',
      `--redis.uri=${server.uri}/3`,
      '--redis.scan-interval=20ms',
      '--redis.scan-count=50',
      '--redis.scan-key-budget=200',
    ], { log: createLogger({ write: () => undefined }) });

    const body = await scrapeUntilReady(running, scanCompletedAfter(started));
    expect(sample(body, 'redis_up')).toBe(1);
    expect(body).toMatch(/^redis_server_info\{version="\d+\.\d+\.\d+",mode="standalone"\} 1$/m);
    expect(sample(body, 'redis_memory_used_bytes')).toBeGreaterThan(0);
    expect(sample(body, 'redis_db_keys', { db: '3' })).toBe(615);
    expect(sample(body, 'redis_db_keys', { db: '0' })).toBe(1);
    expect(sample(body, 'redis_replication_role', { role: 'master' })).toBe(1);

    expect(sample(body, 'redis_wildduck_imap_connections')).toBe(4);
    expect(sample(body, 'redis_wildduck_imap_connected_users')).toBe(2);
    expect(sample(body, 'redis_wildduck_imap_connections_per_user_max')).toBe(3);
    expect(sample(body, 'redis_wildduck_auth_failure_counters', { kind: 'password' })).toBe(3);
    expect(sample(body, 'redis_wildduck_auth_failure_counters', { kind: 'totp' })).toBe(1);
    expect(sample(body, 'redis_wildduck_auth_lockouts', { kind: 'password' })).toBe(1);
    expect(sample(body, 'redis_wildduck_auth_lockouts', { kind: 'totp' })).toBe(1);
    expect(sample(body, 'redis_wildduck_rate_limit_counters', { family: 'rl:rcpt' })).toBe(4);
    expect(sample(body, 'redis_wildduck_rate_limit_counters', { family: 'rl:rcptIp' })).toBe(2);
    expect(sample(body, 'redis_wildduck_rate_limit_counters', { family: 'wdr' })).toBe(3);
    expect(sample(body, 'redis_wildduck_rate_limit_counters', { family: 'wdf' })).toBe(1);
    // 615 keys with a 200-key budget per pass: the cycle needed several passes and saw every key.
    expect(sample(body, 'redis_mail_keys_scan_passes')).toBeGreaterThanOrEqual(3);
    expect(sample(body, 'redis_mail_keys_scan_keys')).toBeGreaterThanOrEqual(615);
    expect(sample(body, 'redis_mail_keys_scan_passes_total', { result: 'budget' })).toBeGreaterThanOrEqual(2);
    expect(sample(body, 'redis_scrape_collector_success', { collector: 'info' })).toBe(1);
    expect(sample(body, 'redis_scrape_collector_success', { collector: 'imap_connections' })).toBe(1);
    expect(sample(body, 'redis_scrape_collector_success', { collector: 'mail_keys' })).toBe(1);
    // No key name, user id or address reaches a label.
    expect(body).not.toMatch(new RegExp(`${U1}|${U2}|nosuchname|192\\.0\\.2\\.`));

    // Redis dies: the scrape still answers 200, quickly, with up 0 and no stale Redis or mail figures.
    db3.disconnect();
    db3 = undefined;
    await server.stop();
    const t0 = performance.now();
    const down = (await scrape(metricsUrl(running))).text;
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(sample(down, 'redis_up')).toBe(0);
    expect(sample(down, 'redis_memory_used_bytes')).toBeUndefined();
    expect(sample(down, 'redis_db_keys', { db: '3' })).toBeUndefined();
    expect(sample(down, 'redis_wildduck_imap_connections')).toBeUndefined();
    expect(sample(down, 'redis_scrape_collector_success', { collector: 'info' })).toBe(0);
    const gone = await scrapeUntilReady(running, (b) => sample(b, 'redis_wildduck_rate_limit_counters', { family: 'wdr' }) === undefined);
    expect(sample(gone, 'redis_mail_keys_scan_passes_total', { result: 'error' })).toBeGreaterThanOrEqual(1);

    // Redis comes back (empty: no persistence): the exporter reconnects by itself and scans again.
    await server.start();
    db3 = new Redis(`${server.uri}/3`);
    await ttlcounter(db3, `wdr:${U1}`, 1, 86400);
    const back = Date.now();
    const recovered = await scrapeUntilReady(running, (b) => sample(b, 'redis_up') === 1 && scanCompletedAfter(back)(b));
    expect(sample(recovered, 'redis_wildduck_rate_limit_counters', { family: 'wdr' })).toBe(1);
    expect(sample(recovered, 'redis_wildduck_rate_limit_counters', { family: 'rl:rcpt' })).toBe(0);
    expect(sample(recovered, 'redis_wildduck_imap_connections')).toBe(0);
  });

  test('down from the start: up 0 at once, and the password in --redis.uri never reaches the logs', async () => {
    const port = await freePort();
    const lines: string[] = [];
    running = await runExporter(definition, ['--web.listen-address=127.0.0.1:0', `--redis.uri=redis://:s3cretpass@127.0.0.1:${port}/3`], {
      log: createLogger({ write: (l) => lines.push(l) }),
    });
    const body = (await scrape(metricsUrl(running))).text;
    expect(sample(body, 'redis_up')).toBe(0);
    expect(sample(body, 'redis_scrape_collector_success', { collector: 'info' })).toBe(0);
    // Said as an operator reads it: where Redis is (password masked) and the socket's reason, no ioredis internals.
    await scrape(metricsUrl(running));
    const unreachable = `Redis is unreachable at redis://:xxxxx@127.0.0.1:${port}/3`;
    expect(lines.some((l) => l.includes(`${unreachable}; retrying`) && l.includes(`ECONNREFUSED 127.0.0.1:${port}`))).toBe(true);
    expect(lines.some((l) => l.includes('collector failed') && l.includes(`${unreachable} (connect ECONNREFUSED`))).toBe(true);
    expect(lines.join('\n')).not.toMatch(/Stream isn't writeable|enableOfflineQueue/);
    expect(lines.join('\n')).not.toContain('s3cretpass');
  });

  test('--no-redis.mail-keys reads INFO only and never scans', async () => {
    db3 = new Redis(`${server.uri}/3`);
    await writeWildDuckKeys(db3);
    running = await runExporter(definition, ['--web.listen-address=127.0.0.1:0', `--redis.uri=${server.uri}/3`, '--no-redis.mail-keys'], {
      log: createLogger({ write: () => undefined }),
    });
    const body = (await scrape(metricsUrl(running))).text;
    expect(sample(body, 'redis_up')).toBe(1);
    expect(sample(body, 'redis_wildduck_imap_connections')).toBeUndefined();
    expect(sample(body, 'redis_mail_keys_scan_passes_total', { result: 'complete' })).toBe(0);
    expect(body).not.toContain('collector="mail_keys"');
  });

  test('a pass stops at its time budget and the next one continues where it stopped', async () => {
    db3 = new Redis(`${server.uri}/3`);
    await writeWildDuckKeys(db3);
    const scanner = new KeyScanner(db3, { count: 10, pauseMs: 5, timeBudgetMs: 1, keyBudget: 1_000_000, lockoutFailures: { password: 12, totp: 6 } });
    const results: string[] = [];
    while (!scanner.published && results.length < 500) results.push(await scanner.pass());
    // 615 keys, about 10 per call; the pause (5 ms) outlasts the budget (1 ms): at most two calls per pass.
    expect(results.length).toBeGreaterThan(20);
    expect(results.slice(0, -1).every((r) => r === 'budget')).toBe(true);
    expect(results[results.length - 1]).toBe('complete');
    expect(scanner.published!.passes).toBe(results.length);
    expect(scanner.published!.counters).toEqual({ 'rl:rcpt': 4, 'rl:rcptIp': 2, wdr: 3, wdf: 1 });
    expect(scanner.published!.authLocked).toEqual({ password: 1, totp: 1 });
  });

  test('bad scan settings are refused before anything is served', async () => {
    await expect(runExporter(definition, ['--web.listen-address=127.0.0.1:0', '--redis.scan-count=0'])).rejects.toThrow(/--redis.scan-count must be greater than 0/);
    await expect(runExporter(definition, ['--web.listen-address=127.0.0.1:0', '--redis.uri=http://x'])).rejects.toThrow(/redis:\/\//);
  });
});
