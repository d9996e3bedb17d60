/** Data stores: MongoDB (replica set, load, mail databases) and Redis (memory, clients, persistence, mail keys). */
import { type DashboardSpec, HOST, hostVariables, stat, table, timeseries } from '../lib';

const H = HOST;
const RI = '$__rate_interval';

export const datastores: DashboardSpec = {
  uid: 'tinomail-datastores',
  title: 'Mail / Data stores (MongoDB, Redis)',
  description:
    'MongoDB holds every mailbox, attachment and the ZoneMTA queue; Redis holds rate limits, counters, IMAP notifications and BullMQ queues. Fed by the mongodb and redis exporters.',
  variables: [...hostVariables('{__name__=~"mongodb_up|redis_up"}')],
  rows: [
    {
      title: 'Now',
      panels: [
        stat({
          title: 'MongoDB reachable',
          description: 'mongodb_up: whether the mongodb exporter reached MongoDB at the last scrape (1). At 0 WildDuck and ZoneMTA cannot work.',
          unit: 'bool',
          criticalBelow: 1,
          alerts: ['TinomailMongoDBDown'],
          queries: [{ expr: `min(mongodb_up{${H}})` }],
        }),
        stat({
          title: 'Replica set has a primary',
          description: 'Whether the replica set has a healthy primary (1). Without one every write fails: no mail is stored or queued.',
          unit: 'bool',
          criticalBelow: 1,
          alerts: ['TinomailMongoDBNoPrimary'],
          queries: [{ expr: `min(mongodb_replset_primary_present{${H}})` }],
        }),
        stat({
          title: 'Redis reachable',
          description: 'redis_up: whether the redis exporter reached Redis at the last scrape (1).',
          unit: 'bool',
          criticalBelow: 1,
          alerts: ['TinomailRedisDown'],
          queries: [{ expr: `min(redis_up{${H}})` }],
        }),
        stat({
          title: 'Redis memory of maxmemory',
          description: 'Memory Redis uses as a share of maxmemory (empty when no maxmemory is set). Near 100% Redis evicts keys or refuses writes.',
          unit: 'percentunit',
          warnAt: 0.8,
          criticalAt: 0.95,
          alerts: ['TinomailRedisMemoryNearLimit'],
          queries: [{ expr: `max(redis_memory_used_bytes{${H}} / (redis_memory_max_bytes{${H}} > 0))` }],
        }),
      ],
    },
    {
      title: 'MongoDB replica set',
      panels: [
        table({
          title: 'Members',
          description: 'State of each replica set member as seen from each mongod (1 PRIMARY, 2 SECONDARY, 3 RECOVERING, 7 ARBITER, 8 DOWN, 9 ROLLBACK) and whether it is healthy.',
          unit: 'short',
          height: 6,
          alerts: ['TinomailMongoDBMemberUnhealthy', 'TinomailMongoDBMemberNotServing'],
          queries: [
            { expr: `max by (instance, member) (mongodb_replset_member_state{${H}})` },
            { expr: `min by (instance, member) (mongodb_replset_member_health{${H}})` },
          ],
        }),
        timeseries({
          title: 'Replication lag',
          description: 'How far each member\'s last applied operation is behind the primary. Reads from a lagging secondary see old mail.',
          unit: 's',
          alerts: ['TinomailMongoDBReplicationLag'],
          queries: [{ expr: `max by (member) (mongodb_replset_member_replication_lag_seconds{${H}})`, legend: '{{member}}' }],
        }),
        timeseries({
          title: 'Oplog window',
          description: 'Time between the oldest and newest oplog entries: how long a member may be down and still catch up without a full resync; and the headroom, the window minus the largest replication lag (the alert fires under 2 hours).',
          unit: 's',
          alerts: ['TinomailMongoDBOplogHeadroomLow'],
          queries: [
            { expr: `min by (instance) (mongodb_replset_oplog_window_seconds{${H}})`, legend: '{{instance}} window' },
            {
              expr: `min by (instance) (mongodb_replset_oplog_window_seconds{${H}}) - on (instance) (max by (instance) (mongodb_replset_member_replication_lag_seconds{${H}}))`,
              legend: '{{instance}} headroom',
            },
          ],
        }),
      ],
    },
    {
      title: 'MongoDB load',
      panels: [
        timeseries({
          title: 'Operations by type',
          description: 'Operations per second by type (insert, query, update, delete, getmore, command).',
          unit: 'ops',
          queries: [{ expr: `sum by (type) (rate(mongodb_operations_total{${H}}[${RI}]))`, legend: '{{type}}' }],
        }),
        timeseries({
          title: 'Mean operation latency',
          description: 'Mean time per operation by type (reads, writes, commands, transactions): time spent divided by operations in the same interval.',
          unit: 's',
          queries: [
            {
              expr: `sum by (type) (rate(mongodb_operation_latency_seconds_total{${H}}[${RI}])) / sum by (type) (rate(mongodb_operation_latency_operations_total{${H}}[${RI}]))`,
              legend: '{{type}}',
            },
          ],
        }),
        timeseries({
          title: 'Connections',
          description: 'Client connections by state: current (open), available (free slots), active (running an operation). Current plus available is the limit; at it new connections are refused.',
          unit: 'short',
          alerts: ['TinomailMongoDBConnectionsNearLimit'],
          queries: [{ expr: `sum by (state) (mongodb_connections{${H}})`, legend: '{{state}}' }],
        }),
        timeseries({
          title: 'WiredTiger cache',
          description: 'Bytes in the WiredTiger cache, dirty bytes not yet written, and the configured size. A cache always full with many dirty bytes means the disk is too slow.',
          unit: 'bytes',
          queries: [
            { expr: `sum(mongodb_wiredtiger_cache_bytes{${H}})`, legend: 'in cache' },
            { expr: `sum(mongodb_wiredtiger_cache_dirty_bytes{${H}})`, legend: 'dirty' },
            { expr: `sum(mongodb_wiredtiger_cache_max_bytes{${H}})`, legend: 'configured' },
          ],
        }),
        timeseries({
          title: 'Network',
          description: 'Bytes mongod received and sent per second.',
          unit: 'Bps',
          queries: [{ expr: `sum by (direction) (rate(mongodb_network_bytes_total{${H}}[${RI}]))`, legend: '{{direction}}' }],
        }),
        timeseries({
          title: 'mongod memory',
          description: 'Resident and virtual memory of the mongod process.',
          unit: 'bytes',
          queries: [{ expr: `sum by (type) (mongodb_memory_bytes{${H}})`, legend: '{{type}}' }],
        }),
      ],
    },
    {
      title: 'MongoDB mail data',
      panels: [
        timeseries({
          title: 'Database size on disk',
          description: 'Disk space of each mail database: collections (compressed) and indexes.',
          unit: 'bytes',
          stacked: true,
          queries: [
            { expr: `max by (database) (mongodb_database_storage_bytes{${H}})`, legend: '{{database}} data' },
            { expr: `max by (database) (mongodb_database_index_bytes{${H}})`, legend: '{{database}} indexes' },
          ],
        }),
        timeseries({
          title: 'GridFS buckets',
          description: 'Disk space of the GridFS buckets: WildDuck attachments and the ZoneMTA queued message bodies.',
          unit: 'bytes',
          queries: [{ expr: `max by (database, bucket) (mongodb_gridfs_bucket_storage_bytes{${H}})`, legend: '{{database}}/{{bucket}}' }],
        }),
        timeseries({
          title: 'WildDuck documents',
          description: 'Estimated documents in the WildDuck collections (users, addresses, mailboxes, messages).',
          unit: 'short',
          queries: [{ expr: `max by (collection) (mongodb_wildduck_collection_documents{${H}})`, legend: '{{collection}}' }],
        }),
        timeseries({
          title: 'MongoDB exporter collectors',
          description: 'Whether each collector of the mongodb exporter (server, replset, databases, queue) succeeded at the last scrape (1); a failing collector leaves its panels empty.',
          unit: 'bool',
          alerts: ['TinomailCollectorFailing'],
          queries: [{ expr: `min by (collector) (mongodb_scrape_collector_success{${H}})`, legend: '{{collector}}' }],
        }),
      ],
    },
    {
      title: 'Redis',
      panels: [
        timeseries({
          title: 'Memory',
          description: 'Memory Redis allocated for data, resident memory of the process, and maxmemory (0 = no limit). BullMQ needs the noeviction policy.',
          unit: 'bytes',
          alerts: ['TinomailRedisMemoryNearLimit'],
          queries: [
            { expr: `max(redis_memory_used_bytes{${H}})`, legend: 'used' },
            { expr: `max(redis_memory_rss_bytes{${H}})`, legend: 'resident' },
            { expr: `max(redis_memory_max_bytes{${H}})`, legend: 'maxmemory' },
          ],
        }),
        timeseries({
          title: 'Commands',
          description: 'Commands Redis processed per second.',
          unit: 'ops',
          queries: [{ expr: `sum(rate(redis_commands_processed_total{${H}}[${RI}]))`, legend: 'commands' }],
        }),
        timeseries({
          title: 'Clients',
          description: 'Client connections open, blocked in a blocking call (BullMQ workers), and maxclients.',
          unit: 'short',
          alerts: ['TinomailRedisClientsNearLimit'],
          queries: [
            { expr: `max(redis_connected_clients{${H}})`, legend: 'connected' },
            { expr: `max(redis_blocked_clients{${H}})`, legend: 'blocked' },
            { expr: `max(redis_max_clients{${H}})`, legend: 'maxclients' },
          ],
        }),
        timeseries({
          title: 'Evictions and refused connections',
          description: 'Keys evicted because of maxmemory and connections refused at maxclients, per second. Any eviction can lose rate-limit counters or BullMQ jobs.',
          unit: 'ops',
          alerts: ['TinomailRedisEvictingKeys'],
          queries: [
            { expr: `sum(rate(redis_evicted_keys_total{${H}}[${RI}]))`, legend: 'evicted keys' },
            { expr: `sum(rate(redis_rejected_connections_total{${H}}[${RI}]))`, legend: 'refused connections' },
          ],
        }),
        table({
          title: 'Policy, persistence and replication',
          description: 'Per Redis: the maxmemory policy (WildDuck\'s BullMQ queues need noeviction), whether the last RDB save and AOF write succeeded (0: Redis may refuse writes), and on a replica whether the link to its primary is up.',
          unit: 'short',
          height: 6,
          alerts: ['TinomailRedisEvictionPolicyWrong', 'TinomailRedisPersistenceFailing', 'TinomailRedisReplicaLinkDown'],
          queries: [
            { expr: `max by (instance, policy) (redis_memory_max_policy{${H}}) == 1` },
            { expr: `min by (instance) (redis_rdb_last_bgsave_success{${H}})` },
            { expr: `min by (instance) (redis_aof_last_write_success{${H}})` },
            { expr: `min by (instance) (redis_replication_master_link_up{${H}})` },
          ],
        }),
        timeseries({
          title: 'Time since last snapshot',
          description: 'Time since the last successful RDB snapshot: what a Redis restart would lose when only RDB persistence is used.',
          unit: 's',
          queries: [{ expr: `time() - max(redis_rdb_last_save_timestamp_seconds{${H}})`, legend: 'since last snapshot' }],
        }),
        timeseries({
          title: 'Keys by database',
          description: 'Keys in each Redis database (WildDuck uses database 3 by default).',
          unit: 'short',
          queries: [{ expr: `max by (db) (redis_db_keys{${H}})`, legend: 'db {{db}}' }],
        }),
        timeseries({
          title: 'WildDuck rate-limit counters',
          description: 'Live WildDuck rate-limit counters in Redis by key family (rl:rcpt, rl:rcptIp, wdr, wdf), from the last complete SCAN.',
          unit: 'short',
          queries: [{ expr: `max by (family) (redis_wildduck_rate_limit_counters{${H}})`, legend: '{{family}}' }],
        }),
        timeseries({
          title: 'Mail key scan age',
          description: "Time since the redis exporter last finished a SCAN of WildDuck's keys; the lockout and rate-limit panels are that old.",
          unit: 's',
          queries: [{ expr: `time() - max(redis_mail_keys_scan_last_complete_timestamp_seconds{${H}})`, legend: 'since last scan' }],
        }),
      ],
    },
  ],
};
