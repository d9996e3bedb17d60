/**
 * zonemta-tinomail inside ZoneMTA's process model.
 *
 * A ZoneMTA server cannot run here (it needs MongoDB and Redis), so the processes are played: the plugin is
 * loaded by ZoneMTA's own plugin loader (@zone-eu/wild-plugins 1.0.10) in the 'main' context in this process
 * and in 'sender' / 'receiver' contexts in child processes; hooks are fired with the argument shapes and log
 * entries logged with the fields zone-mta 3.10.18 uses (lib/sender.js, lib/mail-drop.js, lib/mail-queue.js,
 * plugins/core/email-bounce.js), through the loader's remotelog(): msgpack-js over UDP (log.remote) and the
 * log:entry hook, as in ZoneMTA.
 */
import { createSocket } from 'node:dgram';
import * as msgpack from 'msgpack-js';
import { Registry } from 'prom-client';
import { type Exposition, labelValues, parseExposition, scrape, scrapeUntil, total } from '../../helpers/exposition';
import { countedGate, freeUdpPort, loadPlugin, plugin, runChild, type LoadedPlugin } from './helpers';

const P = 'zonemta_tinomail_';
const SENDERS = 3;
const ITERATIONS = 120;

afterEach(() => plugin.stop());

/** How many of k = 0..n-1 satisfy `pred`: expected values follow from what the fixture sends. */
function count(n: number, pred: (k: number) => boolean): number {
  let c = 0;
  for (let k = 0; k < n; k++) if (pred(k)) c++;
  return c;
}

/** The master's own entries (lib/mail-queue.js DROP and DELETED, plugins/core/email-bounce.js QUEUE_BOUNCE). */
function logMasterEntries(master: LoadedPlugin): number {
  const h = master.handler;
  h.remotelog('18e0001', '001', 'DROP', { reason: 'Recipient was found from suppression list', recipient: 'gone@example.net', 'suppressed address': 'gone@example.net' });
  h.remotelog('18e0002', false, 'DELETED', { reason: 'Not found from GridStore' });
  h.remotelog('18c0003', '003', 'QUEUE_BOUNCE', { queued: 'yes', bounceType: 'failure', bounceId: '18e0004' });
  h.remotelog('18c0005', '003', 'QUEUE_BOUNCE', { queued: 'yes', bounceType: 'failure', bounceId: '18e0006' });
  h.remotelog('18c0007', '002', 'QUEUE_BOUNCE', { queued: 'no', bounceType: 'delayed', error: 'Queue not yet initialized' });
  return 5;
}

