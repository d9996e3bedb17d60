/**
 * The report mailbox over IMAP (imapflow): each poll logs in, lists the messages of the mailbox, streams each
 * one to the caller and moves it to the processed folder, or to the kept folder when it held no report or a
 * refused one. A message larger than --reports.max-message-bytes is kept without being downloaded.
 */
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { ImapFlow } from 'imapflow';
import type { Logger } from '../kit/log';

export interface ImapOptions {
  host: string;
  port: number;
  /** tls: TLS from the start (993); starttls: upgrade required (143); none: cleartext, for loopback only. */
  security: 'tls' | 'starttls' | 'none';
  insecureSkipVerify: boolean;
  user: string;
  passwordFile: string;
  mailbox: string;
  processedFolder: string;
  keptFolder: string;
  maxMessageBytes: number;
  /** Most messages handled in one poll; the rest wait for the next. */
  batch: number;
  timeoutMs: number;
}

export type MailVerdict = 'processed' | 'kept';

export interface MailHandler {
  /** Reads one message; resolves to where it goes. */
  message(content: Readable): Promise<MailVerdict>;
  /** A message too large to download. */
  oversized(size: number): void;
}

export class ImapSource {
  private client: ImapFlow | undefined;

  constructor(
    private readonly opts: ImapOptions,
    private readonly log: Logger,
  ) {}

  /**
   * One poll. `reached` is called once logged in with the mailbox open (the source is up); the promise rejects
   * on any IMAP failure.
   */
  async poll(handler: MailHandler, reached: () => void, stopping: () => boolean): Promise<void> {
    const o = this.opts;
    // Read at every poll, so a changed password needs no restart.
    const pass = readFileSync(o.passwordFile, 'utf8').replace(/\r?\n$/, '');
    const client = new ImapFlow({
      host: o.host,
      port: o.port,
      secure: o.security === 'tls',
      doSTARTTLS: o.security === 'none' ? false : o.security === 'starttls' ? true : undefined,
      tls: { rejectUnauthorized: !o.insecureSkipVerify },
      auth: { user: o.user, pass },
      logger: false,
      connectionTimeout: o.timeoutMs,
      greetingTimeout: o.timeoutMs,
      socketTimeout: Math.max(o.timeoutMs, 60_000),
      // A hostile or broken server cannot make us hold more than this in one response.
      maxLiteralSize: 4 * 1024 * 1024,
      maxResponseSize: 8 * 1024 * 1024,
      disableAutoIdle: true,
    });
    client.on('error', (err: Error) => this.log.debug('imap connection error', { err: err.message }));
    this.client = client;
    try {
      await client.connect();
      await this.ensureFolders(client);
      const lock = await client.getMailboxLock(o.mailbox);
      try {
        reached();
        const uids = ((await client.search({ all: true }, { uid: true })) || []).slice(0, o.batch);
        if (uids.length === 0) return;
        const sizes = new Map<number, number>();
        for await (const m of client.fetch(uids.join(','), { uid: true, size: true }, { uid: true })) sizes.set(m.uid, m.size ?? 0);
        for (const uid of uids) {
          if (stopping()) return;
          const size = sizes.get(uid);
          if (size === undefined) continue; // expunged meanwhile
          let verdict: MailVerdict;
          if (size > o.maxMessageBytes) {
            handler.oversized(size);
            verdict = 'kept';
          } else {
            const { content } = await client.download(String(uid), undefined, { uid: true });
            if (!content) continue;
            verdict = await handler.message(content);
          }
          await client.messageMove(String(uid), verdict === 'processed' ? o.processedFolder : o.keptFolder, { uid: true });
        }
      } finally {
        lock.release();
      }
      await client.logout();
    } finally {
      client.close();
      this.client = undefined;
    }
  }

  /** Ends a poll at once (shutdown). */
  close(): void {
    this.client?.close();
  }

  private async ensureFolders(client: ImapFlow): Promise<void> {
    const existing = new Set((await client.list()).map((m) => m.path));
    for (const folder of [this.opts.processedFolder, this.opts.keptFolder]) {
      if (existing.has(folder)) continue;
      await client.mailboxCreate(folder);
      this.log.info('created folder', { folder });
    }
  }
}
