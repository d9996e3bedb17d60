/** The plugin's pure parts on literal inputs: label mapping, ini parsing, the metric set for the docs. */
import { Registry } from 'prom-client';
import { parseConfig, parseListen } from '../../../plugins/haraka/src/config';
import {
  BoundedLabel,
  authOutcomes,
  coreRejectionReason,
  parseAuthenticationResults,
  replyStage,
  rspamdActionLabel,
  rspamdAuthResults,
  rspamdErrorReason,
  rspamdSkipReason,
  smtpCodeLabel,
  tlsLabel,
  wildduckCodeLabel,
} from '../../../plugins/haraka/src/labels';
import { snapshotNow } from '../../../plugins/haraka/src/cluster';
import { createMetrics, registerMetrics } from '../../../plugins/haraka/src/metrics';
import { MetricsServer } from '../../../plugins/haraka/src/server';

test.each([
  ['RCPT TO:<a@example.com>', false, false, 'rcpt'],
  ['mail from:<a@example.com> SIZE=10', false, false, 'mail'],
  ['EHLO client.test', false, false, 'ehlo'],
  ['DATA', true, false, 'data_end'],
  [null, false, false, 'connect'],
  ['dXNlcm5hbWU=', false, true, 'auth'],
  ['alice@example.com hello', false, false, 'unknown_command'],
])('replyStage(%j, awaiting=%s, inAuth=%s) = %s', (line, awaiting, inAuth, stage) => {
  expect(replyStage(line, awaiting, inAuth)).toBe(stage);
});

test.each([
  ['rcpt', 550, 'I cannot deliver mail for <bob@elsewhere.test>', 'relay_denied'],
  ['mail', 550, 'Authentication required', 'auth_required'],
  ['data_end', 550, 'Message too big!', 'message_too_big'],
  ['mail', 550, 'Message too big!', 'message_too_big'],
  ['data_end', 451, 'Queuing declined or disabled, try later (ABC.1)', 'queue_declined'],
  ['data_end', 450, 'something else (ABC.1)', 'queue_declined'],
  ['data_end', 550, 'Too many received headers - possible mail loop', 'too_many_received_headers'],
  ['data', 451, 'Bare line-feed; see https://haraka.github.io/barelf/', 'bare_linefeed'],
  ['auth', 535, '5.7.8 Authentication failed', 'auth_failed'],
  ['rcpt', 503, 'Use MAIL before RCPT', 'bad_sequence'],
  ['unknown_command', 500, 'Unrecognized command', 'syntax'],
  ['mail', 501, 'Command parsing failed', 'syntax'],
  ['ehlo', 521, 'Command line too long', 'syntax'],
  ['connect', 421, 'timeout', 'timeout'],
  ['data', 554, 'No valid recipients', 'no_valid_recipients'],
  ['helo', 552, 'a reply this code does not know', 'other'],
])('core rejection at %s %d "%s" is %s', (stage, code, text, reason) => {
  expect(coreRejectionReason(stage, code, text)).toBe(reason);
});

test('label values from outside are bounded', () => {
  expect(smtpCodeLabel(550)).toBe('550');
  expect(smtpCodeLabel(NaN)).toBe('other');
  expect(smtpCodeLabel(9999)).toBe('other');
  expect(tlsLabel(false, 'TLSv1.3')).toBe('none');
  expect(tlsLabel(true, 'TLSv1.3')).toBe('TLSv1.3');
  expect(tlsLabel(true, 'made-up')).toBe('other');
  expect(rspamdActionLabel('add header')).toBe('add header');
  expect(rspamdActionLabel('<script>')).toBe('other');
  expect(rspamdSkipReason('authed')).toBe('authed');
  expect(rspamdSkipReason('weird')).toBe('other');
  expect(wildduckCodeLabel('NO_SUCH_USER')).toBe('NO_SUCH_USER');
  expect(wildduckCodeLabel('alice@example.com')).toBe('other');

  const plugins = new BoundedLabel(2, /^[A-Za-z0-9_./-]{1,64}$/); // as the plugin makes it
  expect(plugins.value('rspamd')).toBe('rspamd');
  expect(plugins.value('has space')).toBe('other');
  expect(plugins.value('queue/discard')).toBe('queue/discard');
  expect(plugins.value('third')).toBe('other');
  expect(plugins.value('rspamd')).toBe('rspamd');
});

test('rspamd errors by reason, without the addresses in the message', () => {
  expect(rspamdErrorReason('timeout')).toBe('timeout');
  expect(rspamdErrorReason('connect ECONNREFUSED 127.0.0.1:11333')).toBe('connection');
  expect(rspamdErrorReason('parse failure: Unexpected token h in JSON')).toBe('parse');
  expect(rspamdErrorReason('Message has no data')).toBe('other');
});

test('SMTP AUTH outcomes from the results auth_base leaves', () => {
  expect(authOutcomes({ pass: [], fail: ['auth/flat_file/PLAIN', 'auth/flat_file/LOGIN'] })).toEqual([
    { method: 'PLAIN', result: 'failure' },
    { method: 'LOGIN', result: 'failure' },
  ]);
  expect(authOutcomes({ pass: ['auth/flat_file'], method: 'CRAM-MD5', fail: [] })).toEqual([{ method: 'CRAM-MD5', result: 'success' }]);
  expect(authOutcomes(undefined)).toEqual([]);
  expect(authOutcomes({ fail: ['x/NTLM'] })).toEqual([{ method: 'other', result: 'failure' }]);
});

