/**
 * The plugin inside a real Haraka 3 (nodes=0, one instance for the file), driven by nodemailer over SMTP.
 * Real: Haraka, its tls, auth/flat_file, rcpt_to.in_host_list, queue/discard plugins, haraka-plugin-rspamd,
 * nodemailer, the certificate (openssl). Stand-ins (see fixtures.ts): rspamd (HTTP replies shaped as
 * rspamd 3 sends them) and haraka-plugin-wildduck (a plugin rejecting as it does).
 * The plugin is built by the root `pretest` (npm run build), or by the harness when dist is stale.
 */
import nodemailer from 'nodemailer';
import { scrapeUntil } from '../../helpers/exposition';
import { makeCertificate, startHaraka, value, type Haraka } from './harness';
import { FAKE_WILDDUCK_PLUGIN, POISON_PLUGIN, TEST_DENY_PLUGIN, rawSmtp, startFakeRspamd } from './fixtures';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const MAX_BYTES = 20000;

let haraka: Haraka;
let rspamd: Awaited<ReturnType<typeof startFakeRspamd>>;
let port: string;

beforeAll(async () => {
  rspamd = await startFakeRspamd();
  const certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinomail-cert-'));
  const { key, cert } = makeCertificate(certDir);
  fs.rmSync(certDir, { recursive: true });
  const connectionIni = fs
    .readFileSync(path.join(__dirname, '../../../node_modules/Haraka/config/connection.ini'), 'utf8')
    .replace(/^bytes=\d+/m, `bytes=${MAX_BYTES}`);
  haraka = await startHaraka({
    nodes: 0,
    plugins: ['tinomail', 'test_poison', 'tls', 'auth/flat_file', 'test_deny', 'wildduck', 'rcpt_to.in_host_list', 'rspamd', 'queue/discard'],
    testPlugins: { test_deny: TEST_DENY_PLUGIN, wildduck: FAKE_WILDDUCK_PLUGIN, test_poison: POISON_PLUGIN },
    config: {
      'connection.ini': connectionIni,
      'tls_key.pem': key,
      'tls_cert.pem': cert,
      'auth_flat_file.ini': '[core]\nmethods=PLAIN,LOGIN\n[users]\nalice=correct-horse\n',
      'rspamd.ini': `[main]\nhost=127.0.0.1\nport=${rspamd.port}\n[check]\nlocal_ip=true\nprivate_ip=true\n`,
    },
  });
  port = String(haraka.smtpPort);
}, 20000);

afterAll(async () => {
  await haraka?.stop();
  await rspamd?.stop();
});

interface SendOptions {
  from?: string;
  to: string[];
  subject?: string;
  headers?: Record<string, string>;
  text?: string;
  ehlo?: string;
  starttls?: boolean;
  auth?: { user: string; pass: string };
}

async function send(o: SendOptions): Promise<{ ok: true; accepted: string[]; rejected: string[] } | { ok: false; code?: number; command?: string; error: string }> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: haraka.smtpPort,
    secure: false,
    name: o.ehlo ?? 'client.test',
    ignoreTLS: !o.starttls,
    requireTLS: !!o.starttls,
    tls: { rejectUnauthorized: false },
    auth: o.auth,
  });
  const from = o.from ?? 'sender@example.org';
  try {
    const info = await transport.sendMail({
      envelope: { from, to: o.to },
      from,
      to: o.to,
      subject: o.subject ?? 'test',
      headers: o.headers,
      text: o.text ?? 'hello\n',
    });
    return { ok: true, accepted: info.accepted as string[], rejected: info.rejected as string[] };
  } catch (err) {
    const e = err as { responseCode?: number; command?: string; message: string };
    return { ok: false, code: e.responseCode, command: e.command, error: e.message };
  } finally {
    transport.close();
  }
}

/** Connections whose close the plugin could not count (the poisoned one). */
let uncountedCloses = 0;

/** Scrape after every connection is closed on Haraka's side (disconnect hook done). */
async function settled(): Promise<string> {
  return scrapeUntil(haraka.metricsUrl, (m) => value(m, 'haraka_connections_active', { port }) === uncountedCloses);
}

type Series = [name: string, labels?: Record<string, string>];

async function deltas(action: () => Promise<unknown>, series: Series[]): Promise<number[]> {
  const before = await settled();
  await action();
  const after = await settled();
  return series.map(([name, labels]) => value(after, name, labels) - value(before, name, labels));
}

