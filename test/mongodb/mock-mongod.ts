/**
 * A small MongoDB wire-protocol server for tests (no mongod can run on the test machines).
 *
 * It speaks what the Node.js driver 6 sends: the legacy isMaster handshake over OP_QUERY (answered with
 * OP_REPLY), then OP_MSG for everything (hello heartbeats, commands), BSON from the driver's own `bson`.
 * Replies are shaped as MongoDB 7.0 returns them (see fixtures.ts). It answers: hello/isMaster, ping,
 * endSessions, serverStatus, replSetGetStatus (or the NoReplicationEnabled / NotYetInitialized errors of a
 * standalone or uninitiated member), dbStats, count, find and aggregate (filters and pipelines through
 * mini-query.ts, `$collStats` from fixtures). A `hint` must name an index that exists on the collection,
 * else it fails like mongod ("hint provided does not correspond to an existing index"); maxTimeMS is honoured
 * for the delays a test injects (MaxTimeMSExpired, code 50).
 *
 * hello carries no topologyVersion, so the driver polls instead of using streaming heartbeats.
 */
import net from 'node:net';
import { BSON, type Document, Long } from 'mongodb';
import { matches, runPipeline, sortDocs } from './mini-query';

const OP_REPLY = 1;
const OP_QUERY = 2004;
const OP_MSG = 2013;

export type ReplicationMode = { mode: 'standalone' } | { mode: 'uninitialized' } | { mode: 'replset'; status: () => Document };

class CommandError extends Error {
  constructor(
    readonly code: number,
    readonly codeName: string,
    message: string,
  ) {
    super(message);
  }
}

export class MockMongod {
  port = 0;
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private requestId = 1;
  private connectionId = 0;

  /** database -> collection -> documents (insertion order is $natural order). */
  readonly data = new Map<string, Map<string, Document[]>>();
  /** 'db.collection' -> listIndexes-style specs; used to judge hints. */
  readonly indexes = new Map<string, Document[]>();
  /** database -> dbStats reply; a database without one answers zeros, as mongod does for unknown names. */
  readonly dbStats = new Map<string, Document>();
  /** 'db.collection' -> `$collStats` result documents. */
  readonly collStats = new Map<string, Document[]>();
  /** command name -> milliseconds to wait before answering. */
  readonly delays = new Map<string, number>();
  /** Databases the (simulated) monitoring user may not read: find, count and aggregate fail with Unauthorized. */
  readonly unreadable = new Set<string>();
  /** Every command received after the handshake: database and body. */
  readonly received: Array<{ db: string; command: Document }> = [];
  serverStatus: () => Document = () => ({ ok: 1 });
  replication: ReplicationMode = { mode: 'standalone' };

  collection(db: string, name: string): Document[] {
    let colls = this.data.get(db);
    if (!colls) this.data.set(db, (colls = new Map()));
    let docs = colls.get(name);
    if (!docs) colls.set(name, (docs = []));
    return docs;
  }

  /** Listens on 127.0.0.1 (port 0: a free one; give the old port to come back after stop()). */
  async start(port = this.port): Promise<number> {
    this.server = net.createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  /** Closes the listener and every connection, as a mongod that died. */
  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server = undefined;
  }