describe.each([
  ['log.remote', true],
  ['log:entry forwarding', false],
])('entries from every ZoneMTA process (%s)', (_mode, remote) => {
  test('totals are exact: nothing lost, nothing counted twice', async () => {
    const logPort = await freeUdpPort();
    const master = await loadPlugin(
      'main',
      { logListen: `127.0.0.1:${logPort}` },
      remote ? { remote: { protocol: 'udp4', host: '127.0.0.1', port: logPort } } : {},
    );
    expect(master.metricsUrl).not.toBe('');

    const gate = countedGate(master.metricsUrl);
    const children = await Promise.all([
      ...Array.from({ length: SENDERS }, (_, index) => runChild({ role: 'sender', index, iterations: ITERATIONS, logPort, remote }, gate(index))),
      runChild({ role: 'receiver', index: 9, iterations: ITERATIONS, logPort, remote }, gate(9)),
    ]);
    const masterEntries = logMasterEntries(master);

    const sent = (key: string) => children.reduce((sum, c) => sum + (c[key] ?? 0), 0);
    const accepted = sent('accepted');
    const deferred = sent('deferred');
    const rejected = sent('rejected');
    const queued = sent('queued');
    const noqueue = sent('noqueue');
    expect(accepted).toBe(SENDERS * ITERATIONS);
    const entries = accepted + deferred + rejected + queued + noqueue + masterEntries;

    const s = await scrapeUntil(
      master.metricsUrl,
      m => total(m, `${P}log_entries_total`) >= entries && total(m, `${P}queue_time_seconds_count`) >= accepted + rejected,
    );

    expect(total(s, `${P}log_entries_total`)).toBe(entries);
    expect(total(s, `${P}log_entries_total`, { action: 'ACCEPTED' })).toBe(accepted);
    expect(total(s, `${P}log_entries_total`, { action: 'DELETED' })).toBe(1);
    expect(total(s, `${P}log_datagrams_malformed_total`)).toBe(0);
    expect(total(s, `${P}log_receiver_up`)).toBe(1);
    expect(total(s, `${P}log_receiver_drops_total`)).toBe(0);

    // outcome x zone x sending IP x destination group
    for (const [ip, residue] of [['192.0.2.1', 0], ['192.0.2.2', 1], ['192.0.2.3', 2]] as const) {
      const perIp = SENDERS * count(ITERATIONS, k => k % 3 === residue);
      expect(total(s, `${P}deliveries_total`, { outcome: 'accepted', zone: 'default', sending_ip: ip, destination: 'google' })).toBe(perIp);
      expect(total(s, `${P}deliveries_total`, { outcome: 'deferred', zone: 'default', sending_ip: ip, destination: 'microsoft' })).toBe(perIp);
      expect(total(s, `${P}deliveries_total`, { outcome: 'rejected', zone: 'default', sending_ip: ip, destination: 'other' })).toBe(perIp);
    }
    expect(total(s, `${P}deliveries_total`)).toBe(accepted + deferred + rejected);

    // SMTP reply class and enhanced status class
    expect(total(s, `${P}smtp_responses_total`, { outcome: 'accepted', destination: 'google', response_class: '2xx', enhanced_status: '2.0' })).toBe(accepted);
    expect(total(s, `${P}smtp_responses_total`, { outcome: 'deferred', destination: 'microsoft', response_class: '4xx', enhanced_status: '4.7' })).toBe(deferred);
    expect(total(s, `${P}smtp_responses_total`, { outcome: 'rejected', destination: 'other', response_class: '5xx', enhanced_status: '5.1' })).toBe(rejected);

    // bounce category, deferrals by attempt
    expect(total(s, `${P}delivery_failures_total`, { outcome: 'deferred', category: 'blacklist', destination: 'microsoft' })).toBe(deferred);
    expect(total(s, `${P}delivery_failures_total`, { outcome: 'rejected', category: 'recipient', destination: 'other' })).toBe(rejected);
    for (const attempt of [1, 2, 3]) {
      expect(total(s, `${P}deferrals_total`, { zone: 'default', attempt: String(attempt) })).toBe(SENDERS * count(ITERATIONS, k => (k % 3) + 1 === attempt));
    }

    // delivery duration (the entry's timer, ms) and time in queue (sender:fetch `created` to the final entry)
    expect(total(s, `${P}delivery_duration_seconds_count`, { outcome: 'accepted' })).toBe(accepted);
    expect(total(s, `${P}delivery_duration_seconds_sum`, { outcome: 'accepted' })).toBeCloseTo(accepted * 1.5, 6);
    expect(total(s, `${P}delivery_duration_seconds_count`, { outcome: 'rejected' })).toBe(rejected);
    expect(total(s, `${P}delivery_duration_seconds_count`, { outcome: 'deferred' })).toBe(0); // timer undefined: DATA never finished
    expect(total(s, `${P}queue_time_seconds_count`, { outcome: 'accepted', zone: 'default' })).toBe(accepted);
    expect(total(s, `${P}queue_time_seconds_bucket`, { outcome: 'accepted', le: '15' })).toBe(0); // created 60 s before
    expect(total(s, `${P}queue_time_seconds_bucket`, { outcome: 'accepted', le: '300' })).toBe(accepted);
    expect(total(s, `${P}queue_time_seconds_bucket`, { outcome: 'rejected', le: '900' })).toBe(0); // created an hour before
    expect(total(s, `${P}queue_time_seconds_bucket`, { outcome: 'rejected', le: '14400' })).toBe(rejected);
    expect(total(s, `${P}queue_time_seconds_count`, { outcome: 'deferred' })).toBe(0);

    // TLS
    expect(total(s, `${P}delivery_tls_total`, { outcome: 'accepted', tls_version: 'TLSv1.3', cert_verified: 'yes' })).toBe(accepted);
    expect(total(s, `${P}delivery_tls_total`, { outcome: 'deferred', tls_version: 'none', cert_verified: 'none' })).toBe(deferred);
    expect(total(s, `${P}tls_errors_total`, { zone: 'default', mode: 'starttls' })).toBe(sent('tlsErrors'));

    // queueing, NOQUEUE, DROP, bounces
    expect(total(s, `${P}messages_queued_total`, { interface: 'feeder' })).toBe(queued);
    expect(total(s, `${P}messages_noqueue_total`, { interface: 'feeder', reason: 'spam' })).toBe(noqueue);
    expect(total(s, `${P}messages_dropped_total`, { reason: 'suppressed' })).toBe(1);
    expect(total(s, `${P}bounces_generated_total`, { type: 'failure', queued: 'yes' })).toBe(2);
    expect(total(s, `${P}bounces_generated_total`, { type: 'delayed', queued: 'no' })).toBe(1);
    expect(total(s, `${P}hook_errors_total`)).toBe(0);
  });
});