test('an accepted message is counted: connection, transaction, recipients, message, size, timings, rspamd, SPF/DKIM/DMARC', async () => {
  const text = 'x'.repeat(5000);
  let result: Awaited<ReturnType<typeof send>> | undefined;
  const d = await deltas(
    async () => {
      result = await send({ from: 'spf-pass@example.org', to: ['alice@example.com', 'bob@elsewhere.test'], text });
    },
    [
      ['haraka_connections_total', { port }],
      ['haraka_transactions_total'],
      ['haraka_recipients_total', { result: 'accept' }],
      ['haraka_recipients_total', { result: 'reject' }],
      ['haraka_core_rejections_total', { stage: 'rcpt', reason: 'relay_denied', smtp_code: '550' }],
      ['haraka_messages_total', { result: 'accept' }],
      ['haraka_message_size_bytes_count'],
      ['haraka_message_size_bytes_sum'],
      ['haraka_message_recipients_bucket', { le: '1' }],
      ['haraka_mail_from_to_queued_seconds_count'],
      ['haraka_data_post_delay_seconds_count'],
      ['haraka_connection_duration_seconds_count', { port, tls: 'none' }],
      ['haraka_rspamd_score_count'],
      ['haraka_rspamd_score_bucket', { le: '0' }],
      ['haraka_rspamd_score_bucket', { le: '2' }],
      ['haraka_rspamd_actions_total', { action: 'no action' }],
      ['haraka_rspamd_scan_duration_seconds_count'],
      ['haraka_sender_authentication_total', { method: 'spf', result: 'pass', source: 'haraka' }],
      ['haraka_sender_authentication_total', { method: 'spf', result: 'pass', source: 'rspamd' }],
      ['haraka_sender_authentication_total', { method: 'dkim', result: 'pass', source: 'rspamd' }],
      ['haraka_sender_authentication_total', { method: 'dmarc', result: 'pass', source: 'rspamd' }],
      ['haraka_plugin_rejections_total', { plugin: 'rcpt_to.in_host_list', hook: 'rcpt', code: 'DENY' }],
    ],
  );
  expect(result).toEqual({ ok: true, accepted: ['alice@example.com'], rejected: ['bob@elsewhere.test'] });
  const [conns, txns, rcptOk, rcptRej, relay, msgs, sizeCount, sizeSum, rcpt1, queued, dataPost, dur, score, le0, le2, action, scan, spf, rspf, rdkim, rdmarc, pluginRej] = d;
  expect([conns, txns, rcptOk, rcptRej, relay, msgs, sizeCount, rcpt1, queued, dataPost, dur]).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
  // data_bytes: the body plus headers nodemailer writes and the Received header Haraka adds.
  expect(sizeSum).toBeGreaterThan(text.length);
  expect(sizeSum).toBeLessThan(text.length + 2000);
  // Score 1.2: above the 0 bucket, inside the 2 bucket.
  expect([score, le0, le2, action, scan]).toEqual([1, 0, 1, 1, 1]);
  expect([spf, rspf, rdkim, rdmarc]).toEqual([1, 1, 1, 1]);
  // "I cannot deliver mail for" is Haraka's core, not a plugin deny.
  expect(pluginRej).toBe(0);
});

test('rejections by a test plugin at mail, rcpt and data_post carry plugin, hook and code', async () => {
  const d = await deltas(
    async () => {
      expect(await send({ from: 'deny-mail@example.org', to: ['alice@example.com'] })).toMatchObject({ ok: false, code: 550, command: 'MAIL FROM' });
      expect(await send({ to: ['deny-rcpt@example.com', 'alice@example.com'] })).toMatchObject({ ok: true, rejected: ['deny-rcpt@example.com'] });
      expect(await send({ to: ['alice@example.com'], subject: 'please deny-data' })).toMatchObject({ ok: false, code: 550 });
    },
    [
      ['haraka_plugin_rejections_total', { plugin: 'test_deny', hook: 'mail', code: 'DENY' }],
      ['haraka_plugin_rejections_total', { plugin: 'test_deny', hook: 'rcpt', code: 'DENYSOFT' }],
      ['haraka_plugin_rejections_total', { plugin: 'test_deny', hook: 'data_post', code: 'DENY' }],
      ['haraka_recipients_total', { result: 'tempfail' }],
      ['haraka_recipients_total', { result: 'accept' }],
      ['haraka_messages_total', { result: 'accept' }],
      ['haraka_messages_total', { result: 'reject' }],
      ['haraka_transactions_total'],
      ['haraka_mail_from_to_queued_seconds_count'],
      ['haraka_data_post_delay_seconds_count'],
    ],
  );
  // 3 transactions; accepted recipients: 1 (second mail) + 1 (third, rejected at data_post); 1 message
  // queued; data_post ran for the second and third only.
  expect(d).toEqual([1, 1, 1, 1, 2, 1, 1, 3, 1, 2]);
});

