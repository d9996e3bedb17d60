/**
 * `tinomail-monitor reports`: DMARC aggregate reports (RFC 7489) and SMTP TLS reports (RFC 8460) read from the
 * mailbox their `rua` points to (IMAP) or from a directory, turned into counters. Polls in the background; a
 * scrape shows what the polls found and whether the last poll reached every source. See docs/reports.md.
 */
import type { Readable } from 'node:stream';
import { parseAddress, FlagError, positiveFlag, type FlagSpec } from '../kit/flags';
import type { Exporter, ExporterContext, ExporterDefinition, ScrapeContext } from '../kit/exporter';
import type { Logger } from '../kit/log';
import { decodeReport, type DecodeOptions } from './decode';
import { DirSource, type FileHandler } from './dir';
import { ImapSource, type MailHandler, type MailVerdict } from './imap';
import { Ledger } from './ledger';
import { reportsInMail } from './mail';
import { ReportMetrics } from './metrics';
import { ownNetworks } from './networks';
import { ReportError } from './report';
import { ReportState } from './state';

const MiB = 1024 * 1024;

const FLAGS: FlagSpec[] = [
  { name: 'reports.imap.address', type: 'address', default: '', help: 'IMAP server of the report mailbox (host:port); empty: no mailbox.' },
  { name: 'reports.imap.security', type: 'enum', choices: ['tls', 'starttls', 'none'], default: 'tls', help: 'tls: TLS from the start (port 993); starttls: STARTTLS required (143); none: cleartext (loopback only).' },
  { name: 'reports.imap.insecure-skip-verify', type: 'bool', default: 'false', help: 'Accept any TLS certificate of the IMAP server (a self-signed test server).' },
  { name: 'reports.imap.user', type: 'string', default: '', help: 'IMAP user of the report mailbox (the account rua= and TLS-RPT rua= point to).' },
  { name: 'reports.imap.password-file', type: 'string', default: '', help: 'File holding the IMAP password (read at every poll).' },
  { name: 'reports.imap.mailbox', type: 'string', default: 'INBOX', help: 'Folder the reports arrive in.' },
  { name: 'reports.imap.processed-folder', type: 'string', default: 'Reports/Processed', help: 'Folder messages move to once their reports are counted (created if missing).' },
  { name: 'reports.imap.kept-folder', type: 'string', default: 'Reports/Kept', help: 'Folder messages move to when they hold no report or a refused one, for a person to look at (created if missing).' },
  { name: 'reports.dir', type: 'string', default: '', help: 'Directory of report files (.xml, .xml.gz, .zip, .json, .json.gz, .eml); empty: none. Files are only read.' },
  { name: 'reports.own-networks', type: 'list', default: '', help: 'Our sending IPs and networks (203.0.113.0/24,2001:db8::/32,...): report records from them are source="own", the rest "other".' },
  { name: 'reports.state-file', type: 'string', default: '', help: 'File keeping the IDs of counted reports, the last report per reporter and the reporter labels across restarts; empty: memory only.' },
  { name: 'reports.state-retention', type: 'duration', default: '60d', help: 'Report IDs are kept this long; reports whose period ended longer ago are counted as stale, not added.' },
  { name: 'reports.max-state-entries', type: 'int', default: '100000', help: 'Most report IDs kept in the state file (the oldest go first).' },
  { name: 'reports.interval', type: 'duration', default: '5m', help: 'Time between the end of one poll of the sources and the start of the next.' },
  { name: 'reports.timeout', type: 'duration', default: '30s', help: 'Timeout of connecting to the IMAP server and of its greeting.' },
  { name: 'reports.batch', type: 'int', default: '200', help: 'Most messages or files read in one poll; the rest wait for the next poll.' },
  { name: 'reports.max-message-bytes', type: 'int', default: String(64 * MiB), help: 'Mail messages (and .eml files) larger than this are kept unread as oversized.' },
  { name: 'reports.max-report-bytes', type: 'int', default: String(100 * MiB), help: 'Most bytes of one report once decompressed; a compressed one beyond is a zip_bomb, a plain one oversized.' },
  { name: 'reports.max-json-bytes', type: 'int', default: String(16 * MiB), help: 'Most bytes of one TLS-RPT JSON report (JSON is parsed whole; XML is streamed).' },
  { name: 'reports.top-reporters', type: 'int', default: '20', help: 'Reporters (by the domain of their contact address) that get their own label value, first come; the rest are "other".' },
  { name: 'reports.max-domains', type: 'int', default: '20', help: 'Our domains that get their own label value, first come; the rest are "other".' },
];

