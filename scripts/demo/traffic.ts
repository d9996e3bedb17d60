/**
 * Synthetic mail traffic for the demo, each kind through the path the real system uses:
 * - SMTP to Haraka (nodemailer): accepted, unknown domains, spam by score, authenticated submissions, a bad password;
 * - GELF as WildDuck, haraka-plugin-wildduck and zonemta-wildduck send it (npm `gelf`, UDP, zlib), and over TCP
 *   with `gelf-pro`;
 * - ZoneMTA log entries through ZoneMTA's own plugin loader (@zone-eu/wild-plugins remotelog: msgpack over UDP,
 *   what `log.remote` does), with the sender hooks the plugin listens to;
 * - WildDuck's keys in Redis (IMAP connection counts, failed logins, rate-limit counters);
 * - DMARC aggregate and TLS-RPT reports as Google sends them (test/reports/fixtures.ts), dropped into the reports
 *   exporter's --reports.dir: a zip file and a report mail (.eml).
 * Field shapes follow the upstream code (WildDuck 1.50, haraka-plugin-wildduck 6.0.1, zonemta-wildduck 1.32,
 * zone-mta 3.10); the values are made up.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type Redis from 'ioredis';
import nodemailer from 'nodemailer';
import { googleDmarc, gzip, mail, tlsrpt, zip } from '../../test/reports/fixtures';
import { SMTP_USER } from './haraka';

type Fields = Record<string, unknown>;

// eslint-disable-next-line @typescript-eslint/no-require-imports
const Gelf = require('gelf') as new (options: Fields) => { emit(event: 'gelf.log', message: Fields, cb?: (err: Error | null) => void): void; closeSocket(): void };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const gelfPro = require('gelf-pro') as {
  setConfig(config: Fields): void;
  info(message: string, extra: Fields, cb: (err: Error | null) => void): void;
};
// eslint-disable-next-line @typescript-eslint/no-require-imports
const PluginHandler = require('@zone-eu/wild-plugins') as new (options: Fields) => {
  load(done: () => void): void;
  runHooks(name: string, args: unknown[]): Promise<void>;
  remotelog(id: string, seq: string | false, action: string, data: Fields): void;
};

export interface TrafficTargets {
  smtpPort?: number;
  gelfPort?: number;
  /** UDP port of the ZoneMTA plugin's log receiver (log.remote). */
  zonemtaLogPort?: number;
  redis?: Redis;
  /** The reports exporter's --reports.dir. */
  reportsDir?: string;
}

/** Our own sending network in the demo's reports (the demo gives the reports exporter --reports.own-networks). */
export const DEMO_OWN_NETWORK = '192.0.2.0/24';

const pick = <T>(items: T[]): T => items[Math.floor(Math.random() * items.length)];

export class Traffic {
  private gelf?: InstanceType<typeof Gelf>;
  private sender?: InstanceType<typeof PluginHandler>;
  private round = 0;

  constructor(private readonly targets: TrafficTargets) {}

  /** Loads the ZoneMTA plugin in a sender context, as a ZoneMTA sender process would. */
  async start(pluginsPath: string): Promise<void> {
    if (this.targets.gelfPort) {
      this.gelf = new Gelf({ graylogPort: this.targets.gelfPort, graylogHostname: '127.0.0.1', connection: 'lan' });
      // A log shipper forwarding WildDuck's lines over GELF TCP (gelf-pro adds the "_" to each extra field).
      gelfPro.setConfig({ adapterName: 'tcp', adapterOptions: { host: '127.0.0.1', port: this.targets.gelfPort, family: 4 }, fields: { component: 'wildduck' } });
    }
    if (this.targets.zonemtaLogPort) {
      const quiet = { info() {}, verbose() {}, error() {} };
      const port = this.targets.zonemtaLogPort;
      this.sender = new PluginHandler({
        logger: quiet,
        context: 'sender',
        pluginsPath,
        plugins: { zonemta: { enabled: ['main', 'sender', 'receiver'], logListen: `127.0.0.1:${port}`, listen: '127.0.0.1:0' } },
        log: { remote: { protocol: 'udp4', host: '127.0.0.1', port } },
      });
      await new Promise<void>((resolve) => this.sender!.load(resolve));
    }
  }

