/**
 * haraka-plugin-tinomail's /metrics through the kit's web server, in a real Haraka 3 (nodes=0) whose process
 * has also loaded the real restify 12 (a test plugin requires it): restify replaces
 * http.ServerResponse.prototype.writeHead process-wide with one that returns nothing, which broke chained
 * `writeHead(...).end(...)`. The web config comes from tinomail.ini `web_config_file`, relative to Haraka's
 * config directory: TLS, a verified client certificate and basic auth. Certificates are made by openssl here.
 * A failing scrape (a worker's answer that cannot be summed) is tested on the plugin's own classes.
 */
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Cluster } from 'node:cluster';
import bcrypt from 'bcryptjs';
import { Registry } from 'prom-client';
import { ClusterCollector } from '../../../plugins/haraka/src/cluster';
import { MetricsServer } from '../../../plugins/haraka/src/server';
import { makeTestPki, type TestPki } from '../../helpers/tls';
import { request, webConfigYaml } from '../web';
import { rawSmtp } from './fixtures';
import { startHaraka, type Haraka } from './harness';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const RESTIFY: string = require('../restify-path.cjs');
const LOAD_RESTIFY = `
exports.register = function () {
  require(${JSON.stringify(RESTIFY)});
  this.lognotice('restify loaded: writeHead is ' + require('http').ServerResponse.prototype.writeHead.name);
};
`;

describe('in a real Haraka with restify loaded', () => {
  let haraka: Haraka;
  let pki: TestPki;
  beforeAll(async () => {
    pki = makeTestPki();
    const hash = bcrypt.hashSync('s3cret', 4);
    haraka = await startHaraka({
      nodes: 0,
      plugins: ['load_restify', 'tinomail', 'rcpt_to.in_host_list', 'queue/discard'],
      testPlugins: { load_restify: LOAD_RESTIFY },
      config: {
        'tinomail.ini': '[server]\nlisten=127.0.0.1:0\nweb_config_file=tinomail-web.yml\n',
        'tinomail-web.yml': webConfigYaml({
          cert: pki.serverCert,
          key: pki.serverKey,
          clientAuth: 'RequireAndVerifyClientCert',
          clientCa: pki.caCert,
          users: { prometheus: hash },
        }),
      },
    });
  }, 30000);
  afterAll(async () => {
    await haraka?.stop();
  });

  test('TLS with a client certificate and basic auth; scrapes answer and Haraka still takes mail', async () => {
    expect(haraka.log()).toMatch(/restify loaded: writeHead is restifyWriteHead/);
    expect(haraka.metricsUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const tls = { ca: readFileSync(pki.caCert), cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) };
    for (let i = 0; i < 3; i++) {
      const ok = await request(haraka.metricsUrl, { ...tls, user: 'prometheus', password: 's3cret' });
      expect(ok.status).toBe(200);
      expect(ok.body).toMatch(/^# HELP haraka_connections_total /m);
    }
    const landing = await request(haraka.metricsUrl.replace(/metrics$/, ''), { ...tls, user: 'prometheus', password: 's3cret' });
    expect(landing.body).toContain('<th align="left">Mode</th><td>single process (nodes=0)</td>');
    expect((await request(haraka.metricsUrl, { ...tls, user: 'prometheus', password: 'wrong' })).status).toBe(401);
    expect((await request(haraka.metricsUrl, { ...tls, user: 'nobody', password: 's3cret' })).status).toBe(401);
    await expect(request(haraka.metricsUrl, { ca: tls.ca, user: 'prometheus', password: 's3cret' })).rejects.toThrow();
    expect(haraka.log()).not.toMatch(/beyond loopback/);

    const replies = await rawSmtp(haraka.smtpPort, ['EHLO test.example', 'MAIL FROM:<a@example.org>', 'RCPT TO:<alice@example.com>', 'QUIT']);
    expect(replies[0]).toMatch(/^220 /);
    expect(replies[3]).toMatch(/^250 /);
    expect(haraka.log()).not.toMatch(/TypeError|Plugin tinomail failed/);
  });
});

describe('a scrape that fails', () => {
  test('a worker answer that cannot be summed is a 500, and the next good answer a 200', async () => {
    const workers: Record<string, any> = {};
    const fake = Object.assign(new EventEmitter(), { workers }) as unknown as Cluster;
    const worker = Object.assign(new EventEmitter(), {
      id: 1,
      isConnected: () => true,
      // Answers each request at once; `bad` makes the answer one AggregatorRegistry.aggregate() throws on.
      send(msg: { requestId: number }) {
        const metrics = bad ? [{ name: 'haraka_x_total', help: 'x', type: 'counter', aggregator: 'sum', values: 5 }] : [];
        setImmediate(() => (fake as unknown as EventEmitter).emit('message', worker, { type: 'tinomail:metrics', requestId: msg.requestId, metrics }));
      },
    });
    workers[1] = worker;
    let bad = true;
    const collector = new ClusterCollector(fake, 2000);
    const server = new MetricsServer({
      contentType: new Registry().contentType,
      render: async () => (await (await collector.collect()).registry.metrics()) || '# nothing\n',
    });
    const started = await server.start('127.0.0.1:0');
    try {
      const failed = await request(`${started.url}/metrics`);
      expect(failed.status).toBe(500);
      expect(failed.body).toMatch(/^error: metric\.values\.forEach is not a function/);
      bad = false;
      expect((await request(`${started.url}/metrics`)).status).toBe(200);
    } finally {
      collector.stop();
      await server.stop();
    }
  });
});