const positive = (ctx: ExporterContext, name: string): number => positiveFlag(ctx.flags, name);

class ReportsExporter implements Exporter {
  private readonly log: Logger;
  private readonly metrics: ReportMetrics;
  private readonly ledger: Ledger;
  private readonly decode: DecodeOptions;
  private readonly maxMessageBytes: number;
  private readonly intervalMs: number;
  private readonly imap: ImapSource | undefined;
  private readonly dir: DirSource | undefined;
  /** Whether each configured source was reached by the last poll. */
  private readonly sourceUp = new Map<'imap' | 'dir', boolean>();
  private readonly firstPoll: Promise<void>;
  private firstPollDone!: () => void;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private stopping = false;

  constructor(ctx: ExporterContext) {
    const f = ctx.flags;
    this.log = ctx.log;
    this.intervalMs = positive(ctx, 'reports.interval');
    this.maxMessageBytes = positive(ctx, 'reports.max-message-bytes');
    let classify;
    try {
      classify = ownNetworks(f['reports.own-networks'] as string[]);
    } catch (err) {
      throw new FlagError(`invalid --reports.own-networks: ${(err as Error).message}`);
    }
    this.decode = { maxReportBytes: positive(ctx, 'reports.max-report-bytes'), maxJsonBytes: positive(ctx, 'reports.max-json-bytes'), classify };
    this.metrics = new ReportMetrics(ctx.registry, { topReporters: positive(ctx, 'reports.top-reporters'), maxDomains: positive(ctx, 'reports.max-domains') });
    this.ledger = new Ledger(
      this.metrics,
      new ReportState(f['reports.state-file'] as string),
      { retentionMs: positive(ctx, 'reports.state-retention'), maxStateEntries: positive(ctx, 'reports.max-state-entries') },
      this.log,
    );
    const batch = positive(ctx, 'reports.batch');
    const address = f['reports.imap.address'] as string;
    if (address) {
      for (const name of ['reports.imap.user', 'reports.imap.password-file']) {
        if (!f[name]) throw new FlagError(`--${name} is needed with --reports.imap.address`);
      }
      const { host, port } = parseAddress(address);
      this.imap = new ImapSource(
        {
          host: host === '0.0.0.0' ? '127.0.0.1' : host,
          port,
          security: f['reports.imap.security'] as 'tls' | 'starttls' | 'none',
          insecureSkipVerify: f['reports.imap.insecure-skip-verify'] as boolean,
          user: f['reports.imap.user'] as string,
          passwordFile: f['reports.imap.password-file'] as string,
          mailbox: f['reports.imap.mailbox'] as string,
          processedFolder: f['reports.imap.processed-folder'] as string,
          keptFolder: f['reports.imap.kept-folder'] as string,
          maxMessageBytes: this.maxMessageBytes,
          batch,
          timeoutMs: positive(ctx, 'reports.timeout'),
        },
        this.log.child({ source: 'imap' }),
      );
    }
    if (f['reports.dir']) this.dir = new DirSource(f['reports.dir'] as string, batch);
    this.firstPoll = new Promise((resolve) => (this.firstPollDone = resolve));
  }