  /** One round of every kind of traffic; errors of single messages are expected (rejections) and ignored. */
  async once(): Promise<void> {
    this.round++;
    await Promise.all([this.smtp(), this.gelfLines(), this.zonemta(), this.redisKeys(), this.reports()]);
  }

  /** A round's reports: a DMARC aggregate zip file, and a TLS-RPT report in a mail (.eml), each with its own ID. */
  private async reports(): Promise<void> {
    const dir = this.targets.reportsDir;
    if (!dir) return;
    const id = `demo-${process.pid}-${this.round}`;
    const records = [
      { ip: '192.0.2.10', count: 40 + this.round },
      { ip: '192.0.2.11', count: 2, dkim: 'fail' }, // one of our own hosts signs badly
      { ip: '198.51.100.7', count: 5, dkim: 'fail', spf: 'fail', disposition: 'reject' }, // someone spoofing us
    ];
    writeFileSync(join(dir, `google.com!example.com!${id}.zip`), zip(`google.com!example.com!${id}.xml`, googleDmarc({ id, records })));
    const policies = [{ domain: 'example.com', ok: 90, failed: 3, failures: [{ type: 'certificate-expired', count: 3 }] }];
    writeFileSync(join(dir, `tlsrpt-${id}.eml`), await mail({ from: 'smtp-tls-reporting@google.com', tlsrptReport: gzip(tlsrpt({ id, policies })) }));
  }

  stop(): void {
    this.gelf?.closeSocket();
  }

