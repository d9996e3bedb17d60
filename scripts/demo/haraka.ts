/**
 * A real Haraka (node_modules/Haraka, two cluster workers) with haraka-plugin-tinomail from plugins/haraka, TLS,
 * SMTP AUTH, a stand-in for haraka-plugin-wildduck's recipient check, rcpt_to.in_host_list for example.com, the
 * real haraka-plugin-rspamd talking to a stand-in Rspamd (this lighter demo runs no rspamd; `npm run demo`, the real
 * suite, runs the Debian one), and queue/discard.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { join } from 'node:path';
import { type Child, freePort, httpOk, startChild, waitFor } from './processes';

const REPO = join(__dirname, '..', '..');
export const HARAKA_PLUGIN_DIR = join(REPO, 'plugins', 'haraka');

/** The demo's SMTP AUTH user (auth/flat_file). */
export const SMTP_USER = { user: 'demo', pass: 'demo-password' };

/**
 * A stand-in for haraka-plugin-wildduck's recipient check (it needs WildDuck's MongoDB): it refuses recipients the
 * way that plugin does, setting txn.notes.rejectCode before DENY / DENYSOFT, and leaves the others to the next plugin.
 */
const WILDDUCK_STAND_IN = `'use strict';
exports.hook_rcpt = function (next, connection, params) {
  const user = params[0].user;
  const txn = connection.transaction;
  if (user.startsWith('nobody')) {
    txn.notes.rejectCode = 'NO_SUCH_USER';
    return next(DENY, 'Unknown user');
  }
  if (user.startsWith('full')) {
    txn.notes.rejectCode = 'MBOX_FULL';
    return next(DENYSOFT, 'Mailbox full');
  }
  next();
};
`;

export interface RunningHaraka {
  smtpPort: number;
  metricsUrl: string;
  child: Child;
  rspamd: http.Server;
}

/**
 * A stand-in for the Rspamd worker's /checkv2 (startDemo runs no rspamd): answers with the JSON shape of rspamd 3.x,
 * the score taken from an `X-Demo-Score` header of the message so the traffic decides the verdict.
 */
export async function startFakeRspamd(): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('latin1')));
    req.on('end', () => {
      const demoScore = /^X-Demo-Score: *(\S+)/im.exec(body)?.[1] ?? '1.5';
      if (demoScore === 'garbled') return res.end('{"score": 3, "action"'); // a reply cut short: a parse failure
      const score = Number(demoScore);
      const action = score >= 15 ? 'reject' : score >= 6 ? 'add header' : score >= 4 ? 'greylist' : 'no action';
      const symbol = (name: string, s: number) => ({ name, score: s, metric_score: s });
      const symbols = {
        R_SPF_ALLOW: symbol('R_SPF_ALLOW', -0.2),
        R_DKIM_ALLOW: symbol('R_DKIM_ALLOW', -0.2),
        DMARC_POLICY_ALLOW: symbol('DMARC_POLICY_ALLOW', -0.5),
        BAYES_SPAM: symbol('BAYES_SPAM', Math.max(0, score - 1)),
      };
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ is_skipped: false, score, required_score: 15, action, symbols, messages: {}, time_real: 0.012 }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

export async function startHaraka(dir: string, smtpPreferred: number, metricsPreferred: number): Promise<RunningHaraka> {
  const rspamd = await startFakeRspamd();
  const config = join(dir, 'config');
  mkdirSync(config, { recursive: true });
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  symlinkSync(HARAKA_PLUGIN_DIR, join(dir, 'node_modules', 'haraka-plugin-tinomail'));
  copyFileSync(join(REPO, 'node_modules', 'Haraka', 'config', 'connection.ini'), join(config, 'connection.ini'));
  // A throwaway certificate for STARTTLS (Haraka offers AUTH only over TLS); -dsaparam keeps dhparams instant.
  const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: config, stdio: 'ignore' });
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'tls_key.pem', '-out', 'tls_cert.pem', '-days', '2', '-subj', '/CN=mx.demo.test']);
  openssl(['dhparam', '-dsaparam', '-out', 'dhparams.pem', '2048']);
  const smtpPort = await freePort(smtpPreferred);
  const metricsPort = await freePort(metricsPreferred);
  const files: Record<string, string> = {
    // Haraka's default cluster mode: the plugin sums its workers' counts.
    'smtp.ini': `listen=127.0.0.1:${smtpPort}\nnodes=2\n`,
    'log.ini': '[main]\nlevel=warn\n',
    me: 'mx.demo.test\n',
    host_list: 'example.com\n',
    plugins: ['tinomail', 'tls', 'auth/flat_file', 'wildduck', 'rcpt_to.in_host_list', 'rspamd', 'queue/discard'].join('\n') + '\n',
    'auth_flat_file.ini': `[core]\nmethods=PLAIN,LOGIN\n[users]\n${SMTP_USER.user}=${SMTP_USER.pass}\n`,
    'rspamd.ini': `host=127.0.0.1\nport=${(rspamd.address() as AddressInfo).port}\n[check]\nlocal_ip=true\nprivate_ip=true\n[reject]\nspam=true\n`,
    'tinomail.ini': `[server]\nlisten=127.0.0.1:${metricsPort}\n`,
  };
  for (const [name, content] of Object.entries(files)) writeFileSync(join(config, name), content);
  mkdirSync(join(dir, 'plugins'), { recursive: true });
  writeFileSync(join(dir, 'plugins', 'wildduck.js'), WILDDUCK_STAND_IN);
  const child = startChild('haraka', process.execPath, [join(REPO, 'node_modules', 'Haraka', 'bin', 'haraka'), '-c', dir], {
    cwd: dir,
    env: { YES_REALLY_DO_DISCARD: '1' },
  });
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  try {
    // Haraka with two workers takes well over 15 s to answer on a machine with every core busy
    await waitFor(child, 'SMTP banner', () => banner(smtpPort), 60_000);
    await waitFor(child, '/metrics', () => httpOk(metricsUrl));
  } catch (err) {
    await child.stop();
    rspamd.close();
    throw err;
  }
  return { smtpPort, metricsUrl, child, rspamd };
}

function banner(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('data', (d) => {
      socket.end('QUIT\r\n');
      resolve(d.toString().startsWith('220'));
    });
    socket.once('error', () => resolve(false));
  });
}