describe('bounded labels', () => {
  test('zones, sending IPs, reasons and destinations stay bounded and carry no address', async () => {
    const logPort = await freeUdpPort();
    const master = await loadPlugin(
      'main',
      { logListen: `127.0.0.1:${logPort}`, maxZones: 5, maxSendingIps: 4, maxReasons: 3, maxInterfaces: 2 },
      { remote: { protocol: 'udp4', host: '127.0.0.1', port: logPort } },
    );
    const iterations = 150;
    const gate = countedGate(master.metricsUrl);
    const results = await Promise.all(
      [0, 1].map(index => runChild({ role: 'sender', chaos: true, index, iterations, logPort, remote: true }, gate(index))),
    );
    const entries = results.reduce((sum, r) => sum + r.entries!, 0);
    const s = parseExposition(await scrapeUntil(master.metricsUrl, m => total(m, `${P}log_entries_total`) >= entries));
    expect(total(s, `${P}log_entries_total`)).toBe(entries);

    const bounded = (name: string, label: string, max: number) => {
      const values = labelValues(s, name, label);
      values.delete('none');
      expect(values.has('other')).toBe(true);
      expect(values.size).toBeLessThanOrEqual(max + 1);
    };
    bounded(`${P}deliveries_total`, 'zone', 5);
    bounded(`${P}deliveries_total`, 'sending_ip', 4);
    bounded(`${P}messages_noqueue_total`, 'reason', 3);
    bounded(`${P}messages_noqueue_total`, 'interface', 2);
    expect([...labelValues(s, `${P}deliveries_total`, 'destination')]).toEqual(['other']);
    expect(labelValues(s, `${P}delivery_failures_total`, 'category')).toEqual(new Set(['other']));
    expect(labelValues(s, `${P}messages_dropped_total`, 'reason')).toEqual(new Set(['other']));
    expect(total(s, `${P}log_entries_total`, { action: 'other' })).toBe(entries / 5);
    expect(labelValues(s, `${P}deliveries_total`, 'sending_ip').has('not an ip')).toBe(false);

    for (const sample of s) {
      for (const value of Object.values(sample.labels)) expect(value).toMatch(/^[A-Za-z0-9_.:+-]*$/); // no '@', no spaces
    }
    expect(s.length).toBeLessThan(600);
  });
});

