/**
 * The reports exporter as it runs, in directory mode: report files and a report mail as reporters send them
 * (see fixtures.ts), duplicates, a restart with the state file, hostile files, an unreadable directory and an
 * IMAP server that is down (reports_up 0). IMAP against a real WildDuck is in realsuite.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync, copyFileSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlagError } from '../../exporters/kit/flags';
import { silentLogger } from '../../exporters/kit/log';
import { runExporter, type RunningExporter } from '../../exporters/kit/run';
import { definition } from '../../exporters/reports';
import { sample, scrape, scrapeUntil, total } from '../helpers/exposition';
import { googleDmarc, gzip, mail, microsoftDmarc, tlsrpt, zip } from './fixtures';

const OWN = '192.0.2.0/24,2001:db8::/64';

describe('reports exporter, directory mode', () => {
  let dir: string;
  let reports: string;
  let running: RunningExporter | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tinomail-reports-'));
    reports = join(dir, 'in');
    require('node:fs').mkdirSync(reports);
  });
  afterEach(async () => {
    await running?.stop();
    running = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  const start = async (...extra: string[]) => {
    running = await runExporter(
      definition,
      ['--web.listen-address=127.0.0.1:0', `--reports.dir=${reports}`, `--reports.state-file=${join(dir, 'state.json')}`, '--reports.interval=50ms', `--reports.own-networks=${OWN}`, ...extra],
      { log: silentLogger },
    );
    return `${running.url}/metrics`;
  };
  const counted = (text: string, kind: string) => sample(text, 'reports_processed_total', { kind, result: 'counted' }) ?? 0;
  const dmarc = (labels: Record<string, string>) => (text: string) => sample(text, 'reports_dmarc_messages_total', labels);

  async function writeReports(): Promise<void> {
    writeFileSync(
      join(reports, 'google.com!example.com!1706659200!1706745599.zip'),
      zip(
        'google.com!example.com!1706659200!1706745599.xml',
        googleDmarc({ records: [{ ip: '192.0.2.10', count: 10 }, { ip: '192.0.2.11', count: 2, dkim: 'fail', spf: 'fail' }, { ip: '203.0.113.5', count: 7, dkim: 'fail', spf: 'fail', disposition: 'reject' }] }),
      ),
    );
    writeFileSync(join(reports, 'enterprise.protection.outlook.com!example.com!1!2.xml.gz'), gzip(microsoftDmarc({ records: [{ ip: '2001:db8::25', count: 4 }] })));
    writeFileSync(
      join(reports, 'google.com!example.com!tlsrpt.json.gz'),
      gzip(tlsrpt({ policies: [{ ok: 100, failed: 5, failures: [{ type: 'certificate-expired', count: 3 }, { type: 'starttls-not-supported', count: 2 }] }] })),
    );
    writeFileSync(join(reports, 'yahoo.eml'), await mail({ from: 'dmarchelp@yahooinc.com', attachments: [{ filename: 'yahoo.xml', contentType: 'text/xml', content: googleDmarc({ org: 'Yahoo', email: 'dmarchelp@yahooinc.com', id: 'y1', records: [{ ip: '198.51.100.1', count: 1 }] }) }] }));
  }

  test('counts every report once, shows a new series at 0 first, and no address or IP in any label', async () => {
    await writeReports();
    const url = await start();
    const ownFail = dmarc({ reporter: 'google.com', domain: 'example.com', disposition: 'none', dkim: 'fail', spf: 'fail', source: 'own' });
    // The first scrape that shows a series shows it at 0, so increase() sees the whole first report.
    const first = await scrapeUntil(url, (t) => ownFail(t) !== undefined, 10_000);
    expect(ownFail(first)).toBe(0);
    // Every report is in once the sums are (each series shows 0 for one scrape first).
    const text = await scrapeUntil(url, (t) => total(t, 'reports_dmarc_messages_total') === 24 && total(t, 'reports_tlsrpt_failed_sessions_total') === 5 && total(t, 'reports_tlsrpt_sessions_total') === 105, 10_000);
    expect(ownFail(text)).toBe(2);
    expect(counted(text, 'dmarc')).toBe(3);
    expect(counted(text, 'tlsrpt')).toBe(1);
    expect(dmarc({ reporter: 'google.com', domain: 'example.com', disposition: 'none', dkim: 'pass', spf: 'pass', source: 'own' })(text)).toBe(10);
    expect(dmarc({ reporter: 'google.com', domain: 'example.com', disposition: 'reject', dkim: 'fail', spf: 'fail', source: 'other' })(text)).toBe(7);
    expect(dmarc({ reporter: 'microsoft.com', domain: 'example.com', disposition: 'none', dkim: 'pass', spf: 'pass', source: 'own' })(text)).toBe(4);
    expect(dmarc({ reporter: 'yahooinc.com', domain: 'example.com', disposition: 'none', dkim: 'pass', spf: 'pass', source: 'other' })(text)).toBe(1);
    expect(sample(text, 'reports_tlsrpt_sessions_total', { reporter: 'google.com', domain: 'example.com', policy_type: 'sts', result: 'successful' })).toBe(100);
    expect(sample(text, 'reports_tlsrpt_sessions_total', { reporter: 'google.com', domain: 'example.com', policy_type: 'sts', result: 'failed' })).toBe(5);
    expect(sample(text, 'reports_tlsrpt_failed_sessions_total', { reporter: 'google.com', domain: 'example.com', type: 'certificate-expired' })).toBe(3);
    expect(sample(text, 'reports_messages_total', { result: 'processed' })).toBe(1);
    expect(sample(text, 'reports_up')).toBe(1);
    const last = sample(text, 'reports_last_received_timestamp_seconds', { kind: 'dmarc', reporter: 'google.com' })!;
    expect(Math.abs(last - Date.now() / 1000)).toBeLessThan(120);
    expect(sample(text, 'reports_last_period_end_timestamp_seconds', { kind: 'tlsrpt', reporter: 'google.com' })).toBeLessThan(Date.now() / 1000);
    const series = text.split('\n').filter((l) => l.startsWith('reports_'));
    expect(series.filter((l) => /@|192\.0\.2\.|2001:db8|203\.0\.113|198\.51\.100/.test(l))).toEqual([]);

    // The same report again under another name: a duplicate, nothing added.
    copyFileSync(join(reports, 'google.com!example.com!1706659200!1706745599.zip'), join(reports, 'resent.zip'));
    const after = await scrapeUntil(url, (t) => sample(t, 'reports_processed_total', { kind: 'dmarc', result: 'duplicate' }) === 1, 10_000);
    expect(ownFail(after)).toBe(2);
    expect(counted(after, 'dmarc')).toBe(3);
  });

  test('a restart with the state file counts nothing twice and keeps the last report times', async () => {
    await writeReports();
    let url = await start();
    const before = await scrapeUntil(url, (t) => counted(t, 'dmarc') === 3 && counted(t, 'tlsrpt') === 1, 10_000);
    const last = sample(before, 'reports_last_received_timestamp_seconds', { kind: 'dmarc', reporter: 'google.com' });
    await running!.stop();
    expect(JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')).reporters).toEqual(expect.arrayContaining(['google.com', 'microsoft.com']));

    url = await start();
    // Every file is read again and every report is known.
    const again = await scrapeUntil(url, (t) => total(t, 'reports_processed_total', { result: 'duplicate' }) === 4, 10_000);
    expect(total(again, 'reports_processed_total', { result: 'counted' })).toBe(0);
    expect(total(await scrape(url).then((s) => s.text), 'reports_dmarc_messages_total')).toBe(0);
    expect(sample(again, 'reports_last_received_timestamp_seconds', { kind: 'dmarc', reporter: 'google.com' })).toBe(last);
  });

  test('hostile and broken files are counted by reason and the exporter goes on', async () => {
    writeFileSync(join(reports, 'bomb.xml.gz'), gzip(Buffer.alloc(8 * 1024 * 1024, ' ')));
    writeFileSync(join(reports, 'bomb.zip'), zip('bomb.xml', Buffer.alloc(8 * 1024 * 1024, ' ')));
    writeFileSync(join(reports, 'laughs.xml'), '<?xml version="1.0"?><!DOCTYPE f [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><feedback>&b;</feedback>');
    writeFileSync(join(reports, 'big.xml'), googleDmarc().replace('</feedback>', ' '.repeat(300 * 1024) + '</feedback>'));
    writeFileSync(join(reports, 'cut.json'), tlsrpt().slice(0, 100));
    writeFileSync(join(reports, 'spam.eml'), await mail({ text: 'Buy now' }));
    writeFileSync(join(reports, 'good.xml'), googleDmarc());
    // A report of a day long past the state retention: stale, not added.
    writeFileSync(join(reports, 'old.xml'), googleDmarc({ id: 'old', begin: 1335571200, end: 1335657599 }));
    // A state file that is not JSON: the exporter says so and starts afresh.
    writeFileSync(join(dir, 'state.json'), '{"version":1,"seen":');
    const url = await start('--reports.max-report-bytes=262144');
    const text = await scrapeUntil(url, (t) => total(t, 'reports_processed_total') === 7 && sample(t, 'reports_messages_total', { result: 'kept' }) === 1, 10_000);
    expect(sample(text, 'reports_processed_total', { kind: 'dmarc', result: 'stale' })).toBe(1);
    expect(sample(text, 'reports_processed_total', { kind: 'unknown', result: 'zip_bomb' })).toBe(2);
    expect(sample(text, 'reports_processed_total', { kind: 'unknown', result: 'oversized' })).toBe(1);
    expect(sample(text, 'reports_processed_total', { kind: 'dmarc', result: 'malformed' })).toBe(1);
    expect(sample(text, 'reports_processed_total', { kind: 'tlsrpt', result: 'malformed' })).toBe(1);
    expect(counted(text, 'dmarc')).toBe(1);
    expect(sample(text, 'reports_up')).toBe(1);
  });

  test('a directory that cannot be read is reports_up 0 and a fetch error, and recovers', async () => {
    rmSync(reports, { recursive: true });
    const url = await start();
    const down = await scrapeUntil(url, (t) => (sample(t, 'reports_fetch_errors_total', { source: 'dir' }) ?? 0) >= 1, 10_000);
    expect(sample(down, 'reports_up')).toBe(0);
    require('node:fs').mkdirSync(reports);
    writeFileSync(join(reports, 'r.xml'), googleDmarc());
    await scrapeUntil(url, (t) => sample(t, 'reports_up') === 1 && counted(t, 'dmarc') === 1, 10_000);
  });
});

describe('reports exporter, IMAP that is down', () => {
  let server: Server | undefined;
  let running: RunningExporter | undefined;
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tinomail-reports-'));
    writeFileSync(join(dir, 'password'), 'secret\n');
  });
  afterEach(async () => {
    await running?.stop();
    running = undefined;
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  const args = (port: number, ...extra: string[]) => [
    '--web.listen-address=127.0.0.1:0',
    `--reports.imap.address=127.0.0.1:${port}`,
    '--reports.imap.security=none',
    '--reports.imap.user=dmarc',
    `--reports.imap.password-file=${join(dir, 'password')}`,
    '--reports.interval=100ms',
    ...extra,
  ];

  test('a closed port answers reports_up 0 quickly with HTTP 200', async () => {
    // A port that was free a moment ago: nothing listens there.
    const closed = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
    });
    running = await runExporter(definition, args(closed), { log: silentLogger });
    const { text, status } = await scrape(`${running.url}/metrics`);
    expect(status).toBe(200);
    expect(sample(text, 'reports_up')).toBe(0);
    await scrapeUntil(`${running.url}/metrics`, (t) => (sample(t, 'reports_fetch_errors_total', { source: 'imap' }) ?? 0) >= 2, 10_000);
  });

  test('a server that accepts and never greets is reports_up 0 within the timeout', async () => {
    server = createServer(() => undefined).listen(0, '127.0.0.1');
    await new Promise((r) => server!.once('listening', r));
    const { port } = server.address() as { port: number };
    running = await runExporter(definition, args(port, '--reports.timeout=300ms'), { log: silentLogger });
    const text = await scrapeUntil(`${running.url}/metrics`, (t) => (sample(t, 'reports_fetch_errors_total', { source: 'imap' }) ?? 0) >= 1, 10_000);
    expect(sample(text, 'reports_up')).toBe(0);
  });
});

describe('reports exporter flags', () => {
  test.each([
    [['--reports.own-networks=192.0.2.0/33'], /--reports.own-networks.*192.0.2.0\/33/],
    [['--reports.imap.address=127.0.0.1:993'], /--reports.imap.user/],
    [['--reports.imap.address=127.0.0.1:993', '--reports.imap.user=u'], /--reports.imap.password-file/],
    [['--reports.max-report-bytes=0'], /--reports.max-report-bytes/],
    [['--reports.imap.security=ssl'], /--reports.imap.security/],
  ])('%j is refused naming the flag (exit code 2)', async (argv, message) => {
    const err = await runExporter(definition, ['--web.listen-address=127.0.0.1:0', ...argv], { log: silentLogger }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FlagError);
    expect((err as FlagError).exitCode).toBe(2);
    expect((err as Error).message).toMatch(message);
  });

  test('without a source it runs, saying reports_up 0', async () => {
    const running = await runExporter(definition, ['--web.listen-address=127.0.0.1:0'], { log: silentLogger });
    try {
      expect(sample((await scrape(`${running.url}/metrics`)).text, 'reports_up')).toBe(0);
    } finally {
      await running.stop();
    }
  });
});
