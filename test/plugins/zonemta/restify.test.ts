/**
 * zonemta-tinomail inside a process that has loaded the real restify 12.0.0 (the version @zone-eu/zone-mta
 * 3.11.0 depends on), as ZoneMTA's master has: restify replaces http.ServerResponse.prototype.writeHead for
 * the whole process with one that returns nothing, and a plugin that chained `res.writeHead(...).end(...)`
 * threw on its first scrape and took ZoneMTA down. The master is played by fixtures/zonemta-master.cjs (a
 * child process: the patch must not leak into other test files), which serves a restify route as ZoneMTA's
 * API does and loads the built plugin with ZoneMTA's own loader. Certificates are made by openssl in the test.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { makeTestPki, type TestPki } from '../../helpers/tls';
import { request, webConfigYaml } from '../web';
import { PLUGINS_PATH, REPO } from './helpers';

const FIXTURE = join(__dirname, 'fixtures', 'zonemta-master.cjs');

interface Master {
  child: ChildProcess;
  metricsUrl: string;
  apiUrl: string;
  writeHeadReturnsResponse: string;
  warnings: number;
  stderr(): string;
  send(message: string): Promise<any>;
  stop(): Promise<number | null>;
}

const masters = new Set<Master>();
afterEach(async () => {
  await Promise.all([...masters].map((m) => m.stop()));
  masters.clear();
});

function startMaster(config: Record<string, unknown> = {}): Promise<Master> {
  const child = fork(FIXTURE, [JSON.stringify({ pluginsPath: PLUGINS_PATH, config })], { cwd: REPO, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.once('message', (msg: { ready?: Omit<Master, 'child'>; error?: string }) => {
      if (!msg.ready) {
        child.kill('SIGKILL');
        return reject(new Error(`the plugin did not start: ${msg.error}`));
      }
      const master: Master = {
        ...msg.ready,
        child,
        stderr: () => stderr,
        send: (message) =>
          new Promise((res) => {
            child.once('message', res);
            child.send(message);
          }),
        async stop() {
          if (child.exitCode === null && child.connected) child.send('stop');
          const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
          const code = await exited;
          clearTimeout(timer);
          return code;
        },
      };
      masters.add(master);
      resolve(master);
    });
    child.once('exit', (code) => reject(new Error(`the master exited with ${code}: ${stderr}`)));
  });
}

test('with restify loaded, /metrics, the landing page and errors answer, and ZoneMTA (its API too) lives', async () => {
  const master = await startMaster();
  // The precondition: in this process writeHead returns nothing, as in ZoneMTA.
  expect(master.writeHeadReturnsResponse).toBe('false');

  for (let i = 0; i < 3; i++) {
    const metrics = await request(master.metricsUrl);
    expect(metrics.status).toBe(200);
    expect(metrics.headers['content-type']).toMatch(/^text\/plain/);
    expect(metrics.body).toMatch(/^zonemta_tinomail_info\{version="[^"]+"\} 1$/m);
  }
  const base = master.metricsUrl.replace(/\/metrics$/, '');
  const landing = await request(`${base}/`);
  expect(landing.status).toBe(200);
  expect(landing.body).toMatch(/<th align="left">Log receiver<\/th><td>udp 127\.0\.0\.1:\d+, listening<\/td>/);
  expect((await request(`${base}/nothing`)).status).toBe(404);
  const post = await request(master.metricsUrl, { method: 'POST' });
  expect(post.status).toBe(405);
  expect(post.headers.allow).toBe('GET, HEAD');
  const head = await request(master.metricsUrl, { method: 'HEAD' });
  expect(head.status).toBe(200);
  expect(head.body).toBe('');

  // Hooks given what ZoneMTA never sends resolve, and the error is counted.
  expect((await master.send('hooks')).hooks).toEqual(['fulfilled', 'fulfilled']);
  expect((await request(master.metricsUrl)).body).toMatch(/^zonemta_tinomail_hook_errors_total\{hook="log:entry"\} [12]$/m);

  // ZoneMTA's own API still answers: the process is alive and restify untouched.
  expect(await (await fetch(`${master.apiUrl}/counter/zone/`)).json()).toEqual({ default: { queued: 0, deferred: 0 } });
  expect(master.child.exitCode).toBeNull();
  expect(master.warnings).toBe(0); // loopback: no exposure warning
  expect(await master.stop()).toBe(0);
  expect(master.stderr()).toBe('');
});

describe('the web config (webConfigFile), in the same restify process', () => {
  let pki: TestPki;
  const hash = bcrypt.hashSync('s3cret', 4);
  beforeAll(() => {
    pki = makeTestPki();
  });

  function configFile(name: string, yaml: string): string {
    const file = join(pki.dir, name);
    writeFileSync(file, yaml);
    return file;
  }

  test('TLS, a verified client certificate and basic auth', async () => {
    const file = configFile(
      'zonemta-mtls.yml',
      webConfigYaml({ cert: pki.serverCert, key: pki.serverKey, clientAuth: 'RequireAndVerifyClientCert', clientCa: pki.caCert, users: { prometheus: hash } }),
    );
    const master = await startMaster({ webConfigFile: file });
    expect(master.metricsUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const ca = readFileSync(pki.caCert);
    const cert = readFileSync(pki.clientCert);
    const key = readFileSync(pki.clientKey);
    const ok = await request(master.metricsUrl, { ca, cert, key, user: 'prometheus', password: 's3cret' });
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('zonemta_tinomail_info');
    expect((await request(master.metricsUrl, { ca, cert, key, user: 'prometheus', password: 'wrong' })).status).toBe(401);
    expect((await request(master.metricsUrl, { ca, cert, key })).status).toBe(401);
    await expect(request(master.metricsUrl, { ca, user: 'prometheus', password: 's3cret' })).rejects.toThrow(); // no certificate
    await expect(request(master.metricsUrl.replace('https:', 'http:'))).rejects.toThrow(); // no plain HTTP
    expect(master.child.exitCode).toBeNull();
  });

  test('a web config that cannot work: the plugin is refused with the reason, nothing is served unprotected', async () => {
    const file = configFile('zonemta-bad.yml', 'basic_auth_users:\n  prometheus: plaintext\n');
    await expect(startMaster({ webConfigFile: file })).rejects.toThrow(/zonemta-tinomail: webConfigFile: basic_auth_users\.prometheus: not a bcrypt hash/);
  });
});
