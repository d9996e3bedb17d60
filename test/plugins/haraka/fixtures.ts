/**
 * Test plugins and a stand-in rspamd for the Haraka tests.
 *
 * haraka-plugin-wildduck needs MongoDB and WildDuck, which cannot run here: `wildduck` below is a stand-in
 * that rejects recipients exactly the way haraka-plugin-wildduck 6 does (txn.notes.rejectCode set, then
 * next(DENY|DENYSOFT, DSN...) from hook_rcpt), so Haraka reports it to `deny` as plugin "wildduck".
 *
 * Rspamd 3.4 (Debian package) installs here but needs ~20 s to start without network (map and fuzzy
 * server lookups), too slow for a test of seconds. So the real haraka-plugin-rspamd talks HTTP to
 * `startFakeRspamd()`, which answers POST /checkv2 with replies shaped as rspamd 3 sends them.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';

/** Denies at mail, rcpt and data_post; adds an SPF Authentication-Results fragment as haraka-plugin-spf does. */
export const TEST_DENY_PLUGIN = `
// @haraka/email-address 3: address is a string getter (a callable shim in some Haraka paths).
const addr = (a) => String(typeof a.address === 'function' ? a.address() : a.address)
exports.hook_mail = function (next, connection, params) {
  const from = addr(params[0])
  if (from.startsWith('deny-mail@')) return next(DENY, 'sender refused by test')
  if (from.startsWith('spf-pass@')) connection.auth_results('spf=pass smtp.mailfrom=' + params[0].host)
  if (from.startsWith('spf-fail@')) connection.auth_results('spf=fail smtp.mailfrom=' + params[0].host)
  next()
}
exports.hook_rcpt = function (next, connection, params) {
  if (addr(params[0]).startsWith('deny-rcpt@')) return next(DENYSOFT, 'try again later')
  next()
}
exports.hook_data_post = function (next, connection) {
  if (/deny-data/.test(connection.transaction.header.get('Subject'))) return next(DENY, 'content refused by test')
  next()
}
`;

/** Rejects the way haraka-plugin-wildduck's hook_rcpt does for an unknown user and a full mailbox. */
export const FAKE_WILDDUCK_PLUGIN = `
const DSN = require('haraka-dsn')
exports.hook_rcpt = function (next, connection, params) {
  const txn = connection.transaction
  const user = params[0].user
  if (user === 'nouser') {
    txn.notes.rejectCode = 'NO_SUCH_USER'
    return next(DENY, DSN.no_such_user())
  }
  if (user === 'full') {
    txn.notes.rejectCode = 'MBOX_FULL'
    return next(DENYSOFT, DSN.mbox_full())
  }
  if (user === 'strange') {
    txn.notes.rejectCode = 'SOMETHING_NEW'
    return next(DENY, 'strange')
  }
  txn.notes.rejectCode = false
  next()
}
`;

/**
 * For "mail still flows when counting throws": a client saying EHLO poison.test gets the plugin's
 * per-connection and per-transaction state replaced by properties that throw on every access.
 */
export const POISON_PLUGIN = `
const trap = {
  get () { throw new Error('poisoned by test') },
  set () { throw new Error('poisoned by test') },
  configurable: true,
}
exports.hook_ehlo = function (next, connection, host) {
  if (host === 'poison.test') {
    Object.defineProperty(connection.notes, 'tinomail', trap)
    connection.notes.poisoned = true
  }
  next()
}
exports.hook_mail = function (next, connection) {
  if (connection.notes.poisoned) Object.defineProperty(connection.transaction.notes, 'tinomail', trap)
  next()
}
`;

