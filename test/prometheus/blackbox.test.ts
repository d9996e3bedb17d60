/**
 * The shipped blackbox modules (prometheus/blackbox.yml) run by Debian's prometheus-blackbox-exporter against mail
 * servers of this test: SMTP with STARTTLS, SMTP, IMAP and POP3 over implicit TLS. The servers speak the first lines
 * of each protocol the way Haraka, ZoneMTA (smtp-server) and WildDuck do (WildDuck, Haraka and ZoneMTA themselves
 * cannot run here with TLS in a unit test's time); the certificates are made by the test (openssl). The only change
 * to the modules: they trust the test's CA.
 */
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import yaml from 'js-yaml';
import { makeTestPki, type TestPki } from '../helpers/tls';
import { type Daemon, freePort, PROMETHEUS_DIR, readYaml, startDaemon, waitFor } from './support';

type Dialogue = (line: string, reply: (text: string) => void, upgrade: () => void) => void;

/** A line-based server; `upgrade()` turns the connection into TLS (STARTTLS). */
async function mailServer(opts: { implicitTls: boolean; banner: string; dialogue: Dialogue; pki: TestPki }): Promise<{ port: number; close(): void }> {
  const tlsOptions = { key: readFileSync(opts.pki.serverKey), cert: readFileSync(opts.pki.serverCert) };
  const serve = (socket: net.Socket) => {
    let buffer = '';
    let current: net.Socket = socket;
    const reply = (text: string) => current.write(text.replace(/\n/g, '\r\n') + '\r\n');
    const onData = (data: Buffer) => {
      buffer += data.toString('latin1');
      let i: number;
      while ((i = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, i).replace(/\r$/, '');
        buffer = buffer.slice(i + 1);
        opts.dialogue(line, reply, () => {
          current.removeListener('data', onData);
          const secure = new tls.TLSSocket(current, { isServer: true, ...tlsOptions });
          secure.on('data', onData);
          secure.on('error', () => secure.destroy());
          current = secure;
        });
      }
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
    reply(opts.banner);
  };
  const server = opts.implicitTls
    ? tls.createServer(tlsOptions, (s) => {
        s.on('error', () => s.destroy());
        serve(s);
      })
    : net.createServer(serve);
  server.on('tlsClientError', () => undefined);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

const smtp =
  (offerStartTls: boolean): Dialogue =>
  (line, reply, upgrade) => {
    const cmd = line.split(' ')[0].toUpperCase();
    if (cmd === 'EHLO') reply(`250-mx.test Hello\n250-PIPELINING\n250-8BITMIME${offerStartTls ? '\n250-STARTTLS' : ''}\n250 SMTPUTF8`);
    else if (cmd === 'STARTTLS' && offerStartTls) {
      reply('220 2.0.0 Ready to start TLS');
      upgrade();
    } else if (cmd === 'QUIT') reply('221 2.0.0 Bye');
    else reply('502 5.5.2 Error: command not recognized');
  };
const imap: Dialogue = (line, reply) => {
  const [tag, cmd] = line.split(' ');
  if (cmd?.toUpperCase() === 'LOGOUT') reply(`* BYE Logout requested\n${tag} OK All dreams are but another reality. Never forget.`);
  else reply(`${tag} BAD Unknown command`);
};
const pop3: Dialogue = (line, reply) => {
  if (line.toUpperCase() === 'QUIT') reply('+OK Bye');
  else reply('-ERR unknown command');
};

describe('blackbox modules against mail servers', () => {
  let pki: TestPki;
  let dir: string;
  let blackbox: Daemon;
  let blackboxUrl: string;
  const servers: { close(): void }[] = [];
  const ports: Record<string, number> = {};

  beforeAll(async () => {
    pki = makeTestPki();
    dir = mkdtempSync(join(tmpdir(), 'tinomail-blackbox-'));
    // The shipped modules, trusting the test's CA.
    const config = readYaml<{ modules: Record<string, { tcp: Record<string, unknown> }> }>(join(PROMETHEUS_DIR, 'blackbox.yml'));
    for (const m of Object.values(config.modules)) m.tcp.tls_config = { ca_file: pki.caCert };
    writeFileSync(join(dir, 'blackbox.yml'), yaml.dump(config));

    const start = async (name: string, o: Parameters<typeof mailServer>[0]) => {
      const s = await mailServer(o);
      servers.push(s);
      ports[name] = s.port;
    };
    await start('smtp-starttls', { implicitTls: false, banner: '220 mx.test ESMTP Haraka ready', dialogue: smtp(true), pki });
    await start('smtp-no-starttls', { implicitTls: false, banner: '220 mx.test ESMTP', dialogue: smtp(false), pki });
    await start('smtp-tls', { implicitTls: true, banner: '220 smtp.test ESMTP ZoneMTA', dialogue: smtp(false), pki });
    await start('imaps', { implicitTls: true, banner: '* OK WildDuck ready for requests from 127.0.0.1', dialogue: imap, pki });
    await start('pop3s', { implicitTls: true, banner: '+OK WildDuck ready for requests from 127.0.0.1', dialogue: pop3, pki });
    await start('silent', { implicitTls: false, banner: '421 4.3.2 Service not available', dialogue: smtp(true), pki });

    const port = await freePort();
    blackboxUrl = `http://127.0.0.1:${port}`;
    blackbox = startDaemon('prometheus-blackbox-exporter', [`--config.file=${join(dir, 'blackbox.yml')}`, `--web.listen-address=127.0.0.1:${port}`]);
    await waitFor('blackbox_exporter', async () => ((await fetch(`${blackboxUrl}/-/healthy`)).ok ? true : undefined), 15_000, 100);
  });

  afterAll(async () => {
    await blackbox?.stop();
    for (const s of servers) s.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (pki) rmSync(pki.dir, { recursive: true, force: true });
  });

  async function probe(module: string, server: string): Promise<Map<string, number>> {
    // As Prometheus does: the probe must end within the scrape timeout (a failed `expect` waits until then).
    const res = await fetch(`${blackboxUrl}/probe?module=${module}&target=localhost:${ports[server]}`, { headers: { 'X-Prometheus-Scrape-Timeout-Seconds': '2.5' } });
    expect(res.status).toBe(200);
    const values = new Map<string, number>();
    for (const line of (await res.text()).split('\n')) {
      const m = /^([a-z_]+)(?:\{[^}]*\})? (\S+)$/.exec(line);
      if (m) values.set(m[1], Number(m[2]));
    }
    return values;
  }

  const notAfter = () => {
    const text = require('node:child_process').execFileSync('openssl', ['x509', '-noout', '-enddate', '-in', pki.serverCert], { encoding: 'utf8' }) as string;
    return Date.parse(text.split('=')[1]) / 1000;
  };

  test.each([
    ['smtp_starttls', 'smtp-starttls'],
    ['smtp_tls', 'smtp-tls'],
    ['imap_tls', 'imaps'],
    ['pop3_tls', 'pop3s'],
  ])('%s succeeds against a server that speaks it, and reports the certificate expiry', async (module, server) => {
    const values = await probe(module, server);
    expect(values.get('probe_success')).toBe(1);
    expect(values.get('probe_ssl_earliest_cert_expiry')).toBe(notAfter());
  });

  test.each([
    ['smtp_starttls', 'smtp-no-starttls', 'no STARTTLS offered'],
    ['smtp_starttls', 'silent', 'a 421 banner'],
    ['smtp_tls', 'smtp-starttls', 'plain text where TLS is expected'],
    ['imap_tls', 'pop3s', 'the wrong protocol'],
  ])('%s fails against %s (%s)', async (module, server) => {
    expect((await probe(module, server)).get('probe_success')).toBe(0);
  });

  test('the shipped modules verify certificates: a certificate from an unknown CA fails', async () => {
    const port = await freePort();
    const strict = startDaemon('prometheus-blackbox-exporter', [`--config.file=${join(PROMETHEUS_DIR, 'blackbox.yml')}`, `--web.listen-address=127.0.0.1:${port}`]);
    try {
      await waitFor('blackbox_exporter', async () => ((await fetch(`http://127.0.0.1:${port}/-/healthy`)).ok ? true : undefined), 15_000, 100);
      const text = await (await fetch(`http://127.0.0.1:${port}/probe?module=imap_tls&target=localhost:${ports.imaps}`)).text();
      expect(text).toMatch(/^probe_success 0$/m);
    } finally {
      await strict.stop();
    }
  });
});
