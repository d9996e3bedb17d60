/**
 * A mail path in one process for the probe's own tests: an SMTP server (smtp-server) that answers like ZoneMTA
 * (`250 Message queued as <id>`), prepends Received headers shaped as ZoneMTA's and Haraka's, and delivers into
 * an IMAP server (hoodiecrow-imap, with IDLE and SPECIAL-USE) after a chosen delay, into INBOX or Junk, or holds
 * the message until released. The real suite (WildDuck, ZoneMTA, Haraka) is tested in realsuite.test.ts.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const hoodiecrow = require('hoodiecrow-imap') as (options: object) => {
  listen(port: number, host: string, cb: () => void): void;
  close(cb: () => void): void;
  server: { address(): AddressInfo };
  appendMessage(mailbox: string, flags: string[], date: Date, raw: string): void;
  getMailbox(path: string): { messages: { raw: string; flags: string[] }[] };
};

export type Disposition = 'inbox' | 'junk' | 'hold' | 'drop';

export interface FakePath {
  smtp: { host: string; port: number };
  imap: { host: string; port: number };
  user: string;
  password: string;
  /** What happens to the next messages (default inbox). */
  disposition: Disposition;
  /** Delay before a message lands, ms. */
  delayMs: number;
  /** SMTP reply to RCPT TO, e.g. '550 5.1.1 no such user' (empty: accept). */
  rcptReply: string;
  received: number;
  /** Held messages land now, where `to` says. */
  release(to?: 'inbox' | 'junk'): void;
  /** Puts a raw message into a folder as if delivered. */
  append(folder: 'INBOX' | 'Junk', raw: string): void;
  messages(folder: 'INBOX' | 'Junk'): string[];
  /** Times (Date.now()) at which each message landed. */
  landedAt: number[];
  close(): Promise<void>;
}

function rfc2822(d: Date): string {
  return d.toUTCString().replace(/GMT/, '+0000');
}

export async function startFakePath(): Promise<FakePath> {
  const user = 'probe@example.com';
  const password = 'imap-s3cret';
  const imap = hoodiecrow({
    plugins: ['IDLE', 'SPECIAL-USE', 'UIDPLUS', 'ENABLE'],
    users: { [user]: { password } },
    storage: { INBOX: { messages: [] }, '': { separator: '/', folders: { Junk: { 'special-use': '\\Junk', messages: [] } } } },
  });
  await new Promise<void>((resolve) => imap.listen(0, '127.0.0.1', resolve));
  const held: string[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let seq = 0;

  const path: FakePath = {
    smtp: { host: '127.0.0.1', port: 0 },
    imap: { host: '127.0.0.1', port: imap.server.address().port },
    user,
    password,
    disposition: 'inbox',
    delayMs: 0,
    rcptReply: '',
    received: 0,
    landedAt: [],
    release(to = 'inbox') {
      for (const raw of held.splice(0)) land(to === 'junk' ? 'Junk' : 'INBOX', raw);
    },
    append(folder, raw) {
      imap.appendMessage(folder, [], new Date(), raw);
    },
    messages(folder) {
      return imap.getMailbox(folder).messages.filter((m) => !m.flags.includes('\\Deleted')).map((m) => m.raw);
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      await new Promise<void>((resolve) => smtp.close(() => resolve()));
      await new Promise<void>((resolve) => imap.close(() => resolve()));
    },
  };

  function land(folder: 'INBOX' | 'Junk', raw: string) {
    // The MX's header is written when it takes the message, as Haraka does at DATA.
    const haraka = `Received: from mta.example.com (mta.example.com [127.0.0.1])\r\n\tby mx.example.com (Haraka/3.3.4) with ESMTP id 5B3C1F0A-1D2E-4F00-9C8B-7A6D5E4F3A2B.1\r\n\tenvelope-from <${user}>;\r\n\t${rfc2822(new Date())}\r\n`;
    path.landedAt.push(Date.now());
    imap.appendMessage(folder, [], new Date(), haraka + raw);
  }

  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onRcptTo(_address, _session, cb) {
      if (!path.rcptReply) return cb();
      const m = /^(\d{3})\s+(.*)$/.exec(path.rcptReply)!;
      cb(Object.assign(new Error(m[2]), { responseCode: Number(m[1]) }));
    },
    onData(stream, _session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        path.received++;
        const id = `18c5e4a0c5e${(++seq).toString(16).padStart(7, '0')}`;
        // ZoneMTA's header: the date is when it queued the message.
        const zonemta = `Received: from [127.0.0.1] (localhost [127.0.0.1])\r\n by mta.example.com (ZoneMTA) with ESMTP id ${id}.001\r\n for <${user}>;\r\n ${rfc2822(new Date())}\r\n`;
        const raw = zonemta + Buffer.concat(chunks).toString('binary');
        const disposition = path.disposition;
        const deliver = () => {
          if (disposition === 'inbox') land('INBOX', raw);
          else if (disposition === 'junk') land('Junk', raw);
          else if (disposition === 'hold') held.push(raw);
        };
        if (path.delayMs > 0) {
          const t = setTimeout(() => {
            timers.delete(t);
            deliver();
          }, path.delayMs);
          timers.add(t);
        } else deliver();
        cb(null, `Message queued as ${id}`);
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', () => resolve()));
  path.smtp.port = (smtp.server.address() as AddressInfo).port;
  return path;
}
