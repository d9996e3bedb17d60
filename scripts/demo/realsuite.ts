/**
 * `npm run demo`: the real mail suite (test/realsuite/harness.ts: WildDuck, ZoneMTA, Haraka, Rspamd, CongoDB, Redis,
 * every exporter, Prometheus and Alertmanager with the shipped files) with traffic: mail through ZoneMTA -> Haraka
 * (scanned by rspamd) -> WildDuck (some refused or deferred on purpose, some scored as spam), IMAP logins, some
 * with a wrong password, and now and then a DMARC aggregate and a TLS-RPT report mailed to the report mailbox that
 * the reports exporter reads.
 */
import { ImapFlow } from 'imapflow';
import { DOMAIN, EXPORTERS, type RealSuite, REPORTS_MAILBOX, startRealSuite } from '../../test/realsuite/harness';
import { mailReports, submit } from '../../test/realsuite/mail';
import { TEST_SCORE_HEADER } from '../../test/realsuite/rspamd';

/** Why an alert fires in the demo, so that a newcomer does not take it for a fault of the monitoring. */
export const DEMO_ALERTS: Record<string, string> = {
  TinomailInboundRejectionSpike: 'the demo traffic sends mail to nobody@ (no such user), hard@ (refused with 550) and spam that rspamd rejects on purpose',
  TinomailAuthFailureSpike: 'the demo traffic logs in over IMAP with a wrong password on purpose',
  TinomailCollectorFailing: 'CongoDB, the stand-in for MongoDB, lacks dbStats/$collStats for the databases collector (a real mongod has them)',
  TinomailExporterDown: 'on a busy machine the system exporter can take longer than the demo\'s 2 s scrape timeout (the shipped config gives 10 s)',
  TinomailMailProcessNotRunning: 'the system exporter looks for the processes of a real installation (mongod, ...): some are not run by the demo',
  TinomailMailServiceDown: 'a daemon of the demo was stopped (or could not keep up on a busy machine)',
  TinomailSendingIPHighFailureRatio: 'the demo refuses and defers part of its own outbound mail on purpose',
  TinomailNoLogEvents: 'only WildDuck sends GELF in the demo: haraka-plugin-wildduck and zonemta-wildduck are not on npm',
  TinomailTLSReportFailures: "the demo's TLS-RPT reports list a few certificate-expired sessions on purpose",
  TinomailDMARCSpoofing: "the demo's DMARC reports list a spoofer (203.0.113.9) on purpose, and after a while it adds up past 100 a day",
  TinomailDeferredQueueGrowing: 'mail to soft@ is deferred (451) on purpose and piles up in the queue',
};

export interface RealDemo {
  suite: RealSuite;
  stop(): Promise<void>;
}

export async function startRealDemo(trafficEveryMs = 3000): Promise<RealDemo> {
  const suite = await startRealSuite({
    harakaRejects: { [`soft@${DOMAIN}`]: '451 4.3.0 try again later (demo)', [`hard@${DOMAIN}`]: '550 5.7.1 refused (demo)' },
    exporters: [...EXPORTERS, 'reports'],
  });
  const users = [
    { name: 'alice', password: 'alice-demo-password' },
    { name: 'bob', password: 'bob-demo-password' },
  ];
  let reportsAddress: string;
  try {
    for (const u of users) await suite.wildduck.createUser(u.name, u.password);
    reportsAddress = (await suite.wildduck.createUser(REPORTS_MAILBOX.user, REPORTS_MAILBOX.password)).address;
  } catch (err) {
    await suite.close();
    throw err;
  }
  let round = 0;
  let busy = false;
  const once = async () => {
    round++;
    const d = suite.domain;
    const to = [`alice@${d}`, `bob@${d}`, ...(round % 3 === 0 ? [`nobody@${d}`, `hard@${d}`] : []), ...(round % 5 === 0 ? [`soft@${d}`] : [])];
    // Rspamd's verdicts: its thresholds (greylist 4, add header 6, reject 15) pick the action for these scores.
    const score = (rcpt: string) => (rcpt.startsWith('alice') && round % 2 === 0 ? 7 : rcpt.startsWith('bob') && round % 6 === 0 ? 20 : round % 7 === 0 ? 4.5 : 0);
    for (const rcpt of to) await submit(suite, rcpt, `demo round ${round}`, { headers: { [TEST_SCORE_HEADER]: String(score(rcpt)) } }).catch(() => undefined);
    if (round % 20 === 1) await sendReports(suite, reportsAddress, round).catch(() => undefined);
    const user = users[round % users.length];
    const wrong = round % 4 === 0;
    const client = new ImapFlow({ host: suite.wildduck.imap.host, port: suite.wildduck.imap.port, secure: false, auth: { user: user.name, pass: wrong ? 'wrong-password' : user.password }, logger: false });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.mailboxOpen('INBOX');
      await client.logout();
    } catch {
      client.close();
    }
  };
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    once().finally(() => (busy = false));
  }, trafficEveryMs);
  return {
    suite,
    async stop() {
      clearInterval(timer);
      await suite.close();
    },
  };
}

