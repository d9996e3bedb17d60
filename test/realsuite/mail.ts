/** Mail in and out of the real suite: submit to ZoneMTA's feeder (nodemailer), read a mailbox over IMAP (imapflow). */
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { googleDmarc, gzip, mail, type Rec, tlsrpt, zip } from '../reports/fixtures';
import type { RealSuite } from './harness';

/**
 * Submits one message to ZoneMTA's feeder (or to `opts.server`, e.g. Haraka's SMTP); resolves with the server's reply
 * ("250 Message queued as <id>"), rejects with its refusal.
 */
export async function submit(
  suite: RealSuite,
  to: string | string[],
  subject: string,
  opts: { from?: string; text?: string; headers?: Record<string, string>; messageId?: string; server?: { host: string; port: number }; raw?: Buffer } = {},
): Promise<string> {
  const server = opts.server ?? suite.zonemta.feeder;
  const transport = nodemailer.createTransport({ host: server.host, port: server.port, secure: false, ignoreTLS: true, pool: false });
  const from = opts.from ?? 'sender@sender.realsuite.test';
  try {
    // `raw`: a whole message as it is (a report mail, say), sent with this envelope; `subject` then only names it.
    const message = opts.raw ? { envelope: { from, to: [to].flat() }, raw: opts.raw } : { from, to, subject, text: opts.text ?? `${subject}\n`, headers: opts.headers, messageId: opts.messageId };
    const info = await transport.sendMail(message);
    return info.response;
  } finally {
    transport.close();
  }
}

/**
 * Mails one DMARC aggregate report (a zip attachment, as Google sends it) and one TLS-RPT report (multipart/report)
 * for the suite's domain to `to` through ZoneMTA's feeder, both with the report ID `id`.
 */
export async function mailReports(suite: RealSuite, to: string, report: { id: string; records: Rec[]; tls: { ok: number; failed: number } }): Promise<void> {
  const d = suite.domain;
  const name = `google.com!${d}!${report.id}`;
  const dmarc = zip(`${name}.xml`, googleDmarc({ id: report.id, domain: d, records: report.records }));
  await submit(suite, to, 'DMARC report', { from: 'noreply-dmarc-support@google.com', raw: await mail({ to, attachments: [{ filename: `${name}.zip`, contentType: 'application/zip', content: dmarc }] }) });
  const { ok, failed } = report.tls;
  const tls = gzip(tlsrpt({ id: report.id, policies: [{ domain: d, ok, failed, failures: [{ type: 'certificate-expired', count: failed }] }] }));
  await submit(suite, to, 'TLS-RPT report', { from: 'smtp-tls-reporting@google.com', raw: await mail({ from: 'smtp-tls-reporting@google.com', to, tlsrptReport: tls }) });
}

/** Subjects of the messages in a mailbox, read over WildDuck's IMAP. */
export async function mailboxSubjects(suite: RealSuite, user: string, password: string, mailbox = 'INBOX'): Promise<string[]> {
  const client = new ImapFlow({ host: suite.wildduck.imap.host, port: suite.wildduck.imap.port, secure: false, auth: { user, pass: password }, logger: false });
  await client.connect();
  try {
    const lock = await client.getMailboxLock(mailbox);
    try {
      const subjects: string[] = [];
      if (!client.mailbox || !client.mailbox.exists) return subjects;
      for await (const msg of client.fetch('1:*', { envelope: true })) subjects.push(msg.envelope?.subject ?? '');
      return subjects;
    } finally {
      lock.release();
    }
  } finally {
    await client.logout().catch(() => undefined);
  }
}
