/**
 * Accounts near their daily recipient limit, from zonemta-wildduck's `wdr:<user id>` counters: on literal
 * values, and through the exporter against a real redis-server holding the counters the way its ttlcounter
 * writes them (INCRBY the message's recipients; EXPIRE 86400 when the key is new; at the limit it stops
 * counting, but a message's recipients are added at once, so a counter can pass the limit).
 */
import Redis from 'ioredis';
import { createLogger } from '../../exporters/kit/log';
import { runExporter, type RunningExporter } from '../../exporters/kit/run';
import { definition } from '../../exporters/redis';
import { addUsage, emptyUsage } from '../../exporters/redis/mail-keys';
import { sample, scrapeUntil } from '../helpers/exposition';
import { RedisServer } from './helpers';

describe('addUsage', () => {
  test('buckets, thresholds (at or above) and the highest fraction', () => {
    const usage = emptyUsage();
    for (const sent of [0, 10, 50, 79, 80, 99, 100, 130]) addUsage(usage, sent, 100);
    expect(usage.accounts).toBe(8);
    // bounds 0.1, 0.25, 0.5, 0.8, 0.9, 1, above
    expect(usage.buckets).toEqual([2, 0, 1, 2, 0, 2, 1]);
    // >= 0.5: 50, 79, 80, 99, 100, 130; >= 0.8: 80, 99, 100, 130; >= 1: 100, 130
    expect(usage.atOrAbove).toEqual([6, 4, 2]);
    expect(usage.max).toBeCloseTo(1.3);
  });

  test('no counters: nothing near the limit', () => {
    expect(emptyUsage()).toEqual({ accounts: 0, buckets: [0, 0, 0, 0, 0, 0, 0], atOrAbove: [0, 0, 0], max: 0 });
  });
});

/** zonemta-wildduck's message:queue hook: ttlcounter('wdr:' + user, envelope.to.length, limit) after queueing. */
async function sendRecipients(db: Redis, user: string, recipients: number): Promise<void> {
  const key = `wdr:${user}`;
  const before = Number(await db.get(key)) || 0;
  await db.incrby(key, recipients);
  if (before === 0) await db.expire(key, 86400);
}

describe('redis exporter: accounts near their recipient limit, on a real redis-server', () => {
  let server: RedisServer;
  let db: Redis | undefined;
  let running: RunningExporter | undefined;

  beforeAll(async () => {
    server = await RedisServer.start();
  });
  afterAll(async () => {
    await running?.stop();
    db?.disconnect();
    await server?.stop();
  });

  test('the snapshot histogram, the counts above 50/80/100 % and the maximum, with no user in any label', async () => {
    db = new Redis(`${server.uri}/3`);
    const users = ['6510f1c2a0b1c2d3e4f5a601', '6510f1c2a0b1c2d3e4f5a602', '6510f1c2a0b1c2d3e4f5a603', '6510f1c2a0b1c2d3e4f5a604', '6510f1c2a0b1c2d3e4f5a605'];
    // limit 200: 5 %, 45 %, 85 %, 100 % (refused from now on), 115 % (one last message with 30 recipients)
    const sent = [10, 90, 170, 200, 230];
    for (const [i, user] of users.entries()) {
      for (let left = sent[i]; left > 0; left -= Math.min(left, 30)) await sendRecipients(db, user, Math.min(left, 30));
    }
    await db.set('wdr:junk', 'not a number'); // never written by WildDuck: skipped, not an account
    await db.set(`rl:rcpt:${users[0]}`, '5'); // another family: not sending
    running = await runExporter(definition, ['--web.listen-address=127.0.0.1:0', `--redis.uri=${server.uri}/3`, '--redis.scan-interval=50ms', '--redis.recipient-limit=200'], {
      log: createLogger({ write: () => undefined }),
    });
    const body = await scrapeUntil(`${running.url}/metrics`, (b) => sample(b, 'redis_wildduck_sending_accounts') !== undefined, 10_000);
    expect(sample(body, 'redis_wildduck_recipient_limit')).toBe(200);
    expect(sample(body, 'redis_wildduck_sending_accounts')).toBe(5);
    expect(sample(body, 'redis_wildduck_accounts_near_recipient_limit', { threshold: '0.5' })).toBe(3);
    expect(sample(body, 'redis_wildduck_accounts_near_recipient_limit', { threshold: '0.8' })).toBe(3);
    expect(sample(body, 'redis_wildduck_accounts_near_recipient_limit', { threshold: '1' })).toBe(2);
    expect(sample(body, 'redis_wildduck_recipient_usage_ratio_max')).toBeCloseTo(1.15);
    const buckets = ['0.1', '0.25', '0.5', '0.8', '0.9', '1', '+Inf'].map((le) => sample(body, 'redis_wildduck_recipient_usage_accounts', { le }));
    expect(buckets).toEqual([1, 1, 2, 2, 3, 4, 5]);
    expect(body).not.toMatch(/6510f1c2a0b1c2d3e4f5a6/);

    // The accounts' windows end (the keys expire): the next cycle shows nobody sending.
    for (const user of users) await db.del(`wdr:${user}`);
    const quiet = await scrapeUntil(`${running.url}/metrics`, (b) => sample(b, 'redis_wildduck_sending_accounts') === 0, 10_000);
    expect(sample(quiet, 'redis_wildduck_accounts_near_recipient_limit', { threshold: '0.8' })).toBe(0);
    expect(sample(quiet, 'redis_wildduck_recipient_usage_accounts', { le: '+Inf' })).toBe(0);
  });

  test('a limit of 0 is refused', async () => {
    await expect(runExporter(definition, ['--web.listen-address=127.0.0.1:0', '--redis.recipient-limit=0'])).rejects.toThrow(/--redis.recipient-limit must be greater than 0/);
  });
});