  get uri(): string {
    return `mongodb://127.0.0.1:${this.port}/`;
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    const id = ++this.connectionId;
    let buffer = Buffer.alloc(0);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 4 && buffer.length >= buffer.readInt32LE(0)) {
        const message = buffer.subarray(0, buffer.readInt32LE(0));
        buffer = buffer.subarray(message.length);
        void this.handle(socket, message, id);
      }
    });
  }

  private async handle(socket: net.Socket, message: Buffer, connectionId: number): Promise<void> {
    const requestId = message.readInt32LE(4);
    const opCode = message.readInt32LE(12);
    if (opCode === OP_QUERY) {
      // flags, fullCollectionName (cstring), numberToSkip, numberToReturn, query
      let pos = 20;
      const nameEnd = message.indexOf(0, pos);
      const ns = message.toString('utf8', pos, nameEnd);
      pos = nameEnd + 1 + 8;
      const query = BSON.deserialize(message.subarray(pos, pos + message.readInt32LE(pos)));
      const reply = await this.answer(ns.split('.')[0], query, connectionId);
      return this.write(socket, this.opReply(requestId, reply));
    }
    if (opCode !== OP_MSG) return void socket.destroy();
    const flags = message.readUInt32LE(16);
    const end = message.length - (flags & 1 ? 4 : 0);
    let body: Document = {};
    for (let pos = 20; pos < end; ) {
      const kind = message[pos++];
      const size = message.readInt32LE(pos);
      if (kind === 0) {
        body = { ...body, ...BSON.deserialize(message.subarray(pos, pos + size)) };
      } else {
        // Document sequence: size, identifier (cstring), documents.
        const idEnd = message.indexOf(0, pos + 4);
        const identifier = message.toString('utf8', pos + 4, idEnd);
        const docs: Document[] = [];
        for (let p = idEnd + 1; p < pos + size; p += message.readInt32LE(p)) docs.push(BSON.deserialize(message.subarray(p, p + message.readInt32LE(p))));
        body[identifier] = docs;
      }
      pos += size;
    }
    const reply = await this.answer(String(body.$db ?? 'admin'), body, connectionId);
    this.write(socket, this.opMsg(requestId, reply));
  }

  private write(socket: net.Socket, data: Buffer): void {
    if (!socket.destroyed && socket.writable) socket.write(data);
  }

  private header(length: number, responseTo: number, opCode: number): Buffer {
    const h = Buffer.alloc(16);
    h.writeInt32LE(length, 0);
    h.writeInt32LE(this.requestId++, 4);
    h.writeInt32LE(responseTo, 8);
    h.writeInt32LE(opCode, 12);
    return h;
  }

  private opMsg(responseTo: number, doc: Document): Buffer {
    const bson = BSON.serialize(doc);
    const flagsAndKind = Buffer.from([0, 0, 0, 0, 0]);
    return Buffer.concat([this.header(16 + 5 + bson.length, responseTo, OP_MSG), flagsAndKind, bson]);
  }

  private opReply(responseTo: number, doc: Document): Buffer {
    const bson = BSON.serialize(doc);
    const fields = Buffer.alloc(20); // responseFlags, cursorID (int64), startingFrom, numberReturned
    fields.writeInt32LE(1, 16);
    return Buffer.concat([this.header(16 + 20 + bson.length, responseTo, OP_REPLY), fields, bson]);
  }

  private async answer(db: string, cmd: Document, connectionId: number): Promise<Document> {
    const name = Object.keys(cmd)[0];
    const handshake = ['hello', 'isMaster', 'ismaster'].includes(name);
    if (!handshake) this.received.push({ db, command: cmd });
    try {
      const delay = this.delays.get(name) ?? 0;
      if (delay > 0) {
        const limit = typeof cmd.maxTimeMS === 'number' && cmd.maxTimeMS > 0 ? cmd.maxTimeMS : Infinity;
        await new Promise((r) => setTimeout(r, Math.min(delay, limit)));
        if (limit < delay) throw new CommandError(50, 'MaxTimeMSExpired', 'operation exceeded time limit');
      }
      return { ...this.run(db, name, cmd, connectionId), ok: 1 };
    } catch (err) {
      if (err instanceof CommandError) return { ok: 0, errmsg: err.message, code: err.code, codeName: err.codeName };
      return { ok: 0, errmsg: `mock mongod: ${(err as Error).message}`, code: 1, codeName: 'InternalError' };
    }
  }

  private hello(name: string, connectionId: number): Document {
    const doc: Document = {
      [name === 'hello' ? 'isWritablePrimary' : 'ismaster']: true,
      maxBsonObjectSize: 16 * 1024 * 1024,
      maxMessageSizeBytes: 48_000_000,
      maxWriteBatchSize: 100_000,
      localTime: new Date(),
      logicalSessionTimeoutMinutes: 30,
      connectionId,
      minWireVersion: 0,
      maxWireVersion: 21, // MongoDB 7.0
      readOnly: false,
    };
    if (name !== 'hello') doc.helloOk = true;
    if (this.replication.mode === 'replset') {
      const status = this.replication.status();
      const me = `127.0.0.1:${this.port}`;
      Object.assign(doc, { setName: status.set, setVersion: 1, hosts: [me], primary: me, me, secondary: false });
    }
    return doc;
  }

  private run(db: string, name: string, cmd: Document, connectionId: number): Document {
    if (this.unreadable.has(db) && ['find', 'count', 'aggregate'].includes(name)) {
      throw new CommandError(13, 'Unauthorized', `not authorized on ${db} to execute command { ${name}: "${cmd[name]}" }`);
    }
    switch (name) {
      case 'hello':
      case 'isMaster':
      case 'ismaster':
        return this.hello(name, connectionId);
      case 'ping':
      case 'endSessions':
        return {};
      case 'serverStatus':
        return this.serverStatus();
      case 'replSetGetStatus':
        if (this.replication.mode === 'standalone') throw new CommandError(76, 'NoReplicationEnabled', 'not running with --replSet');
        if (this.replication.mode === 'uninitialized') throw new CommandError(94, 'NotYetInitialized', 'no replset config has been received');
        return this.replication.status();
      case 'dbStats':
        return this.dbStats.get(db) ?? { db, collections: Long.fromNumber(0), views: Long.fromNumber(0), objects: Long.fromNumber(0), avgObjSize: 0, dataSize: 0, storageSize: 0, indexes: Long.fromNumber(0), indexSize: 0, totalSize: 0, scaleFactor: Long.fromNumber(1) };
      case 'count': {
        const docs = this.data.get(db)?.get(cmd.count) ?? [];
        return { n: cmd.query ? docs.filter((d) => matches(d, cmd.query)).length : docs.length };
      }
      case 'find': {
        this.checkHint(db, cmd.find, cmd.hint);
        let docs = (this.data.get(db)?.get(cmd.find) ?? []).filter((d) => matches(d, cmd.filter ?? {}));
        if (cmd.sort) docs = sortDocs(docs, cmd.sort);
        if (cmd.limit) docs = docs.slice(0, Math.abs(cmd.limit));
        return { cursor: { firstBatch: docs, id: Long.fromNumber(0), ns: `${db}.${cmd.find}` } };
      }
      case 'aggregate': {
        const ns = `${db}.${cmd.aggregate}`;
        const pipeline: Document[] = cmd.pipeline;
        let docs: Document[];
        if (pipeline[0] && '$collStats' in pipeline[0]) {
          const stats = this.collStats.get(ns);
          if (!stats) throw new CommandError(26, 'NamespaceNotFound', `Unable to retrieve storageStats in $collStats stage :: caused by :: Collection [${ns}] not found.`);
          docs = stats;
        } else {
          this.checkHint(db, cmd.aggregate, cmd.hint);
          docs = runPipeline(this.data.get(db)?.get(cmd.aggregate) ?? [], pipeline);
        }
        return { cursor: { firstBatch: docs, id: Long.fromNumber(0), ns } };
      }
      default:
        throw new CommandError(59, 'CommandNotFound', `no such command: '${name}'`);
    }
  }

  private checkHint(db: string, collection: string, hint: unknown): void {
    // mongod answers a query on a collection that does not exist with nothing, whatever the hint.
    if (hint === undefined || !this.data.get(db)?.has(collection)) return;
    const specs = this.indexes.get(`${db}.${collection}`) ?? [{ key: { _id: 1 }, name: '_id_' }];
    const found = specs.some((s) => (typeof hint === 'string' ? s.name === hint : JSON.stringify(s.key) === JSON.stringify(hint)));
    if (!found) throw new CommandError(2, 'BadValue', 'error processing query: planner returned error :: caused by :: hint provided does not correspond to an existing index');
  }
}
