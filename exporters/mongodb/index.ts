/**
 * `tinomail-monitor mongodb`: MongoDB as a mail system sees it. Server health (serverStatus), the replica
 * set, the size of the WildDuck and ZoneMTA databases and ZoneMTA's queue per sending zone, each a
 * collector with its own deadline (kit CollectorRunner). A mongod that cannot be reached is `mongodb_up 0`
 * within --mongodb.connect-timeout; the driver reconnects by itself when it returns.
 */
import { setMaxListeners } from 'node:events';
import { MongoClient, type MongoClientOptions } from 'mongodb';
import type { Exporter, ExporterContext, ExporterDefinition, ScrapeContext } from '../kit/exporter';
import { CollectorRunner } from '../kit/collectors';
import type { FlagSpec } from '../kit/flags';
import { redactUrl } from '../kit/log';
import type { MongoCollector } from './collector';
import { DatabasesCollector } from './databases';
import { OplogCollector } from './oplog';
import { QueueCollector } from './queue';
import { ReplSetCollector } from './replset';
import { ServerStatusCollector } from './server-status';

export const COLLECTORS = ['server', 'replset', 'oplog', 'databases', 'queue'] as const;

const flags: FlagSpec[] = [
  {
    name: 'mongodb.uri',
    type: 'string',
    default: 'mongodb://127.0.0.1:27017/',
    secret: true,
    help: 'MongoDB connection string. A single host is watched directly (directConnection) unless the URI says otherwise.',
  },
  { name: 'mongodb.connect-timeout', type: 'duration', default: '2s', help: 'How long to wait for MongoDB before a scrape reports mongodb_up 0.' },
  {
    name: 'mongodb.collector-timeout',
    type: 'duration',
    default: '5s',
    help: 'Deadline of each collector within the scrape timeout; also sent as maxTimeMS so MongoDB stops the work.',
  },
  { name: 'mongodb.collectors', type: 'list', default: COLLECTORS.join(','), help: `Collectors to run (${COLLECTORS.join(', ')}).` },
  { name: 'mongodb.wildduck-database', type: 'string', default: 'wildduck', help: "WildDuck's main database (its dbs.mongo): mailboxes, messages." },
  { name: 'mongodb.users-database', type: 'string', default: '', help: "WildDuck's users database (its dbs.users); empty: the main database." },
  { name: 'mongodb.attachments-database', type: 'string', default: '', help: "WildDuck's attachment database (its dbs.gridfs); empty: the main database." },
  { name: 'mongodb.attachments-bucket', type: 'string', default: 'attachments', help: "WildDuck's GridFS bucket prefix for attachments (attachments.bucket)." },
  { name: 'mongodb.queue-database', type: 'string', default: 'zone-mta', help: "ZoneMTA's database (its dbs.mongo; WildDuck's dbs.sender)." },
  { name: 'mongodb.queue-collection', type: 'string', default: 'zone-queue', help: "ZoneMTA's queue collection (queue.collection)." },
  { name: 'mongodb.queue-bucket', type: 'string', default: 'mail', help: "ZoneMTA's GridFS bucket for queued messages (queue.gfs)." },
  { name: 'mongodb.queue-zones', type: 'list', default: 'default', help: 'Sending zones always reported, with 0 when their queue is empty.' },
  { name: 'mongodb.queue-max-zones', type: 'int', default: '20', help: 'Sending zones reported by name at most; the rest are summed as zone="other".' },
];

/** One host, not SRV, no explicit choice: watch that mongod itself, not the replica set it belongs to. */
export function watchesSingleHost(uri: string): boolean {
  const m = /^mongodb:\/\/(?:[^@/]*@)?([^/?]*)/.exec(uri);
  return m !== null && !m[1].includes(',') && !/[?&]directConnection=/i.test(uri);
}