/**
 * Reports as Google sends them, each with an ID of its own: our own IPs (loopback, the harness's
 * --reports.own-networks) mostly passing, one failing DKIM, and a spoofer; TLS sessions with a few expired
 * certificates. Receivers send one a day; the demo sends them every 20 rounds so the Reports dashboard fills.
 */
function sendReports(suite: RealSuite, to: string, round: number): Promise<void> {
  const records = [
    { ip: '127.0.0.1', count: 50 },
    { ip: '127.0.0.2', count: 3, dkim: 'fail' },
    { ip: '203.0.113.9', count: 6, dkim: 'fail', spf: 'fail', disposition: 'reject' },
  ];
  return mailReports(suite, to, { id: `demo-${Date.now()}-${round}`, records, tls: { ok: 120, failed: 4 } });
}

export function describeRealDemo(demo: RealDemo): string {
  const s = demo.suite;
  const lines = ['', 'tinomail-monitor demo on the real mail suite. Where to look:', ''];
  const row = (name: string, value: string) => lines.push(`  ${name.padEnd(22)} ${value}`);
  if (s.prometheus) row('Prometheus', `${s.prometheus.url}   (targets: ${s.prometheus.url}/targets, alerts: ${s.prometheus.url}/alerts)`);
  if (s.alertmanager) row('Alertmanager', s.alertmanager.url);
  row('ZoneMTA plugin', s.zonemta.plugin);
  row('ZoneMTA native', s.zonemta.metrics);
  row('Haraka plugin', s.haraka.plugin);
  row('WildDuck native', s.wildduck.metrics);
  if (s.rspamd) row('Rspamd native', `${s.rspamd.metrics}   (web UI ${s.rspamd.controller}, password ${s.rspamd.password})`);
  for (const [name, url] of Object.entries(s.exporters)) row(`${name} exporter`, url!);
  lines.push('');
  row('submit mail (ZoneMTA)', `${s.zonemta.feeder.host}:${s.zonemta.feeder.port}  e.g. swaks --server ${s.zonemta.feeder.host}:${s.zonemta.feeder.port} --to alice@${s.domain}`);
  row('IMAP (WildDuck)', `${s.wildduck.imap.host}:${s.wildduck.imap.port}  users alice / alice-demo-password, bob / bob-demo-password`);
  row('WildDuck API', `${s.wildduck.api}  (X-Access-Token: ${s.wildduck.token})`);
  if (s.prometheus) {
    lines.push('', `  Grafana: GRAFANA_ADMIN_PASSWORD=... GRAFANA_PROMETHEUS_URL=${s.prometheus.url} docker compose up --no-deps grafana`);
    lines.push(`           or import grafana/dashboards/*.json into a Grafana whose Prometheus datasource is ${s.prometheus.url}`);
  }
  lines.push('', 'Alerts that may fire in a demo once their `for:` time has passed, and why (none is a fault of the monitoring):');
  for (const [alert, why] of Object.entries(DEMO_ALERTS)) lines.push(`  ${alert}: ${why}`);
  lines.push('', `Logs and configs: ${s.dir}. Traffic: mail and IMAP logins every 3 seconds. Ctrl-C stops everything.`, '');
  return lines.join('\n');
}

/** Alerts firing in Prometheus now, each with the demo's reason when it has one. */
export async function firingAlerts(prometheusUrl: string): Promise<string[]> {
  const res = (await (await fetch(`${prometheusUrl}/api/v1/alerts`)).json()) as { data: { alerts: { state: string; labels: Record<string, string> }[] } };
  const names = [...new Set(res.data.alerts.filter((a) => a.state === 'firing').map((a) => a.labels.alertname))].sort();
  return names.map((n) => `${n}${DEMO_ALERTS[n] ? ` (demo: ${DEMO_ALERTS[n]})` : ''}`);
}
