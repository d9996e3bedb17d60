/**
 * INFO parsing on literal text. The fixtures are the verbatim INFO replies (CRLF included) of a real
 * redis-server 7.0.15 primary with one online replica, and of that replica, captured on this machine.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { InfoMetrics, parseInfo, parseSubfields } from '../../exporters/redis/info';
import { describeRedisError } from '../../exporters/redis';
import { sample } from '../helpers/exposition';

const fixture = (name: string) => readFileSync(join(__dirname, 'fixtures', name), 'utf8');

describe('parseInfo', () => {
  test('reads fields of every section, skipping headers and blank lines, keeping values with colons', () => {
    const info = parseInfo('# Server\r\nredis_version:7.0.15\r\n\r\n# Clients\r\nconnected_clients:3\r\nexecutable:/usr/bin/redis-server\r\nconfig_file:C:\\x:y\r\nnot a field\r\n');
    expect(Object.fromEntries(info)).toEqual({
      redis_version: '7.0.15',
      connected_clients: '3',
      executable: '/usr/bin/redis-server',
      config_file: 'C:\\x:y',
    });
  });

  test('a real primary INFO', () => {
    const info = parseInfo(fixture('info-primary-7.0.txt'));
    expect(info.get('redis_version')).toBe('7.0.15');
    expect(info.get('role')).toBe('master');
    expect(info.get('used_memory')).toBe('1084456');
    expect(info.get('db3')).toBe('keys=5,expires=5,avg_ttl=86399234');
    expect(parseSubfields(info.get('slave0')!)).toEqual({ ip: '127.0.0.1', port: '6392', state: 'online', offset: '498', lag: '0' });
  });
});

describe('InfoMetrics', () => {
  async function render(text: string): Promise<string> {
    const registry = new Registry();
    new InfoMetrics(registry).fill(parseInfo(text));
    return registry.metrics();
  }

  test('a primary: memory, clients, counters, persistence, keyspace and replica lag by index', async () => {
    const body = await render(fixture('info-primary-7.0.txt'));
    expect(body).toMatch(/^redis_server_info\{version="7\.0\.15",mode="standalone"\} 1$/m);
    expect(sample(body, 'redis_memory_used_bytes')).toBe(1084456);
    expect(sample(body, 'redis_memory_rss_bytes')).toBe(12320768);
    expect(sample(body, 'redis_memory_max_bytes')).toBe(0);
    expect(sample(body, 'redis_memory_fragmentation_ratio')).toBe(11.8);
    expect(sample(body, 'redis_memory_max_policy', { policy: 'noeviction' })).toBe(1);
    expect(sample(body, 'redis_connected_clients')).toBe(1);
    expect(sample(body, 'redis_max_clients')).toBe(10000);
    expect(sample(body, 'redis_commands_processed_total')).toBe(19);
    expect(sample(body, 'redis_evicted_keys_total')).toBe(0);
    expect(sample(body, 'redis_rejected_connections_total')).toBe(0);
    expect(sample(body, 'redis_cpu_system_seconds_total')).toBe(0.003997);
    expect(sample(body, 'redis_rdb_last_bgsave_success')).toBe(1);
    expect(sample(body, 'redis_rdb_last_save_timestamp_seconds')).toBe(1795440523);
    expect(sample(body, 'redis_aof_enabled')).toBe(0);
    expect(sample(body, 'redis_replication_role', { role: 'master' })).toBe(1);
    expect(sample(body, 'redis_connected_replicas')).toBe(1);
    expect(sample(body, 'redis_replication_replica_lag_seconds', { replica: '0' })).toBe(0);
    expect(sample(body, 'redis_replication_replica_offset_lag_bytes', { replica: '0' })).toBe(0);
    expect(sample(body, 'redis_db_keys', { db: '0' })).toBe(1);
    expect(sample(body, 'redis_db_keys', { db: '3' })).toBe(5);
    expect(sample(body, 'redis_db_keys_expiring', { db: '3' })).toBe(5);
    // A primary has no link to a primary: the replica-side metric stays empty rather than 0.
    expect(sample(body, 'redis_replication_master_link_up')).toBeUndefined();
    // The replica's address never becomes a label.
    expect(body).not.toContain('127.0.0.1');
  });

  test('a replica: role, link up and last I/O', async () => {
    const body = await render(fixture('info-replica-7.0.txt'));
    expect(sample(body, 'redis_replication_role', { role: 'slave' })).toBe(1);
    expect(sample(body, 'redis_replication_master_link_up')).toBe(1);
    expect(sample(body, 'redis_replication_master_last_io_seconds')).toBe(1);
  });

  test('a replica whose link is down: link 0, no -1 seconds, failed saves, lagging replicas', async () => {
    const text = [
      'role:slave',
      'master_link_status:down',
      'master_last_io_seconds_ago:-1',
      'rdb_last_bgsave_status:err',
      'aof_last_write_status:err',
      'master_repl_offset:1000',
      'slave0:ip=10.0.0.9,port=6379,state=online,offset=400,lag=7',
      'maxmemory_policy:something-new',
    ].join('\r\n');
    const body = await render(text);
    expect(sample(body, 'redis_replication_master_link_up')).toBe(0);
    expect(sample(body, 'redis_replication_master_last_io_seconds')).toBeUndefined();
    expect(sample(body, 'redis_rdb_last_bgsave_success')).toBe(0);
    expect(sample(body, 'redis_aof_last_write_success')).toBe(0);
    expect(sample(body, 'redis_replication_replica_lag_seconds', { replica: '0' })).toBe(7);
    expect(sample(body, 'redis_replication_replica_offset_lag_bytes', { replica: '0' })).toBe(600);
    expect(sample(body, 'redis_memory_max_policy', { policy: 'other' })).toBe(1);
    expect(body).not.toContain('10.0.0.9');
  });

  test('clear() leaves no value behind (a down Redis shows no stale figures), fill() after it restores them', async () => {
    const registry = new Registry();
    const metrics = new InfoMetrics(registry);
    const info = parseInfo(fixture('info-primary-7.0.txt'));
    metrics.fill(info);
    metrics.clear();
    const cleared = await registry.metrics();
    expect(cleared.split('\n').filter((l) => l && !l.startsWith('#'))).toEqual([]);
    metrics.fill(info);
    expect(sample(await registry.metrics(), 'redis_commands_processed_total')).toBe(19);
  });
});

describe('describeRedisError', () => {
  const where = 'redis://:xxxxx@10.0.0.7:6379/3';
  test.each([
    ["Stream isn't writeable and enableOfflineQueue options is false", 'connect ECONNREFUSED 10.0.0.7:6379', `Redis is unreachable at ${where} (connect ECONNREFUSED 10.0.0.7:6379)`],
    ['Connection is closed.', '', `Redis is unreachable at ${where}`],
    ['connect ETIMEDOUT', '', `Redis is unreachable at ${where} (connect ETIMEDOUT)`],
    ["WRONGTYPE Operation against a key holding the wrong kind of value", '', 'WRONGTYPE Operation against a key holding the wrong kind of value'],
  ])('%p -> says where and why', (message, cause, expected) => {
    expect(describeRedisError(new Error(message), where, cause)).toBe(expected);
  });
});
