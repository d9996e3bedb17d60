/**
 * The reports exporter on the real suite: mails delivered through WildDuck's LMTP (nodemailer speaking LMTP, as
 * Haraka's queue/lmtp does) into a real WildDuck mailbox, read by the exporter over IMAP (imapflow) and moved to
 * the processed and kept folders; report mails as Google, Microsoft and a TLS-RPT reporter send them, a zip bomb
 * and a re-sent report; `reports_up 0` once WildDuck is stopped.
 *
 * WildDuck stores every non-text MIME part (each report attachment) in GridFS under a Binary hash id; the
 * realsuite patch lets CongoDB keep such ids (test/realsuite/congodb.test.ts), so the attachments the exporter
 * reads over IMAP come back out of WildDuck's attachment store.
 *
 * Needs the real-suite harness (test/realsuite/harness.ts, issue 11); without it this file is skipped and says so.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { silentLogger } from '../../exporters/kit/log';
import { runExporter, type RunningExporter } from '../../exporters/kit/run';
import { definition } from '../../exporters/reports';
import { sample, scrapeUntil, total } from '../helpers/exposition';
import { googleDmarc, gzip, mail, microsoftDmarc, tlsrpt, zip } from './fixtures';

/** The part of the harness this test uses (the module may be absent on a branch without it). */
interface Suite {
  domain: string;
  wildduck: {
    imap: { host: string; port: number };
    lmtp: { host: string; port: number };
    createUser(username: string, password: string): Promise<{ id: string; address: string }>;
  };
  stopService(name: 'wildduck'): Promise<void>;
  close(): Promise<void>;
}
type Start = (options: { services: 'wildduck'[] }) => Promise<Suite>;

const HARNESS = join(__dirname, '..', 'realsuite', 'harness.ts');
const haveHarness = existsSync(HARNESS);

if (!haveHarness) {
  test.skip('reports over IMAP on the real suite: skipped, test/realsuite/harness.ts (issue 11) is not on this branch', () => undefined);
}

