/** --web.config.file: TLS, client certificates and basic auth, with certificates made by openssl in the test. */
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import type { ExporterDefinition } from '../../exporters/kit/exporter';
import { FlagError } from '../../exporters/kit/flags';
import { silentLogger } from '../../exporters/kit/log';
import { type RunningExporter, runExporter } from '../../exporters/kit/run';
import { BcryptPool, type Bcrypt } from '../../exporters/kit/bcrypt-pool';
import { BasicAuth, bcryptCost, loadWebConfig, WebConfigError } from '../../exporters/kit/webconfig';
import { makeTestPki, type TestPki } from '../helpers/tls';

const demo: ExporterDefinition = { name: 'demo', description: 'demo', defaultPort: 0, flags: [], create: () => ({}) };

function get(url: string, opts: https.RequestOptions = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, opts, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

describe('web config', () => {
  let pki: TestPki;
  let running: RunningExporter | undefined;
  beforeAll(() => {
    pki = makeTestPki();
  });
  afterEach(async () => {
    await running?.stop();
    running = undefined;
  });

  function writeConfig(name: string, yaml: string): string {
    const file = join(pki.dir, name);
    writeFileSync(file, yaml);
    return file;
  }

  test('TLS with basic auth: right password 200, wrong password and none 401', async () => {
    // Go's htpasswd writes $2y$; both prefixes must work.
    const hash = bcrypt.hashSync('s3cret', 4).replace(/^\$2b\$/, '$2y$');
    const file = writeConfig('tls-auth.yml', `tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  prometheus: ${hash}\n`);
    running = await runExporter(demo, ['--web.listen-address=127.0.0.1:0', `--web.config.file=${file}`], { log: silentLogger });
    expect(running.url).toMatch(/^https:/);
    const ca = readFileSync(pki.caCert);
    const auth = (p: string) => 'Basic ' + Buffer.from(`prometheus:${p}`).toString('base64');
    const ok = await get(`${running.url}/metrics`, { ca, headers: { Authorization: auth('s3cret') } });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatch(/^demo_up 1$/m);
    expect((await get(`${running.url}/metrics`, { ca, headers: { Authorization: auth('wrong') } })).status).toBe(401);
    expect((await get(`${running.url}/metrics`, { ca })).status).toBe(401);
    const stranger = 'Basic ' + Buffer.from('mallory:s3cret').toString('base64');
    expect((await get(`${running.url}/metrics`, { ca, headers: { Authorization: stranger } })).status).toBe(401);
    // Cached success still checks the password.
    expect((await get(`${running.url}/metrics`, { ca, headers: { Authorization: auth('s3cret') } })).status).toBe(200);
    expect((await get(`${running.url}/metrics`, { ca, headers: { Authorization: auth('s3cret!') } })).status).toBe(401);
    // A client that does not trust the CA fails the handshake.
    await expect(get(`${running.url}/metrics`)).rejects.toThrow();
  });

  test('RequireAndVerifyClientCert: only clients with a certificate from the CA get in', async () => {
    const file = writeConfig(
      'mtls.yml',
      `tls_server_config:\n  cert_file: ${pki.serverCert}\n  key_file: ${pki.serverKey}\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ${pki.caCert}\n`,
    );
    running = await runExporter(demo, ['--web.listen-address=127.0.0.1:0', `--web.config.file=${file}`], { log: silentLogger });
    const ca = readFileSync(pki.caCert);
    const withCert = await get(`${running.url}/metrics`, { ca, cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) });
    expect(withCert.status).toBe(200);
    await expect(get(`${running.url}/metrics`, { ca })).rejects.toThrow();
  });

  test('RequireAnyClientCert refuses a client without a certificate', async () => {
    const file = writeConfig('anycert.yml', `tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAnyClientCert\n`);
    running = await runExporter(demo, ['--web.listen-address=127.0.0.1:0', `--web.config.file=${file}`], { log: silentLogger });
    const ca = readFileSync(pki.caCert);
    expect((await get(`${running.url}/metrics`, { ca })).status).toBe(403);
    expect((await get(`${running.url}/metrics`, { ca, cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) })).status).toBe(200);
  });

  test('a web config that cannot work stops the exporter with a flag error naming the flag', async () => {
    const file = writeConfig('typo.yml', 'basic_auth_user:\n  bob: x\n');
    const err = await runExporter(demo, ['--web.listen-address=127.0.0.1:0', `--web.config.file=${file}`], { log: silentLogger }).catch((e) => e);
    expect(err).toBeInstanceOf(FlagError);
    expect(err.message).toMatch(/^invalid --web.config.file: web config: unknown key "basic_auth_user"/);
  });

  test.each([
    ['unknown key', 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  cert_fiel: x\n', /unknown key "cert_fiel"/],
    ['missing file', 'tls_server_config:\n  cert_file: nope.crt\n  key_file: server.key\n', /cert_file: cannot read/],
    ['not bcrypt', 'basic_auth_users:\n  bob: plaintext\n', /basic_auth_users.bob: not a bcrypt hash/],
    ['verify without CA', 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n', /client_ca_file is required/],
    ['bad auth type', 'tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth_type: Maybe\n', /unknown value "Maybe"/],
  ])('a wrong file is refused with a clear message: %s', (_name, yaml, message) => {
    const file = writeConfig('bad.yml', yaml);
    expect(() => loadWebConfig(file)).toThrow(WebConfigError);
    expect(() => loadWebConfig(file)).toThrow(message);
  });
});

/** bcrypt that counts what it is asked, and can hold compares until released (real bcryptjs underneath). */
class SpyBcrypt implements Bcrypt {
  compares: Array<{ password: string; hash: string }> = [];
  hashes: Array<{ rounds: number; hash: string }> = [];
  inFlight = 0;
  maxInFlight = 0;
  hold = false;
  private held: Array<() => void> = [];

  async compare(password: string, hash: string): Promise<boolean> {
    this.compares.push({ password, hash });
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.hold) await new Promise<void>((resolve) => this.held.push(resolve));
      return bcrypt.compareSync(password, hash);
    } finally {
      this.inFlight--;
    }
  }

  async hash(password: string, rounds: number): Promise<string> {
    const hash = bcrypt.hashSync(password, rounds);
    this.hashes.push({ rounds, hash });
    return hash;
  }

  release(): void {
    this.hold = false;
    for (const r of this.held.splice(0)) r();
  }

  async close(): Promise<void> {}
}

