/**
 * Looking for probe mail: over IMAP (imapflow, one connection per folder, each in IDLE so the server's EXISTS
 * tells the moment a message lands) or through WildDuck's REST API (polled). Either returns every probe
 * message of the route it finds, with the folder, the time it was seen and its Received headers.
 */
import { ImapFlow } from 'imapflow';
import type { ImapCheck, RouteConfig, WildDuckCheck } from './config';
import { readSecret } from './config';
import { apiError, requestJson } from './http';
import { receivedHeaders } from './received';
import { type OnRequest, PROBE_HEADER, tlsConnectOptions } from './submit';

export type Placement = 'inbox' | 'junk' | 'other';

export interface FoundMessage {
  token: string;
  folder: Placement;
  /** Unix ms when the probe first could see it. */
  seenAt: number;
  /** Received header values, newest first. */
  received: string[];
  /** Where it is, for deleting it. */
  ref: { folder: string; id: string | number };
}

export interface Checker {
  /** Every probe message of this route in the watched folders. Throws when a folder cannot be read. */
  find(signal: AbortSignal): Promise<FoundMessage[]>;
  delete(found: FoundMessage, signal: AbortSignal): Promise<void>;
  /** Connects ahead of the first message (IMAP IDLE must be listening when it lands). */
  prepare?(signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

const JUNK_NAMES = /^(junk|spam|junk e-mail|junk email|bulk mail)$/i;

/** Which placement a folder means: INBOX, the Junk folder (special-use \Junk or its usual names) or other. */
export function placementOf(path: string, specialUse?: string, delimiter = '/'): Placement {
  if (path.toUpperCase() === 'INBOX' || specialUse === '\\Inbox') return 'inbox';
  const leaf = path.split(delimiter || '/').pop() ?? path;
  if (specialUse === '\\Junk' || JUNK_NAMES.test(leaf)) return 'junk';
  return 'other';
}

/** `<route> <token>` from the probe header's value; undefined for another route's or a malformed value. */
export function tokenOf(headerValue: string, route: string): string | undefined {
  const m = /^\s*(\S+)\s+([0-9a-f]{32})\s*$/.exec(headerValue);
  return m && m[1] === route ? m[2] : undefined;
}

/** The probe header's value from a raw header block. */
export function probeHeaderValue(rawHeaders: string): string | undefined {
  const unfolded = rawHeaders.split(/\r?\n\r?\n/)[0].replace(/\r?\n[ \t]+/g, ' ');
  const re = new RegExp(`^${PROBE_HEADER}:[ \\t]*(.*)$`, 'im');
  return re.exec(unfolded)?.[1];
}

/** While a folder's connection is in IDLE, searches without an EXISTS happen at most this often. */
const IDLE_SAFETY_SEARCH_MS = 30_000;

/** One IMAP connection watching one folder. */
class FolderWatch {
  client?: ImapFlow;
  placement: Placement = 'other';
  /** The earliest EXISTS since the last search began: the moment a new message was announced. */
  existsAt?: number;
  /** When this connection last searched (0: not since it connected). */
  private searchedAt = 0;

  constructor(
    readonly path: string,
    private readonly cfg: ImapCheck,
    private readonly onRequest: OnRequest,
    private readonly onExists: () => void,
  ) {}

  async open(): Promise<ImapFlow> {
    if (this.client?.usable) return this.client;
    await this.client?.logout().catch(() => undefined);
    const cfg = this.cfg;
    const client = new ImapFlow({
      host: cfg.host,
      port: cfg.port,
      secure: cfg.tls.mode === 'implicit',
      doSTARTTLS: cfg.tls.mode === 'starttls' ? true : cfg.tls.mode === 'none' ? false : undefined,
      tls: tlsConnectOptions(cfg.tls, cfg.host),
      auth: { user: cfg.user, pass: readSecret(cfg.passwordFile, 'password') },
      logger: false,
      // IDLE soon after each command, so an EXISTS is heard when the message lands, not at the next command.
      autoIdleDelay: 50,
      connectionTimeout: 30_000,
      greetingTimeout: 30_000,
    });
    client.on('error', () => undefined); // reported through the failing command; a dead client is replaced
    client.on('exists', () => {
      this.existsAt ??= Date.now();
      this.onExists();
    });
    this.client = client;
    this.searchedAt = 0; // mail may have landed while no connection watched
    this.onRequest();
    try {
      await client.connect();
      this.onRequest();
      const box = await client.mailboxOpen(this.path);
      this.placement = placementOf(box.path, box.specialUse, box.delimiter);
    } catch (err) {
      await client.logout().catch(() => client.close());
      this.client = undefined;
      const e = err as Error & { authenticationFailed?: boolean; responseText?: string };
      if (e.authenticationFailed) throw new Error(`IMAP login to ${cfg.host}:${cfg.port} refused (check check.user and check.password_file)`);
      throw new Error(`IMAP ${this.path}: ${e.responseText ?? e.message}`);
    }
    return client;
  }

  async find(route: string, signal: AbortSignal): Promise<FoundMessage[]> {
    const client = await this.open();
    // In IDLE the server announces every new message at once: a search without an EXISTS would only take the
    // connection out of IDLE (and delay the next announcement), so it runs only now and then as a safety net.
    if (client.idling && this.existsAt === undefined && this.searchedAt && Date.now() - this.searchedAt < IDLE_SAFETY_SEARCH_MS) return [];
    this.searchedAt = Date.now();
    // When the message was announced: an EXISTS before this search began, else one that came with its answer
    // (the server sends pending EXISTS before the tagged OK), else the moment the answer came.
    const announcedBefore = this.existsAt;
    this.existsAt = undefined;
    const onAbort = () => client.close();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      this.onRequest();
      // By subject: WildDuck does not index custom headers (HEADER X-Tinomail-Probe finds nothing there);
      // the probe header, fetched below, decides.
      const uids = await client.search({ subject: `tinomail probe ${route} ` }, { uid: true });
      const answeredAt = Date.now();
      if (!uids || uids.length === 0) return [];
      const announced = announcedBefore ?? this.existsAt ?? answeredAt;
      this.existsAt = undefined;
      const out: FoundMessage[] = [];
      this.onRequest();
      for await (const m of client.fetch(uids.slice(0, 500), { uid: true, headers: [PROBE_HEADER.toLowerCase(), 'received'] }, { uid: true })) {
        const raw = m.headers?.toString('utf8') ?? '';
        const token = tokenOf(probeHeaderValue(raw) ?? '', route);
        if (!token) continue;
        out.push({ token, folder: this.placement, seenAt: announced, received: receivedHeaders(raw), ref: { folder: this.path, id: m.uid } });
      }
      return out;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  async delete(uid: number): Promise<void> {
    const client = await this.open();
    this.onRequest();
    const ok = await client.messageDelete(String(uid), { uid: true });
    if (!ok) throw new Error(`IMAP ${this.path}: could not delete the probe message`);
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.logout().catch(() => client.close());
  }
}

class ImapChecker implements Checker {
  private readonly watches: FolderWatch[];

  constructor(
    private readonly route: string,
    cfg: ImapCheck,
    onRequest: OnRequest,
    onArrival: () => void,
  ) {
    this.watches = cfg.folders.map((f) => new FolderWatch(f, cfg, onRequest, onArrival));
  }

  async prepare(): Promise<void> {
    await Promise.all(this.watches.map((w) => w.open()));
  }

  async find(signal: AbortSignal): Promise<FoundMessage[]> {
    const results = await Promise.all(this.watches.map((w) => w.find(this.route, signal)));
    return results.flat();
  }

  async delete(found: FoundMessage): Promise<void> {
    const watch = this.watches.find((w) => w.path === found.ref.folder);
    await watch?.delete(Number(found.ref.id));
  }

  async close(): Promise<void> {
    await Promise.all(this.watches.map((w) => w.close()));
  }
}

/**
 * WildDuck REST API: `GET /users/:id/mailboxes` (path, specialUse), `GET /users/:id/search?subject=` (partial
 * match on the subject, which carries the token), the raw message for its Received headers, and DELETE.
 */
class WildDuckChecker implements Checker {
  private mailboxes?: Map<string, { path: string; placement: Placement }>;

  constructor(
    private readonly route: string,
    private readonly cfg: WildDuckCheck,
    private readonly onRequest: OnRequest,
  ) {}

  private token(): string | undefined {
    return this.cfg.tokenFile ? readSecret(this.cfg.tokenFile, 'token') : undefined;
  }

  private async call(path: string, signal: AbortSignal, method: 'GET' | 'DELETE' = 'GET') {
    this.onRequest();
    const r = await requestJson(method, `${this.cfg.url}/users/${this.cfg.userId}${path}`, { token: this.token(), signal });
    if (r.status !== 200) throw apiError(`WildDuck API ${path.split('?')[0]}`, r);
    return r;
  }

  private async loadMailboxes(signal: AbortSignal): Promise<Map<string, { path: string; placement: Placement }>> {
    if (this.mailboxes) return this.mailboxes;
    const { body } = await this.call('/mailboxes', signal);
    const results = ((body as { results?: unknown[] })?.results ?? []) as { id?: string; path?: string; specialUse?: string }[];
    const wanted = new Map<string, { path: string; placement: Placement }>();
    for (const folder of this.cfg.folders) {
      const box = results.find((b) => b.path === folder || (folder.toUpperCase() === 'INBOX' && b.path?.toUpperCase() === 'INBOX'));
      if (!box?.id || !box.path) throw new Error(`WildDuck API: the user has no mailbox ${JSON.stringify(folder)}`);
      wanted.set(box.id, { path: box.path, placement: placementOf(box.path, box.specialUse ?? undefined) });
    }
    this.mailboxes = wanted;
    return wanted;
  }

  async prepare(signal: AbortSignal): Promise<void> {
    await this.loadMailboxes(signal);
  }

  async find(signal: AbortSignal): Promise<FoundMessage[]> {
    const boxes = await this.loadMailboxes(signal);
    const started = Date.now();
    const { body } = await this.call(`/search?subject=${encodeURIComponent(`tinomail probe ${this.route} `)}&limit=250`, signal);
    const results = ((body as { results?: unknown[] })?.results ?? []) as { id?: number; mailbox?: string; subject?: string; idate?: string }[];
    const out: FoundMessage[] = [];
    for (const r of results) {
      const box = r.mailbox ? boxes.get(r.mailbox) : undefined;
      const m = /^tinomail probe (\S+) ([0-9a-f]{32})$/.exec(r.subject ?? '');
      if (!box || !m || m[1] !== this.route || typeof r.id !== 'number') continue;
      const raw = await this.call(`/mailboxes/${r.mailbox}/messages/${r.id}/message.eml`, signal);
      if (tokenOf(probeHeaderValue(raw.text) ?? '', this.route) !== m[2]) continue;
      // idate is when WildDuck stored it (millisecond precision): a closer arrival time than this poll.
      const idate = Date.parse(r.idate ?? '');
      out.push({
        token: m[2],
        folder: box.placement,
        seenAt: Number.isFinite(idate) ? Math.min(idate, started) : started,
        received: receivedHeaders(raw.text),
        ref: { folder: r.mailbox!, id: r.id },
      });
    }
    return out;
  }

  async delete(found: FoundMessage, signal: AbortSignal): Promise<void> {
    await this.call(`/mailboxes/${found.ref.folder}/messages/${found.ref.id}`, signal, 'DELETE');
  }

  async close(): Promise<void> {}
}

export function createChecker(route: RouteConfig, onRequest: OnRequest, onArrival: () => void): Checker {
  const c = route.check;
  if (c.method === 'imap') return new ImapChecker(route.name, c, onRequest, onArrival);
  return new WildDuckChecker(route.name, c, onRequest);
}

export type MtaStatus = 'queued' | 'deferred' | 'gone';

/** ZoneMTA `GET /message/:id` (api-server.js, mail-queue.js getInfo): a recipient DEFERRED means delivery failed for now. */
export async function zoneMtaStatus(url: string, queueId: string, signal: AbortSignal, onRequest: OnRequest): Promise<{ status: MtaStatus; response?: string }> {
  onRequest();
  const r = await requestJson('GET', `${url}/message/${encodeURIComponent(queueId)}`, { signal });
  if (r.status === 404) return { status: 'gone' };
  if (r.status !== 200) throw apiError('ZoneMTA /message', r);
  return parseZoneMtaInfo(r.body);
}

/** The answer of ZoneMTA's `GET /message/:id`: `{meta, messages: [{seq, status: 'QUEUED'|'DEFERRED', deferred: {response, ...}}]}`. */
export function parseZoneMtaInfo(body: unknown): { status: MtaStatus; response?: string } {
  const messages = (body as { messages?: unknown })?.messages;
  if (!Array.isArray(messages)) return { status: 'queued' };
  const deferred = messages.find((m) => (m as { status?: unknown })?.status === 'DEFERRED') as { deferred?: { response?: unknown } } | undefined;
  if (!deferred) return { status: 'queued' };
  const response = typeof deferred.deferred?.response === 'string' ? deferred.deferred.response.slice(0, 200) : undefined;
  return { status: 'deferred', response };
}