test("haraka-plugin-wildduck's reject codes are counted by code, unknown codes as other", async () => {
  const d = await deltas(
    async () => {
      expect(await send({ to: ['nouser@example.com', 'full@example.com', 'strange@example.com', 'alice@example.com'] })).toMatchObject({ ok: true });
    },
    [
      ['haraka_wildduck_rejections_total', { reject_code: 'NO_SUCH_USER' }],
      ['haraka_wildduck_rejections_total', { reject_code: 'MBOX_FULL' }],
      ['haraka_wildduck_rejections_total', { reject_code: 'other' }],
      ['haraka_plugin_rejections_total', { plugin: 'wildduck', hook: 'rcpt', code: 'DENY' }],
      ['haraka_plugin_rejections_total', { plugin: 'wildduck', hook: 'rcpt', code: 'DENYSOFT' }],
      ['haraka_recipients_total', { result: 'reject' }],
      ['haraka_recipients_total', { result: 'tempfail' }],
    ],
  );
  expect(d).toEqual([1, 1, 1, 2, 1, 2, 1]);
});

test('an oversize message is a core rejection: at the final dot, or at MAIL FROM when SIZE is declared', async () => {
  const d = await deltas(
    async () => {
      expect(await send({ to: ['alice@example.com'], text: 'y'.repeat(MAX_BYTES + 1000) })).toMatchObject({ ok: false, code: 550 });
      // nodemailer refuses a declared size above the server's SIZE itself, so this one is raw SMTP.
      const replies = await rawSmtp(haraka.smtpPort, ['EHLO client.test', `MAIL FROM:<a@example.org> SIZE=${MAX_BYTES * 2}`, 'QUIT']);
      expect(replies[2]).toMatch(/^550 .*too big/);
    },
    [
      ['haraka_core_rejections_total', { stage: 'data_end', reason: 'message_too_big', smtp_code: '550' }],
      ['haraka_core_rejections_total', { stage: 'mail', reason: 'message_too_big', smtp_code: '550' }],
      ['haraka_messages_total', { result: 'reject' }],
      ['haraka_message_size_bytes_bucket', { le: '16384' }],
      ['haraka_message_size_bytes_bucket', { le: '26214400' }],
      ['haraka_messages_total', { result: 'accept' }],
    ],
  );
  expect(d).toEqual([1, 1, 1, 0, 1, 0]);
});

test('STARTTLS with a certificate made by the test: the connection is counted under its TLS version; failed and good AUTH by method', async () => {
  const d = await deltas(
    async () => {
      expect(await send({ to: ['alice@example.com'], starttls: true })).toMatchObject({ ok: true });
      expect(await send({ to: ['alice@example.com'], starttls: true, auth: { user: 'alice', pass: 'wrong' } })).toMatchObject({ ok: false, code: 535 });
      expect(await send({ to: ['someone@elsewhere.test'], starttls: true, auth: { user: 'alice', pass: 'correct-horse' } })).toMatchObject({ ok: true });
    },
    [
      ['haraka_connection_duration_seconds_count', { port, tls: 'TLSv1.3' }],
      ['haraka_connection_duration_seconds_count', { port, tls: 'none' }],
      ['haraka_auth_attempts_total', { method: 'PLAIN', result: 'failure' }],
      ['haraka_auth_attempts_total', { method: 'PLAIN', result: 'success' }],
      ['haraka_core_rejections_total', { stage: 'auth', reason: 'auth_failed', smtp_code: '535' }],
      ['haraka_rspamd_skips_total', { reason: 'authed' }],
      ['haraka_messages_total', { result: 'accept' }],
    ],
  );
  expect(d).toEqual([3, 0, 1, 1, 1, 1, 2]);
});

test('rspamd: reject action is a plugin rejection; error replies and unparsable replies are counted as errors', async () => {
  const requestsBefore = rspamd.requests();
  const d = await deltas(
    async () => {
      expect(await send({ to: ['alice@example.com'], headers: { 'X-Test-Rspamd': 'spam' } })).toMatchObject({ ok: false, code: 550 });
      expect(await send({ to: ['alice@example.com'], headers: { 'X-Test-Rspamd': 'error' } })).toMatchObject({ ok: true });
      expect(await send({ to: ['alice@example.com'], headers: { 'X-Test-Rspamd': 'garbage' } })).toMatchObject({ ok: true });
    },
    [
      ['haraka_plugin_rejections_total', { plugin: 'rspamd', hook: 'data_post', code: 'DENY' }],
      ['haraka_rspamd_actions_total', { action: 'reject' }],
      ['haraka_rspamd_score_bucket', { le: '20' }],
      ['haraka_rspamd_score_bucket', { le: '30' }],
      ['haraka_sender_authentication_total', { method: 'dmarc', result: 'fail', source: 'rspamd' }],
      ['haraka_sender_authentication_total', { method: 'spf', result: 'fail', source: 'rspamd' }],
      ['haraka_rspamd_errors_total', { reason: 'other' }],
      ['haraka_rspamd_errors_total', { reason: 'parse' }],
      ['haraka_messages_total', { result: 'accept' }],
      ['haraka_messages_total', { result: 'reject' }],
    ],
  );
  expect(rspamd.requests() - requestsBefore).toBe(3);
  expect(d).toEqual([1, 1, 0, 1, 1, 1, 1, 1, 2, 1]);
});