function create({ registry, flags: f, log }: ExporterContext): Exporter {
  const uri = String(f['mongodb.uri']);
  const connectTimeout = Number(f['mongodb.connect-timeout']);
  const collectorTimeout = Number(f['mongodb.collector-timeout']);
  const enabled = f['mongodb.collectors'] as string[];
  const unknown = enabled.filter((c) => !(COLLECTORS as readonly string[]).includes(c));
  if (unknown.length) throw new Error(`unknown collector ${unknown.join(', ')} in --mongodb.collectors (known: ${COLLECTORS.join(', ')})`);

  const options: MongoClientOptions = {
    appName: 'tinomail-monitor',
    serverSelectionTimeoutMS: connectTimeout,
    connectTimeoutMS: connectTimeout,
    maxPoolSize: 8,
    ...(watchesSingleHost(uri) ? { directConnection: true } : {}),
  };
  let client: MongoClient;
  try {
    client = new MongoClient(uri, options);
  } catch (err) {
    throw new Error(`invalid --mongodb.uri ${redactUrl(uri)}: ${(err as Error).message}`);
  }

  const wildduck = String(f['mongodb.wildduck-database']);
  const all: MongoCollector[] = [
    new ServerStatusCollector(client, registry),
    new ReplSetCollector(client, registry),
    new OplogCollector(client, registry),
    new DatabasesCollector(client, registry, {
      wildduck,
      users: String(f['mongodb.users-database']) || wildduck,
      attachments: String(f['mongodb.attachments-database']) || wildduck,
      attachmentsBucket: String(f['mongodb.attachments-bucket']),
      queue: String(f['mongodb.queue-database']),
      queueBucket: String(f['mongodb.queue-bucket']),
    }),
    new QueueCollector(client, registry, {
      database: String(f['mongodb.queue-database']),
      collection: String(f['mongodb.queue-collection']),
      zones: f['mongodb.queue-zones'] as string[],
      maxZones: Number(f['mongodb.queue-max-zones']),
    }),
  ];
  const collectors = all.filter((c) => enabled.includes(c.name));
  // A failed or timed-out collector drops its series rather than showing the previous scrape's.
  const runner = new CollectorRunner(
    'mongodb',
    registry,
    collectors.map((c) => ({
      name: c.name,
      collect: (ctx: ScrapeContext) => {
        // Collectors run several queries at once, each listening on the signal.
        const signal = AbortSignal.any([ctx.signal]);
        setMaxListeners(64, signal);
        return c.collect({ ...ctx, signal }).catch((err: unknown) => {
          c.clear();
          throw err;
        });
      },
    })),
    log,
  );
  let reachable: boolean | undefined;

  return {
    async start() {
      log.info('watching MongoDB', { uri: redactUrl(uri), collectors: collectors.map((c) => c.name).join(',') });
    },

    async scrape(ctx: ScrapeContext): Promise<boolean> {
      try {
        await client.db('admin').command({ ping: 1 }, { signal: ctx.signal });
      } catch (err) {
        for (const c of collectors) c.clear();
        // Say it once per outage, not once per scrape.
        if (reachable !== false) log.warn('MongoDB unreachable', { uri: redactUrl(uri), err: (err as Error).message });
        reachable = false;
        return false;
      }
      if (reachable === false) log.info('MongoDB reachable again', { uri: redactUrl(uri) });
      reachable = true;
      // Collectors end a little before the scrape does, so their results (and failures) are in this answer.
      const margin = Math.min(100, ctx.timeoutMs / 10);
      await runner.run({ ...ctx, deadline: Math.min(ctx.deadline - margin, Date.now() + collectorTimeout) });
      return true;
    },

    async stop() {
      await client.close();
    },
  };
}

export const definition: ExporterDefinition = {
  name: 'mongodb',
  description: 'MongoDB of a mail system: server, replica set, WildDuck and ZoneMTA databases, ZoneMTA queue per zone',
  defaultPort: 9743,
  target: (f) => String(f['mongodb.uri']),
  flags,
  create,
};