test('SPF/DKIM/DMARC from Authentication-Results fragments and from rspamd symbols', () => {
  expect(
    parseAuthenticationResults([
      'spf=pass smtp.mailfrom=example.org',
      'dkim=fail (bad signature) header.i=@example.org',
      'dmarc=pass header.from=example.org',
      'auth=pass (plain)',
      'spf=bogus smtp.helo=x',
      42,
    ]),
  ).toEqual([
    { method: 'spf', result: 'pass' },
    { method: 'dkim', result: 'fail' },
    { method: 'dmarc', result: 'pass' },
    { method: 'spf', result: 'other' },
  ]);
  expect(parseAuthenticationResults(undefined)).toEqual([]);
  expect(rspamdAuthResults({ R_SPF_SOFTFAIL: {}, R_DKIM_NA: {}, DMARC_POLICY_QUARANTINE: {}, BAYES_SPAM: {} })).toEqual([
    { method: 'spf', result: 'softfail' },
    { method: 'dkim', result: 'none' },
    { method: 'dmarc', result: 'fail' },
  ]);
});

test('tinomail.ini: defaults, values, and listen addresses', () => {
  expect(parseConfig({})).toEqual({ listen: '127.0.0.1:9746', webConfigFile: '', workerTimeoutSeconds: 5, maxPorts: 10, maxPlugins: 50 });
  expect(
    parseConfig({ server: { listen: '127.0.0.1:9999', timeout: '2', web_config_file: ' web.yml ' }, labels: { max_ports: '3', max_plugins: 'x' } }),
  ).toEqual({
    listen: '127.0.0.1:9999',
    webConfigFile: 'web.yml',
    workerTimeoutSeconds: 2,
    maxPorts: 3,
    maxPlugins: 50,
  });
  expect(parseListen(':9746')).toEqual({ host: '0.0.0.0', port: 9746 });
  expect(parseListen('9746')).toEqual({ host: '0.0.0.0', port: 9746 });
  expect(parseListen('127.0.0.1:0')).toEqual({ host: '127.0.0.1', port: 0 });
  expect(parseListen('[::1]:9746')).toEqual({ host: '::1', port: 9746 });
  expect(() => parseListen('localhost:99999')).toThrow(/cannot parse/);
  expect(() => parseListen('nonsense')).toThrow(/cannot parse/);
});

test('registerMetrics puts every metric on a registry without starting anything: names, HELP, suffixes', async () => {
  const registry = new Registry();
  registerMetrics(registry);
  const metrics = await registry.getMetricsAsJSON();
  expect(metrics.length).toBeGreaterThanOrEqual(20);
  for (const m of metrics) {
    expect(m.name).toMatch(/^haraka_[a-z_]+$/);
    expect(m.help).toMatch(/^[A-Z].+\.$/);
    expect(m.help).not.toContain('\n');
    if (String(m.type) === 'counter') expect(m.name).toMatch(/_total$/);
    else expect(m.name).not.toMatch(/_total$/);
  }
  // No label carries an address, a user or an IP.
  const labels = new Set(registry.getMetricsAsArray().flatMap((m) => (m as unknown as { labelNames: string[] }).labelNames));
  expect(labels).toEqual(new Set(['port', 'tls', 'result', 'plugin', 'hook', 'code', 'stage', 'reason', 'smtp_code', 'reject_code', 'action', 'method', 'source', 'where', 'state', 'version']));
  for (const forbidden of ['ip', 'user', 'address', 'from', 'to', 'email', 'helo']) expect(labels.has(forbidden)).toBe(false);
});

test('the metrics server refuses a listen address it cannot parse without throwing', async () => {
  const server = new MetricsServer({ contentType: 'text/plain', render: async () => '' });
  await expect(server.start('no-port-here')).rejects.toThrow(/cannot parse 'no-port-here'/);
  await server.stop();
});

test('the synchronous shutdown snapshot equals prom-client getMetricsAsJSON()', async () => {
  const registry = new Registry();
  const m = createMetrics(registry);
  m.connections.inc({ port: '25' }, 3);
  m.connectionsActive.set({ port: '25' }, 2);
  m.connectionDuration.observe({ port: '25', tls: 'TLSv1.3' }, 0.7);
  m.connectionDuration.observe({ port: '25', tls: 'none' }, 42);
  m.transactions.inc(5);
  m.messageSize.observe(2000);
  m.messageSize.observe(3e7);
  m.coreRejections.inc({ stage: 'rcpt', reason: 'relay_denied', smtp_code: '550' });
  // Exemplars (unused here) are the one thing the snapshot leaves out.
  const strip = (x: unknown) => JSON.parse(JSON.stringify(x, (k, v) => (k === 'exemplar' ? undefined : v)));
  expect(strip(snapshotNow(registry))).toEqual(strip(await registry.getMetricsAsJSON()));
});