  private async smtp(): Promise<void> {
    const port = this.targets.smtpPort;
    if (!port) return;
    const send = async (auth: { user: string; pass: string } | undefined, to: string[], score: number | 'garbled', size = 2000) => {
      const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, auth, tls: { rejectUnauthorized: false }, name: 'client.demo.test' });
      try {
        await transport.sendMail({
          from: 'sender@demo.test',
          to,
          subject: `demo ${this.round}`,
          headers: { 'X-Demo-Score': String(score) },
          text: 'x'.repeat(size),
        });
      } catch {
        // rejected recipients and messages are part of the demo
      } finally {
        transport.close();
      }
    };
    await Promise.all([
      send(undefined, ['alice@example.com'], 1 + Math.random() * 3, 1000 + Math.floor(Math.random() * 50000)),
      send(undefined, ['bob@example.com', 'nobody@elsewhere.test'], 5 + Math.random() * 5),
      send(undefined, ['carol@example.com'], this.round % 3 === 0 ? 20 : 2),
      send(undefined, ['dave@example.com', 'nobody@example.com', 'full@example.com'], this.round % 2 === 0 ? 'garbled' : 3),
      send(SMTP_USER, ['friend@gmail.com'], 0.5),
      this.round % 2 === 0 ? send({ user: SMTP_USER.user, pass: 'wrong' }, ['x@example.com'], 1) : Promise.resolve(),
    ]);
  }

  private gelfLines(): Promise<void> {
    if (!this.gelf) return Promise.resolve();
    const loggelf = (component: string, fields: Fields, extra: Fields = {}) => {
      const message: Fields = { ...fields, host: 'mail1.demo.test', facility: component, _component: component, ...extra };
      const prefix = component.toUpperCase();
      message.short_message = `${prefix} ${String(fields.short_message)}`;
      for (const key of Object.keys(message)) if (!message[key]) delete message[key]; // upstream drops falsy fields
      return new Promise<void>((resolve) => this.gelf!.emit('gelf.log', message, () => resolve()));
    };
    const mx = (f: Fields) => loggelf('mx', f, { _interface: 'mx' });
    const wildduck = (f: Fields) => loggelf('wildduck', f);
    const mta = (f: Fields) => loggelf('mta', f);
    const overTcp = (short: string, extra: Fields) => new Promise<void>((resolve) => gelfPro.info(`WILDDUCK ${short}`, extra, () => resolve()));
    const q = `DEMO${this.round}`;
    const score = Math.round(Math.random() * 80) / 10;
    return Promise.all([
      mx({ short_message: `[RCPT TO:alice@example.com] ${q}`, _mail_action: 'rcpt_to', _rcpt_accepted: 'yes', _user: 'u1' }),
      mx({ short_message: `[RCPT TO:nobody@example.com] ${q}`, _mail_action: 'rcpt_to', _error: 'no such user', _unknown_user: 'yes' }),
      mx({ short_message: `[DENY:bob@example.net] ${q}`, _mail_action: 'deny', _reject_code: pick(['NO_SUCH_USER', 'MBOX_FULL', 'RATE_LIMIT', 'DMARC_POLICY_REJECT']) }),
      mx({ short_message: `[RCPT TO:full@example.com] ${q}`, _mail_action: 'rcpt_to', _error: 'user over quota', _over_quota: 'yes' }),
      mx({ short_message: `[RCPT TO:busy@example.com] ${q}`, _mail_action: 'rcpt_to', _rate_limit: 'yes', _selector: pick(['rcpt', 'rcptIp']), _error: 'too many attempts' }),
      mx({ short_message: `[PROCESS] ${q}`, _mail_action: 'process', _stored: 'yes', _stored_size: 2000 + Math.floor(Math.random() * 80000), _spam_score: score, _spam_action: score > 6 ? 'add header' : 'no action', _user: 'u1' }),
      this.round % 2 === 1 ? mx({ short_message: `[PROCESS] ${q}`, _mail_action: 'process', _no_store: 'yes', _error: 'failed to store message', _failure: 'yes' }) : Promise.resolve(),
      mx({ _queue_id: `F${this.round}`, short_message: `[QUEUED] F${this.round}`, _parent_queue_id: q, _queued: 'yes', _forwarded: 'yes' }),
      mx({ _queue_id: `A${this.round}`, short_message: `[QUEUED] A${this.round}`, _parent_queue_id: q, _queued: 'yes', _autoreply: 'yes' }),
      overTcp('[AUTHOK] alice@example.com', { mail_action: 'auth', auth_result: 'success', scope: 'imap', user: 'u1' }),
      wildduck({ short_message: '[AUTHFAIL] alice@example.com', _auth_result: pick(['fail', 'fail', 'ratelimited']), _scope: pick(['imap', 'pop3']) }),
      wildduck({ short_message: '[CONNSTART] Connection established for u1', _connection: 'establish', _service: 'imap', _user: 'u1', _limit: 15 }),
      this.round % 2 === 0 ? wildduck({ short_message: '[CONNFAILED] Connection failed for u2', _connection: 'limited', _service: 'imap', _user: 'u2', _limit: 15 }) : Promise.resolve(),
      mta({ short_message: `[QUEUED] M${this.round}`, _queue_id: `M${this.round}`, _mail_action: 'queued', _interface: 'feeder' }),
      mta({ short_message: `[ACCEPTED] M${this.round}.001`, _mail_action: 'accepted', _zone: 'default', _response: '250 2.0.0 OK' }),
      mta({ short_message: `[DEFERRED] M${this.round}.002`, _mail_action: 'deferred', _zone: 'default', _bounce_category: 'greylist', _bounce_count: 1 }),
      this.round % 2 === 1 ? mta({ short_message: `[RCPT TO:x@example.org] s${this.round}`, _mail_action: 'rcpt_to', _allowed: 'no', _daily: 'yes', _rate_limit: 'yes' }) : Promise.resolve(),
      this.round % 2 === 0 ? mta({ short_message: `[RWENVELOPE] M${this.round}`, _mail_action: 'rw_envelope_from', _rewrite_from: 'alice@example.com' }) : Promise.resolve(),
    ]).then(() => undefined);
  }

  private async zonemta(): Promise<void> {
    const sender = this.sender;
    if (!sender) return;
    const tls = (secure: boolean) => (secure ? { secure: true, tls: true, tlsVersion: 'TLSv1.3', tlsAuthorized: true } : { secure: false, tls: false, tlsVersion: false, tlsAuthorized: false });
    // Six recipients a round: four delivered, one deferred (after a failed STARTTLS), one rejected.
    for (let k = 0; k < 6; k++) {
      const id = `19${this.round.toString(16).padStart(6, '0')}${k}`;
      const ip = ['192.0.2.1', '192.0.2.2'][(this.round + k) % 2];
      const zone = k % 3 === 2 ? 'bulk' : 'default';
      const domain = ['gmail.com', 'outlook.com', 'example.org', 'yahoo.com'][(this.round + k) % 4];
      const created = new Date(Date.now() - (60 + k * 600) * 1000).toISOString();
      await sender.runHooks('sender:fetch', [{ id, seq: '001', domain, sendingZone: zone, recipient: `r${k}@${domain}`, created, queued: new Date().toISOString(), _deferred: false }]);
      const common = { zone, to: `r${k}@${domain}`, mx: `mx.${domain}`, host: '203.0.113.5', ip, from: 'sender@demo.test' };
      if (k < 4) {
        sender.remotelog(id, '001', 'ACCEPTED', { ...common, response: '250 2.0.0 OK queued', size: 4096, timer: 200 + Math.floor(Math.random() * 3000), start: 10, ...tls(k !== 3) });
      } else if (k === 4) {
        await sender.runHooks('sender:tlserror', [{ id, seq: '001', sendingZone: zone }, { secure: false }, new Error('socket hang up')]);
        sender.remotelog(id, '001', 'DEFERRED', {
          ...common,
          category: ['blacklist', 'greylist', 'network'][this.round % 3],
          defcount: 1 + (this.round % 4),
          response: '451 4.7.1 Try again later',
          ...tls(false),
        });
      } else {
        sender.remotelog(id, '001', 'REJECTED', { ...common, category: 'recipient', response: '550 5.1.1 User unknown', timer: 100, ...tls(true) });
      }
    }
    // What the master and the receivers log (they are other processes in ZoneMTA; here they log through the same path).
    // core/rspamd's SPAMCHECK (plugins/core/rspamd/index.js: score as toFixed(2), result the action): the queued
    // message scanned clean (every third round "add header"), the refused one scanned "reject".
    const score = this.round % 3 === 0 ? 7 + Math.random() * 4 : Math.random() * 3;
    sender.remotelog(`q${this.round}`, false, 'SPAMCHECK', { score: score.toFixed(2), result: score >= 6 ? 'add header' : 'no action', tests: `MIME_GOOD=-0.1, TINOMAIL_TEST_SCORE=${score.toFixed(2)}` });
    sender.remotelog(`q${this.round}`, false, 'QUEUED', { interface: 'feeder', from: 'sender@demo.test', to: 'r@gmail.com' });
    if (this.round % 2 === 1) sender.remotelog(`n${this.round}`, false, 'SPAMCHECK', { score: '18.00', result: 'reject', tests: 'TINOMAIL_TEST_SCORE=18.1, MIME_GOOD=-0.1' });
    if (this.round % 2 === 1) sender.remotelog(`n${this.round}`, false, 'NOQUEUE', { interface: 'feeder', description: 'spam', responseText: '550 This message was classified as SPAM and may not be delivered' });
    if (this.round % 2 === 0) sender.remotelog(`d${this.round}`, false, 'DROP', { interface: 'feeder', description: 'suppressed' });
    if (this.round % 2 === 1) sender.remotelog(`b${this.round}`, false, 'QUEUE_BOUNCE', { bounceType: 'failure', queued: 'yes', category: 'recipient' });
  }

  private async redisKeys(): Promise<void> {
    const redis = this.targets.redis;
    if (!redis) return;
    const users = ['5f1e0000000000000000000a', '5f1e0000000000000000000b', '5f1e0000000000000000000c'];
    await redis
      .multi()
      .hset('lim:imap', '_version', '1', users[0], String(1 + (this.round % 4)), users[1], '2', users[2], String(this.round % 16))
      .set(`auth_user:${pick(users)}`, String(1 + (this.round % 13)), 'EX', 60)
      .set(`auth_user:totp:${users[2]}`, '6', 'EX', 60)
      .set(`rl:rcpt:${pick(users)}`, String(this.round), 'EX', 60)
      .set(`rl:rcptIp:198.51.100.7:${users[0]}`, '3', 'EX', 60)
      .set(`wdr:${users[1]}`, String(this.round), 'EX', 86400)
      .set(`wdf:${users[2]}`, '1', 'EX', 86400)
      .exec();
  }
}
