/**
 * Collector `databases`: size of the mail databases (dbStats of WildDuck's, the attachment store's and
 * ZoneMTA's), estimated counts of WildDuck users, addresses, mailboxes and messages, and the GridFS buckets
 * that hold attachments (WildDuck) and queued message bodies (ZoneMTA). Everything here reads collection
 * metadata: no collection is scanned.
 */
import { Gauge, type Registry } from 'prom-client';
import { type Document, type MongoClient, MongoServerError } from 'mongodb';
import type { ScrapeContext } from '../kit/exporter';
import type { MongoCollector } from './collector';
import { clearMetrics, remainingMs, toNumber } from './values';

const NAMESPACE_NOT_FOUND = 26;

export interface MailDatabases {
  /** WildDuck's main database (mailboxes, messages): dbs.mongo. */
  wildduck: string;
  /** Where WildDuck keeps users and addresses: dbs.users, by default the main database. */
  users: string;
  /** Where WildDuck keeps attachments: dbs.gridfs, by default the main database. */
  attachments: string;
  /** WildDuck's attachment bucket prefix (attachments.bucket): `<bucket>.files`, `<bucket>.chunks`. */
  attachmentsBucket: string;
  /** ZoneMTA's database (dbs.mongo of ZoneMTA, dbs.sender of WildDuck). */
  queue: string;
  /** ZoneMTA's GridFS bucket for queued message bodies (queue.gfs). */
  queueBucket: string;
}

/** Collections whose document count is exported, and the database each one lives in. */
export function countedCollections(dbs: MailDatabases): Array<{ database: string; collection: string }> {
  return [
    { database: dbs.users, collection: 'users' },
    { database: dbs.users, collection: 'addresses' },
    { database: dbs.wildduck, collection: 'mailboxes' },
    { database: dbs.wildduck, collection: 'messages' },
  ];
}

export interface BucketStats {
  dataBytes: number;
  storageBytes: number;
  files: number;
}

/**
 * Sums `$collStats` storageStats (one document per shard) of a bucket's files and chunks collections.
 * The chunks' size is the uncompressed size of the stored contents plus a few dozen bytes per 255 KiB chunk.
 */
export function bucketStats(files: Document[], chunks: Document[]): BucketStats {
  const sum = (docs: Document[], field: string) => docs.reduce((n, d) => n + (toNumber(d.storageStats?.[field]) || 0), 0);
  return {
    dataBytes: sum(chunks, 'size'),
    storageBytes: sum(chunks, 'storageSize') + sum(files, 'storageSize'),
    files: sum(files, 'count'),
  };
}

export class DatabasesCollector implements MongoCollector {
  readonly name = 'databases';
  private readonly dataBytes: Gauge<'database'>;
  private readonly storageBytes: Gauge<'database'>;
  private readonly indexBytes: Gauge<'database'>;
  private readonly objects: Gauge<'database'>;
  private readonly documents: Gauge<'collection'>;
  private readonly bucketData: Gauge<'database' | 'bucket'>;
  private readonly bucketStorage: Gauge<'database' | 'bucket'>;
  private readonly bucketFiles: Gauge<'database' | 'bucket'>;