(haveHarness ? describe : describe.skip)('reports exporter on a real WildDuck mailbox', () => {
  jest.setTimeout(120_000);
  const PASSWORD = 'dmarc-reports-secret';
  let suite: Suite;
  let address: string;
  let dir: string;
  let running: RunningExporter | undefined;

  beforeAll(async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { startRealSuite } = require(HARNESS) as { startRealSuite: Start };
    suite = await startRealSuite({ services: ['wildduck'] });
    address = (await suite.wildduck.createUser('dmarc', PASSWORD)).address;
    dir = mkdtempSync(join(tmpdir(), 'tinomail-reports-real-'));
    writeFileSync(join(dir, 'password'), `${PASSWORD}\n`);
  }, 100_000);
  afterAll(async () => {
    await running?.stop();
    await suite?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Delivers raw messages the way Haraka's queue/lmtp does: LMTP into WildDuck. */
  async function deliver(...messages: { from: string; raw: Buffer }[]): Promise<void> {
    const lmtp = nodemailer.createTransport({ host: suite.wildduck.lmtp.host, port: suite.wildduck.lmtp.port, lmtp: true, secure: false, ignoreTLS: true });
    try {
      for (const m of messages) {
        const info = await lmtp.sendMail({ envelope: { from: m.from, to: [address] }, raw: m.raw });
        expect([info.accepted, (info as { rejectedErrors?: Error[] }).rejectedErrors?.map((e) => e.message)]).toEqual([[address], undefined]);
      }
    } finally {
      lmtp.close();
    }
  }

  async function folderCounts(): Promise<Record<string, number>> {
    const client = new ImapFlow({ host: suite.wildduck.imap.host, port: suite.wildduck.imap.port, secure: false, auth: { user: 'dmarc', pass: PASSWORD }, logger: false });
    await client.connect();
    try {
      const out: Record<string, number> = {};
      for (const path of ['INBOX', 'Reports/Processed', 'Reports/Kept']) {
        const status = await client.status(path, { messages: true }).catch(() => false as const);
        out[path] = (status && status.messages) || 0;
      }
      return out;
    } finally {
      await client.logout().catch(() => undefined);
    }
  }

  const googleReport = async (id: string) => ({
    from: 'noreply-dmarc-support@google.com',
    raw: await mail({
      attachments: [
        {
          filename: `google.com!${suite.domain}!1706659200!1706745599.zip`,
          contentType: 'application/zip',
          content: zip(`google.com!${suite.domain}!1706659200!1706745599.xml`, googleDmarc({ id, domain: suite.domain, records: [{ ip: '127.0.0.1', count: 12 }, { ip: '127.0.0.1', count: 3, dkim: 'fail', spf: 'fail' }, { ip: '2001:db8:99::1', count: 5, dkim: 'fail', spf: 'fail', disposition: 'reject' }] })),
        },
      ],
    }),
  });

  const url = () => `${running!.url}/metrics`;

  test('the exporter reads the mailbox over IMAP: a mail without a report is moved to the kept folder', async () => {
    running = await runExporter(
      definition,
      [
        '--web.listen-address=127.0.0.1:0',
        `--reports.imap.address=${suite.wildduck.imap.host}:${suite.wildduck.imap.port}`,
        '--reports.imap.security=none',
        '--reports.imap.user=dmarc',
        `--reports.imap.password-file=${join(dir, 'password')}`,
        '--reports.interval=200ms',
        '--reports.own-networks=127.0.0.0/8,::1',
        `--reports.state-file=${join(dir, 'state.json')}`,
        '--reports.max-report-bytes=1048576',
      ],
      { log: silentLogger },
    );
    await deliver({ from: 'someone@example.net', raw: await mail({ text: 'Please take me off this list' }) }, { from: 'noreply-dmarc-support@google.com', raw: await mail({ text: 'Report attached (it is not)' }) });
    const text = await scrapeUntil(url(), (t) => sample(t, 'reports_messages_total', { result: 'kept' }) === 2, 60_000, 200);
    expect(sample(text, 'reports_up')).toBe(1);
    expect(total(text, 'reports_processed_total')).toBe(0);
    expect(await folderCounts()).toEqual({ INBOX: 0, 'Reports/Processed': 0, 'Reports/Kept': 2 });
  });

  test('reports delivered over LMTP are counted once and filed', async () => {
    await deliver(
      await googleReport('g-1'),
      {
        from: 'dmarcreport@microsoft.com',
        raw: await mail({ from: 'dmarcreport@microsoft.com', singlePart: { contentType: 'application/gzip', filename: `enterprise.protection.outlook.com!${suite.domain}!1!2.xml.gz`, content: gzip(microsoftDmarc({ domain: suite.domain, records: [{ ip: '::1', count: 4 }] })) } }),
      },
      {
        from: 'smtp-tls-reporting@google.com',
        raw: await mail({ from: 'smtp-tls-reporting@google.com', tlsrptReport: gzip(tlsrpt({ policies: [{ domain: suite.domain, ok: 50, failed: 2, failures: [{ type: 'certificate-expired', count: 2 }] }] })) }),
      },
      { from: 'attacker@example.net', raw: await mail({ attachments: [{ filename: 'report.zip', contentType: 'application/zip', content: zip('report.xml', Buffer.alloc(4 * 1024 * 1024, ' ')) }] }) },
    );
    const text = await scrapeUntil(
      url(),
      (t) => total(t, 'reports_dmarc_messages_total') === 24 && total(t, 'reports_tlsrpt_sessions_total') === 52 && total(t, 'reports_messages_total') === 6,
      60_000,
      200,
    );
    const d = suite.domain;
    expect(sample(text, 'reports_dmarc_messages_total', { reporter: 'google.com', domain: d, disposition: 'none', dkim: 'pass', spf: 'pass', source: 'own' })).toBe(12);
    expect(sample(text, 'reports_dmarc_messages_total', { reporter: 'google.com', domain: d, disposition: 'none', dkim: 'fail', spf: 'fail', source: 'own' })).toBe(3);
    expect(sample(text, 'reports_dmarc_messages_total', { reporter: 'google.com', domain: d, disposition: 'reject', dkim: 'fail', spf: 'fail', source: 'other' })).toBe(5);
    expect(sample(text, 'reports_dmarc_messages_total', { reporter: 'microsoft.com', domain: d, disposition: 'none', dkim: 'pass', spf: 'pass', source: 'own' })).toBe(4);
    expect(sample(text, 'reports_tlsrpt_failed_sessions_total', { reporter: 'google.com', domain: d, type: 'certificate-expired' })).toBe(2);
    expect(sample(text, 'reports_processed_total', { kind: 'unknown', result: 'zip_bomb' })).toBe(1);
    expect(sample(text, 'reports_messages_total', { result: 'processed' })).toBe(3);
    expect(sample(text, 'reports_messages_total', { result: 'kept' })).toBe(3);
    expect(await folderCounts()).toEqual({ INBOX: 0, 'Reports/Processed': 3, 'Reports/Kept': 3 });

    // The same Google report sent again: filed as processed, counted as a duplicate, nothing added.
    await deliver(await googleReport('g-1'));
    const again = await scrapeUntil(url(), (t) => sample(t, 'reports_processed_total', { kind: 'dmarc', result: 'duplicate' }) === 1, 30_000, 200);
    expect(total(again, 'reports_dmarc_messages_total')).toBe(24);
    expect(await folderCounts()).toEqual({ INBOX: 0, 'Reports/Processed': 4, 'Reports/Kept': 3 });
  });

  test('WildDuck stopped: the scrape still answers 200, with reports_up 0 and fetch errors', async () => {
    await suite.stopService('wildduck');
    const down = await scrapeUntil(url(), (t) => sample(t, 'reports_up') === 0, 30_000, 200);
    expect(sample(down, 'reports_fetch_errors_total', { source: 'imap' })).toBeGreaterThan(0);
  });
});