test('syntax and sequence errors Haraka answers itself are core rejections by stage', async () => {
  const d = await deltas(
    async () => {
      const replies = await rawSmtp(haraka.smtpPort, ['EHLO client.test', 'RCPT TO:<alice@example.com>', 'FROB', 'MAIL FROM:<bad', 'QUIT']);
      expect(replies.map((r) => r.slice(0, 3))).toEqual(['220', '250', '503', '500', '501', '221']);
    },
    [
      ['haraka_core_rejections_total', { stage: 'rcpt', reason: 'bad_sequence', smtp_code: '503' }],
      ['haraka_core_rejections_total', { stage: 'unknown_command', reason: 'syntax', smtp_code: '500' }],
      ['haraka_core_rejections_total', { stage: 'mail', reason: 'syntax', smtp_code: '501' }],
      ['haraka_transactions_total'],
    ],
  );
  expect(d).toEqual([1, 1, 1, 0]);
});

test('a client leaving during DATA counts an aborted message', async () => {
  const d = await deltas(
    () => rawSmtp(haraka.smtpPort, ['EHLO client.test', 'MAIL FROM:<a@example.org>', 'RCPT TO:<alice@example.com>', 'DATA']),
    [
      ['haraka_messages_total', { result: 'aborted' }],
      ['haraka_message_size_bytes_count'],
    ],
  );
  expect(d).toEqual([1, 0]);
});

test('a metrics port already in use is logged; Haraka still starts and takes mail', async () => {
  const usedPort = new URL(haraka.metricsUrl).port;
  const second = await startHaraka({
    nodes: 0,
    plugins: ['tinomail', 'rcpt_to.in_host_list', 'queue/discard'],
    quiet: true, // ready at the SMTP banner: this one never logs "metrics listening"
    config: { 'tinomail.ini': `[server]\nlisten=127.0.0.1:${usedPort}\n` },
  });
  try {
    await second.waitForLog(/\[tinomail\] cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/);
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port: second.smtpPort, secure: false, ignoreTLS: true });
    const info = await transport.sendMail({ from: 'a@example.org', to: 'alice@example.com', subject: 'x', text: 'y' });
    transport.close();
    expect(info.accepted).toEqual(['alice@example.com']);
  } finally {
    await second.stop();
  }
});

test('/ is a landing page saying how the plugin counts and linking /metrics, other paths are 404', async () => {
  const base = haraka.metricsUrl.replace(/\/metrics$/, '');
  const page = await (await fetch(`${base}/`)).text();
  expect(page).toContain('<a href="metrics">');
  expect(page).toContain('<th align="left">Mode</th><td>single process (nodes=0)</td>');
  expect((await fetch(`${base}/nothing`)).status).toBe(404);
});

// Last: the poisoned connection leaves its own state unusable (its active-connection gauge stays up).
test('mail still flows when counting throws: hooks catch their errors, Haraka sees none', async () => {
  const before = await settled();
  const result = await send({ to: ['alice@example.com'], ehlo: 'poison.test' });
  uncountedCloses++;
  expect(result).toMatchObject({ ok: true, accepted: ['alice@example.com'] });
  const after = await scrapeUntil(haraka.metricsUrl, (m) => value(m, 'haraka_tinomail_errors_total', { where: 'disconnect' }) > value(before, 'haraka_tinomail_errors_total', { where: 'disconnect' }));
  const delta = (name: string, labels?: Record<string, string>) => value(after, name, labels) - value(before, name, labels);
  // Counting really failed (nothing recorded for this message) ...
  expect(delta('haraka_messages_total', { result: 'accept' })).toBe(0);
  expect(delta('haraka_tinomail_errors_total', { where: 'respond' })).toBeGreaterThan(0);
  expect(delta('haraka_tinomail_errors_total', { where: 'reset_transaction' })).toBe(1);
  // ... and Haraka never caught an exception from the plugin: every hook handled its own.
  expect(haraka.log()).not.toMatch(/Plugin tinomail failed/);
  expect(haraka.log()).toMatch(/counting failed in respond: poisoned by test/);
  // A clean connection afterwards is counted again.
  const again = await deltas(() => send({ to: ['alice@example.com'] }), [['haraka_messages_total', { result: 'accept' }]]);
  expect(again).toEqual([1]);
});