  constructor(
    private readonly client: MongoClient,
    registry: Registry,
    private readonly dbs: MailDatabases,
  ) {
    const registers = [registry];
    const perDb = (name: string, help: string) => new Gauge({ name, help, labelNames: ['database'], registers });
    this.dataBytes = perDb('mongodb_database_data_bytes', 'Uncompressed size of the documents in each mail database (dbStats.dataSize), in bytes.');
    this.storageBytes = perDb(
      'mongodb_database_storage_bytes',
      'Disk space allocated to the collections of each mail database, compressed, indexes excluded (dbStats.storageSize), in bytes.',
    );
    this.indexBytes = perDb('mongodb_database_index_bytes', 'Disk space of the indexes of each mail database (dbStats.indexSize), in bytes.');
    this.objects = perDb('mongodb_database_objects', 'Documents in each mail database (dbStats.objects).');
    this.documents = new Gauge({
      name: 'mongodb_wildduck_collection_documents',
      help: 'Estimated documents in WildDuck collections: users, addresses, mailboxes, messages (collection metadata count, no scan).',
      labelNames: ['collection'],
      registers,
    });
    const perBucket = (name: string, help: string) => new Gauge({ name, help, labelNames: ['database', 'bucket'], registers });
    this.bucketData = perBucket(
      'mongodb_gridfs_bucket_data_bytes',
      'Uncompressed size of the files in a GridFS bucket (WildDuck attachments, ZoneMTA queued messages): its chunks collection, in bytes.',
    );
    this.bucketStorage = perBucket('mongodb_gridfs_bucket_storage_bytes', 'Disk space of a GridFS bucket (files and chunks collections, compressed), in bytes.');
    this.bucketFiles = perBucket('mongodb_gridfs_bucket_files', 'Files stored in a GridFS bucket.');
  }

  private databases(): string[] {
    return [...new Set([this.dbs.wildduck, this.dbs.users, this.dbs.attachments, this.dbs.queue])];
  }

  private buckets(): Array<{ database: string; bucket: string }> {
    return [
      { database: this.dbs.attachments, bucket: this.dbs.attachmentsBucket },
      { database: this.dbs.queue, bucket: this.dbs.queueBucket },
    ];
  }

  async collect(ctx: ScrapeContext): Promise<void> {
    const opts = { signal: ctx.signal };
    const [stats, counts, buckets] = await Promise.all([
      Promise.all(this.databases().map((db) => this.client.db(db).command({ dbStats: 1, scale: 1, maxTimeMS: remainingMs(ctx) }, opts))),
      Promise.all(
        countedCollections(this.dbs).map(({ database, collection }) =>
          // count without a query answers from collection metadata (what estimatedDocumentCount sends).
          this.client.db(database).command({ count: collection, maxTimeMS: remainingMs(ctx) }, opts),
        ),
      ),
      Promise.all(
        this.buckets().map(async ({ database, bucket }) => {
          const [files, chunks] = await Promise.all([
            this.collStats(ctx, database, `${bucket}.files`),
            this.collStats(ctx, database, `${bucket}.chunks`),
          ]);
          return bucketStats(files, chunks);
        }),
      ),
    ]);
    ctx.signal.throwIfAborted();

    this.clear();
    this.databases().forEach((database, i) => {
      this.dataBytes.set({ database }, toNumber(stats[i].dataSize));
      this.storageBytes.set({ database }, toNumber(stats[i].storageSize));
      this.indexBytes.set({ database }, toNumber(stats[i].indexSize));
      this.objects.set({ database }, toNumber(stats[i].objects));
    });
    countedCollections(this.dbs).forEach(({ collection }, i) => this.documents.set({ collection }, toNumber(counts[i].n)));
    this.buckets().forEach((labels, i) => {
      this.bucketData.set(labels, buckets[i].dataBytes);
      this.bucketStorage.set(labels, buckets[i].storageBytes);
      this.bucketFiles.set(labels, buckets[i].files);
    });
  }

  /** `$collStats` storage figures (collStats the command is deprecated since 6.2); a missing collection is empty. */
  private async collStats(ctx: ScrapeContext, database: string, collection: string): Promise<Document[]> {
    try {
      return await this.client
        .db(database)
        .collection(collection)
        .aggregate([{ $collStats: { storageStats: {} } }], { maxTimeMS: remainingMs(ctx), signal: ctx.signal })
        .toArray();
    } catch (err) {
      if (err instanceof MongoServerError && err.code === NAMESPACE_NOT_FOUND) return [];
      throw err;
    }
  }

  clear(): void {
    clearMetrics([this.dataBytes, this.storageBytes, this.indexBytes, this.objects, this.documents, this.bucketData, this.bucketStorage, this.bucketFiles]);
  }
}