describe('bad input and failures never break mail flow', () => {
  test('malformed datagrams are counted and dropped, the next entry still counts', async () => {
    const master = await loadPlugin('main', {});
    const socket = createSocket('udp4');
    const send = (payload: Buffer) => new Promise<void>(resolve => socket.send(payload, master.logPort, '127.0.0.1', () => resolve()));
    const entry = msgpack.encode({ id: 'x', seq: '001', action: 'QUEUED', interface: 'api' });
    const bad = [
      Buffer.from([0xc1]), // a type msgpack does not define
      entry.subarray(0, entry.length - 3), // truncated
      Buffer.concat([entry, Buffer.from([0x00])]), // trailing bytes
      msgpack.encode(['QUEUED', 'x']), // not a map
      msgpack.encode('ACCEPTED'),
      Buffer.from('{"action":"ACCEPTED"}'), // JSON is not the log.remote format
      msgpack.encode({ action: 'TINOMAIL_QUEUE_TIME', outcome: 'accepted', seconds: 'soon' }),
    ];
    for (const payload of bad) await send(payload);
    await send(entry);
    socket.close();

    const s = await scrapeUntil(master.metricsUrl, m => total(m, `${P}messages_queued_total`) >= 1);
    expect(total(s, `${P}log_datagrams_malformed_total`)).toBe(bad.length);
    expect(total(s, `${P}messages_queued_total`, { interface: 'api' })).toBe(1);
    expect(total(s, `${P}log_entries_total`)).toBe(1);
  });

  test('entries the kernel drops on a full receive buffer are counted as drops, so no loss is silent', async () => {
    // the smallest buffer the kernel allows, and a burst sent before the master's event loop can read any of it
    const master = await loadPlugin('main', { logReceiveBufferBytes: 1024 });
    const socket = createSocket('udp4');
    const entry = msgpack.encode({ id: '18c0001', seq: '001', action: 'QUEUED', interface: 'feeder', padding: 'x'.repeat(900) });
    const burst = 300;
    await new Promise<void>(resolve => {
      let left = burst;
      for (let i = 0; i < burst; i++) socket.send(entry, master.logPort, '127.0.0.1', () => --left === 0 && resolve());
    });
    socket.close();
    const counted = (m: Exposition) => total(m, `${P}log_entries_total`) + total(m, `${P}log_receiver_drops_total`);
    const s = await scrapeUntil(master.metricsUrl, m => counted(m) >= burst);
    expect(total(s, `${P}log_receiver_drops_total`)).toBeGreaterThan(0);
    expect(counted(s)).toBe(burst);
  });

  test('hooks given broken arguments resolve, and the error is counted in the master', async () => {
    const master = await loadPlugin('main', {});
    const sender = await loadPlugin('sender', { logListen: `127.0.0.1:${master.logPort}` });
    expect(sender.handler.loaded).toHaveLength(1);

    await expect(sender.handler.runHooks('sender:fetch', [null])).resolves.toBeUndefined();
    await expect(sender.handler.runHooks('sender:tlserror', [undefined, undefined, new Error('x')])).resolves.toBeUndefined();
    await expect(sender.handler.runHooks('log:entry', [null])).resolves.toBeUndefined();

    const s = await scrapeUntil(master.metricsUrl, m => total(m, `${P}hook_errors_total`) >= 3);
    expect(total(s, `${P}hook_errors_total`, { hook: 'sender:fetch' })).toBe(1);
    expect(total(s, `${P}hook_errors_total`, { hook: 'sender:tlserror' })).toBe(1);
    expect(total(s, `${P}hook_errors_total`, { hook: 'log:entry' })).toBe(1);
  });

  test('a taken UDP port shows as log_receiver_up 0; the plugin loads and /metrics answers', async () => {
    const blocker = createSocket('udp4');
    await new Promise<void>(resolve => blocker.bind(0, '127.0.0.1', () => resolve()));
    try {
      const master = await loadPlugin('main', { logListen: `127.0.0.1:${blocker.address().port}` });
      expect(master.handler.loaded).toHaveLength(1);
      expect(master.errors.some(args => /log receiver on udp .* failed/.test(String(args[1]) + String(args.slice(2))))).toBe(true);
      const s = (await scrape(master.metricsUrl)).text;
      expect(total(s, `${P}log_receiver_up`)).toBe(0);
    } finally {
      blocker.close();
    }
  });

  test('an invalid plugin config is refused with a clear message, ZoneMTA goes on', async () => {
    const master = await loadPlugin('main', { listen: 'everywhere' });
    expect(master.handler.loaded).toHaveLength(0);
    expect(master.errors.map(args => args.join(' ')).join('\n')).toMatch(/listen must look like "host:port"/);
  });
});

describe('the plugin package', () => {
  test('registerMetrics creates every metric on a given registry without starting anything', async () => {
    const registry = new Registry();
    plugin.registerMetrics(registry);
    const metrics = await registry.getMetricsAsJSON();
    expect(metrics.length).toBeGreaterThanOrEqual(15);
    for (const m of metrics) {
      expect(m.name.startsWith(P)).toBe(true);
      expect(m.help).toMatch(/^[^\n]{10,}$/);
      if (String(m.type) === 'counter') expect(m.name).toMatch(/_total$/);
    }
    const names = metrics.map(m => m.name);
    for (const required of ['deliveries_total', 'queue_time_seconds', 'delivery_duration_seconds', 'tls_errors_total']) {
      expect(names).toContain(P + required);
    }
  });

  test('exports the ZoneMTA plugin shape', () => {
    expect(typeof plugin.title).toBe('string');
    expect(typeof plugin.init).toBe('function');
  });
});
