/**
 * CongoDB as the real suite runs it (realsuite/bin/congo.mjs on the Node 22 binary), with realsuite/patches applied:
 * the aggregation-pipeline update WildDuck's message store sends (lib/message-handler.js, getThreadIdAsync) works,
 * as an upsert and on an existing document; and GridFS files keyed by a Binary hash, as WildDuck's attachment store
 * writes and reads them (lib/attachments/gridstore-storage.js), keep their id. What CongoDB cannot show stays with the mock mongod tests
 * (test/mongodb): unique indexes are not enforced, `hint` is ignored, serverStatus has no opcounters, latencies,
 * WiredTiger or transactions, and there is no replica set, $collStats, $text or change stream.
 */
import { createHash } from 'node:crypto';
import { GridFSBucket, MongoClient } from 'mongodb';
import { type RealSuite, startRealSuite } from './harness';

let suite: RealSuite;
let client: MongoClient;
beforeAll(async () => {
  suite = await startRealSuite({ services: ['mongo'] });
  client = await MongoClient.connect(`${suite.mongo.url}/?directConnection=true`);
}, 60_000);
afterAll(async () => {
  await client?.close();
  await suite?.close();
});

// The pipeline of WildDuck's threads upsert, with its values.
const threadPipeline = (user: string, subject: string, referenceIds: string[]) => [
  { $set: { ids: { $cond: [{ $isArray: '$ids' }, '$ids', ['$ids']] }, updated: new Date(), user: { $ifNull: ['$user', user] }, subject: { $ifNull: ['$subject', { $literal: subject }] } } },
  { $set: { ids: { $setUnion: ['$ids', referenceIds] } } },
];

test('a pipeline update upserts a new document, as WildDuck stores the first message of a thread', async () => {
  const threads = client.db('wildduck').collection('threads');
  const r = await threads.findOneAndUpdate({ user: 'u1', ids: { $in: ['a', 'b'] }, subject: '$pay now' }, threadPipeline('u1', '$pay now', ['a', 'b']), {
    upsert: true,
    returnDocument: 'after',
  });
  expect(r).not.toBeNull();
  const stored = await threads.findOne({ _id: r!._id });
  expect(stored).toMatchObject({ user: 'u1', subject: '$pay now' }); // $literal: a subject starting with "$" is kept
  expect((stored!.ids as unknown[]).filter((x) => x !== null).sort()).toEqual(['a', 'b']);
});

test('a pipeline update changes an existing document and keeps its _id', async () => {
  const threads = client.db('wildduck').collection('threads');
  const { insertedId } = await threads.insertOne({ user: 'u2', ids: ['x'], subject: 'hello' });
  const r = await threads.findOneAndUpdate({ _id: insertedId }, threadPipeline('other', 'ignored', ['y']), { upsert: true, returnDocument: 'after' });
  expect(r!._id).toEqual(insertedId);
  const stored = await threads.findOne({ _id: insertedId });
  expect(stored).toMatchObject({ user: 'u2', subject: 'hello', ids: ['x', 'y'] });
  expect(await threads.countDocuments({ user: 'u2' })).toBe(1);
});

describe('GridFS with Binary ids, as WildDuck stores attachments', () => {
  // WildDuck's id for an attachment: the sha256 of its content as a 32-byte Buffer (BSON Binary on the wire).
  const hashId = (content: Buffer) => createHash('sha256').update(content).digest();
  const bucket = () => new GridFSBucket(client.db('wildduck'), { bucketName: 'attachments', chunkSizeBytes: 255 * 1024 });
  const files = () => client.db('wildduck').collection('attachments.files');

  async function upload(content: Buffer): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const stream = bucket().openUploadStreamWithId(hashId(content) as never, null as unknown as string, { contentType: 'application/zip', metadata: { c: 1, m: 7 } });
      stream.once('error', reject).once('finish', () => resolve());
      stream.end(content);
    });
  }
  async function download(content: Buffer): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const part of bucket().openDownloadStream(hashId(content) as never)) parts.push(part as Buffer);
    return Buffer.concat(parts);
  }

  const first = Buffer.alloc(600 * 1024, 'first attachment ');
  const second = Buffer.from('second attachment');

  test('a file stored under its hash is found and read back by that hash, chunk by chunk', async () => {
    await upload(first);
    await upload(second);
    expect(await files().findOne({ _id: hashId(first) as never })).toMatchObject({ length: first.length, contentType: 'application/zip' });
    expect(await client.db('wildduck').collection('attachments.chunks').countDocuments({ files_id: hashId(first) })).toBe(3);
    expect((await download(first)).equals(first)).toBe(true);
    expect((await download(second)).equals(second)).toBe(true);
    expect(await files().findOne({ _id: hashId(Buffer.from('never stored')) as never })).toBeNull();
  });

  test("the reference-count update WildDuck sends for a known attachment keeps the file's Binary id", async () => {
    const after = await files().findOneAndUpdate({ _id: hashId(second) as never }, { $inc: { 'metadata.c': 1, 'metadata.m': 7 }, $set: { 'metadata.cu': new Date() } }, { returnDocument: 'after' });
    expect(after).toMatchObject({ metadata: { c: 2, m: 14 } });
    // Found again by the same hash after the update, and still read back whole.
    expect(await files().findOne({ _id: hashId(second) as never })).toMatchObject({ metadata: { c: 2 } });
    expect((await download(second)).equals(second)).toBe(true);
    const removed = await files().deleteOne({ _id: hashId(second) as never });
    expect(removed.deletedCount).toBe(1);
    expect(await files().findOne({ _id: hashId(first) as never })).not.toBeNull();
  });
});