const basic = (user: string, password: string) => 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');

describe('basic auth hardening', () => {
  test('a success is cached: the same credentials are not verified again; a wrong password or a changed hash is', async () => {
    const spy = new SpyBcrypt();
    const users = new Map([['prometheus', bcrypt.hashSync('s3cret', 4)]]);
    const auth = new BasicAuth(users, { bcrypt: spy });
    expect(await auth.check(basic('prometheus', 's3cret'))).toBe('ok');
    expect(await auth.check(basic('prometheus', 's3cret'))).toBe('ok');
    expect(spy.compares).toHaveLength(1);
    expect(await auth.check(basic('prometheus', 'wrong'))).toBe('denied');
    expect(await auth.check(basic('prometheus', 'wrong'))).toBe('denied');
    expect(spy.compares).toHaveLength(3); // failures are never cached
    // The configured hash changes (a new password): the old one is verified against it, not served from cache.
    users.set('prometheus', bcrypt.hashSync('n3w', 4));
    expect(await auth.check(basic('prometheus', 's3cret'))).toBe('denied');
    expect(await auth.check(basic('prometheus', 'n3w'))).toBe('ok');
    expect(spy.compares).toHaveLength(5);
    expect(await auth.check(undefined)).toBe('denied');
    expect(await auth.check('Basic ' + Buffer.from('no-colon').toString('base64'))).toBe('denied');
    expect(spy.compares).toHaveLength(5); // nothing to verify in a malformed header
  });

  test('an unknown user goes through a real compare, against a real hash of the users\' cost', async () => {
    const spy = new SpyBcrypt();
    const auth = new BasicAuth(new Map([['prometheus', bcrypt.hashSync('s3cret', 5)]]), { bcrypt: spy });
    expect(await auth.check(basic('mallory', 's3cret'))).toBe('denied');
    expect(spy.hashes).toHaveLength(1);
    const dummy = spy.hashes[0]!.hash;
    expect(bcryptCost(dummy)).toBe(5);
    expect(bcrypt.getRounds(dummy)).toBe(5);
    expect(spy.compares).toEqual([{ password: 's3cret', hash: dummy }]);
    // A wrong password of a known user costs the same: one compare of the same cost.
    expect(await auth.check(basic('prometheus', 'guess'))).toBe('denied');
    expect(spy.compares).toHaveLength(2);
    expect(bcryptCost(spy.compares[1]!.hash)).toBe(5);
  });

  test('verifications are bounded: at most maxConcurrent run, maxQueued wait, the rest are busy at once; a cached client still gets in', async () => {
    const spy = new SpyBcrypt();
    const auth = new BasicAuth(new Map([['prometheus', bcrypt.hashSync('s3cret', 4)]]), { bcrypt: spy, maxConcurrent: 2, maxQueued: 3 });
    expect(await auth.check(basic('prometheus', 's3cret'))).toBe('ok'); // cached before the flood
    spy.hold = true;
    const flood = Array.from({ length: 30 }, (_, i) => auth.check(basic('prometheus', `guess-${i}`)));
    const busy = await Promise.all(flood.slice(5)); // answered without waiting for any verification
    expect(busy).toEqual(Array(25).fill('busy'));
    expect(spy.inFlight).toBe(2);
    expect(await auth.check(basic('prometheus', 's3cret'))).toBe('ok'); // during the flood
    spy.release();
    expect(await Promise.all(flood.slice(0, 5))).toEqual(Array(5).fill('denied'));
    expect(spy.maxInFlight).toBe(2);
    expect(spy.compares).toHaveLength(1 + 5);
  });

  test('the worker pool verifies off the event loop: timers keep firing through a flood, and it closes', async () => {
    const pool = new BcryptPool(2);
    const auth = new BasicAuth(new Map([['prometheus', bcrypt.hashSync('s3cret', 9)]]), { bcrypt: pool });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    try {
      expect(await auth.check(basic('prometheus', 's3cret'))).toBe('ok');
      const flood = await Promise.all(Array.from({ length: 30 }, (_, i) => auth.check(basic(i % 2 ? 'prometheus' : 'mallory', `guess-${i}`))));
      expect(flood.filter((r) => r === 'denied')).toHaveLength(6); // 2 running + 4 queued; the rest were busy
      expect(flood.filter((r) => r === 'busy')).toHaveLength(24);
      // Six cost-9 verifications ran meanwhile; inline they would have held the loop for all of it.
      expect(ticks).toBeGreaterThan(3);
    } finally {
      clearInterval(timer);
      await auth.close();
    }
    await expect(pool.compare('x', '$2b$04$abcdefghijklmnopqrstuu')).rejects.toThrow(/closed/);
  });

  test('exporters in one process share one worker pool: closing one leaves the other verifying', async () => {
    const a = new BasicAuth(new Map([['prometheus', bcrypt.hashSync('a', 4)]]));
    const b = new BasicAuth(new Map([['prometheus', bcrypt.hashSync('b', 4)]]));
    expect(await a.check(basic('prometheus', 'a'))).toBe('ok');
    await a.close();
    expect(await b.check(basic('prometheus', 'b'))).toBe('ok');
    expect(await b.check(basic('prometheus', 'a'))).toBe('denied');
    await b.close();
  });
});
