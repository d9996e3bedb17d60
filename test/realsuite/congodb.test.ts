/**
 * CongoDB as the real suite runs it (realsuite/bin/congo.mjs on the Node 22 binary), with realsuite/patches applied:
 * the aggregation-pipeline update WildDuck's message store sends (lib/message-handler.js, getThreadIdAsync) works,
 * as an upsert and on an existing document. What CongoDB cannot show stays with the mock mongod tests
 * (test/mongodb): unique indexes are not enforced, `hint` is ignored, serverStatus has no opcounters, latencies,
 * WiredTiger or transactions, and there is no replica set, $collStats, $text or change stream.
 */
import { MongoClient } from 'mongodb';
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