  async start(): Promise<void> {
    this.ledger.restore();
    if (!this.imap && !this.dir) {
      this.log.warn('no report source: set --reports.imap.address or --reports.dir (reports_up stays 0)');
      this.firstPollDone();
      return;
    }
    if (!this.ledger.state.file) this.log.warn('no --reports.state-file: after a restart, reports read again count again');
    this.metrics.watchingSince.set(this.ledger.state.since);
    this.schedule(0);
  }

  async scrape(ctx: ScrapeContext): Promise<boolean> {
    // Until the first poll has reached (or failed to reach) every source, wait for it, within the scrape.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.firstPoll, new Promise<void>((r) => (timer = setTimeout(r, ctx.timeoutMs / 2)))]);
    clearTimeout(timer);
    this.metrics.flush();
    const states = [...this.sourceUp.values()];
    return (Boolean(this.imap) || Boolean(this.dir)) && states.length === Number(Boolean(this.imap)) + Number(Boolean(this.dir)) && states.every(Boolean);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    this.imap?.close();
    await this.polling;
  }

  private schedule(delayMs: number): void {
    if (this.stopping) return;
    this.timer = setTimeout(() => {
      this.polling = this.poll().finally(() => {
        this.polling = undefined;
        this.firstPollDone();
        this.schedule(this.intervalMs);
      });
    }, delayMs);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    const stopping = () => this.stopping;
    const run = async (source: 'imap' | 'dir', fn: (reached: () => void) => Promise<void>) => {
      try {
        await fn(() => {
          this.sourceUp.set(source, true);
          if (this.sourceUp.size === Number(Boolean(this.imap)) + Number(Boolean(this.dir))) this.firstPollDone();
        });
      } catch (err) {
        if (this.stopping) return;
        if (this.sourceUp.get(source) !== false) this.log.warn('poll failed', { source, err: (err as Error).message });
        this.sourceUp.set(source, false);
        this.metrics.fetchError(source);
        if (this.sourceUp.size === Number(Boolean(this.imap)) + Number(Boolean(this.dir))) this.firstPollDone();
      }
    };
    await Promise.all([
      this.imap && run('imap', (reached) => this.imap!.poll(this.mailHandler, reached, stopping)),
      this.dir && run('dir', (reached) => this.dir!.poll(this.fileHandler, reached, stopping)),
    ]);
  }

  private async readMail(content: Readable): Promise<MailVerdict> {
    const verdicts = (await reportsInMail(content, this.decode)).map((o) => this.ledger.account(o));
    this.ledger.commit();
    const processed = verdicts.length > 0 && !verdicts.includes('refused');
    this.metrics.message(processed ? 'processed' : 'kept');
    if (!processed) this.log.info('message kept for a person', { reports: verdicts.length, refused: verdicts.filter((v) => v === 'refused').length });
    return processed ? 'processed' : 'kept';
  }

  private oversizedMail(size: number): void {
    this.ledger.account(new ReportError('oversized', 'unknown', `message of ${size} bytes is larger than --reports.max-message-bytes`));
    this.metrics.message('kept');
  }

  private readonly mailHandler: MailHandler = {
    message: (content) => this.readMail(content),
    oversized: (size) => this.oversizedMail(size),
  };

  private readonly fileHandler: FileHandler = {
    file: async (content, mail, size) => {
      if (mail) {
        if (size > this.maxMessageBytes) this.oversizedMail(size);
        else await this.readMail(content);
        return;
      }
      let outcome;
      try {
        outcome = await decodeReport(content, this.decode);
      } catch (err) {
        if (!(err instanceof ReportError)) throw err; // the file could not be read: a fetch error
        outcome = err;
      }
      this.ledger.account(outcome);
      this.ledger.commit();
    },
  };
}

export const definition: ExporterDefinition = {
  name: 'reports',
  description: 'DMARC aggregate and SMTP TLS (TLS-RPT) reports from a mailbox or a directory, as counters',
  defaultPort: 9751,
  flags: FLAGS,
  create: (ctx) => new ReportsExporter(ctx),
};