/** A /checkv2 reply as rspamd 3 sends it for a clean message with SPF, DKIM and DMARC passing. */
export function rspamdHamReply(): object {
  return {
    is_skipped: false,
    score: 1.2,
    required_score: 15,
    action: 'no action',
    thresholds: { reject: 15, 'add header': 6, greylist: 4 },
    symbols: {
      R_SPF_ALLOW: { name: 'R_SPF_ALLOW', score: -0.2, metric_score: -0.2, description: 'SPF verification allows sending', options: ['+ip4:192.0.2.0/24'] },
      R_DKIM_ALLOW: { name: 'R_DKIM_ALLOW', score: -0.2, metric_score: -0.2, description: 'DKIM verification succeed', options: ['example.org:s=mail'] },
      DMARC_POLICY_ALLOW: { name: 'DMARC_POLICY_ALLOW', score: -0.5, metric_score: -0.5, description: 'DMARC permit policy', options: ['example.org', 'reject'] },
      MIME_GOOD: { name: 'MIME_GOOD', score: -0.1, metric_score: -0.1, description: 'Known content-type', options: ['text/plain'] },
      DATE_IN_PAST: { name: 'DATE_IN_PAST', score: 2.2, metric_score: 1, description: 'Message date is in past' },
    },
    messages: {},
    'message-id': 'test@example.org',
    time_real: 0.012,
    milter: { remove_headers: { 'X-Spam': 0 } },
  };
}

/** A /checkv2 reply for GTUBE: action reject, DMARC failing. */
export function rspamdSpamReply(): object {
  return {
    is_skipped: false,
    score: 21.5,
    required_score: 15,
    action: 'reject',
    thresholds: { reject: 15, 'add header': 6, greylist: 4 },
    symbols: {
      GTUBE: { name: 'GTUBE', score: 0, metric_score: 0, description: 'Test spam pattern' },
      DMARC_POLICY_REJECT: { name: 'DMARC_POLICY_REJECT', score: 2, metric_score: 2, description: 'DMARC reject policy', options: ['example.org', 'reject'] },
      R_SPF_FAIL: { name: 'R_SPF_FAIL', score: 1, metric_score: 1, description: 'SPF verification failed' },
    },
    messages: { smtp_message: 'Gtube pattern' },
    'message-id': 'spam@example.org',
    time_real: 0.02,
  };
}

/**
 * Stand-in rspamd: the message body (which haraka-plugin-rspamd POSTs) picks the reply:
 * X-Test-Rspamd: spam | error | garbage, else ham.
 */
export async function startFakeRspamd(): Promise<{ port: number; requests: () => number; stop: () => Promise<void> }> {
  let requests = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests++;
      const body = Buffer.concat(chunks).toString();
      const kind = /X-Test-Rspamd: (\w+)/.exec(body)?.[1];
      res.setHeader('Content-Type', 'application/json');
      if (req.url !== '/checkv2') return res.writeHead(404).end('{"error":"unknown command"}');
      if (kind === 'garbage') return res.end('this is not json');
      if (kind === 'error') return res.end(JSON.stringify({ error: 'Message has no data' }));
      res.end(JSON.stringify(kind === 'spam' ? rspamdSpamReply() : rspamdHamReply()));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests: () => requests,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A raw SMTP session for what no mail library sends (bad commands): one reply per line. */
export async function rawSmtp(port: number, lines: string[]): Promise<string[]> {
  const socket = net.connect(port, '127.0.0.1');
  let buffer = '';
  const replies: string[] = [];
  let waiting: (() => void) | undefined;
  socket.on('data', (d) => {
    buffer += d.toString();
    // A complete reply ends with a line "NNN text" (no dash after the code).
    let m: RegExpExecArray | null;
    while ((m = /^(?:\d{3}-.*\r\n)*\d{3}(?: .*)?\r\n/.exec(buffer))) {
      replies.push(m[0].trimEnd());
      buffer = buffer.slice(m[0].length);
      waiting?.();
    }
  });
  let consumed = 0;
  const next = () =>
    new Promise<void>((resolve, reject) => {
      const want = ++consumed;
      const t = setTimeout(() => reject(new Error(`no SMTP reply; got ${replies.join(' | ')}`)), 5000);
      waiting = () => {
        if (replies.length >= want) {
          clearTimeout(t);
          resolve();
        }
      };
      waiting();
    });
  await next(); // banner
  for (const line of lines) {
    socket.write(`${line}\r\n`);
    await next();
  }
  socket.end();
  await new Promise((r) => socket.once('close', r));
  return replies;
}
