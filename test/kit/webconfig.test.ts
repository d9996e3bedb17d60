/** --web.config.file: TLS, client certificates and basic auth, with certificates made by openssl in the test. */
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import type { ExporterDefinition } from '../../exporters/kit/exporter';
import { FlagError } from '../../exporters/kit/flags';
import { silentLogger } from '../../exporters/kit/log';
import { type RunningExporter, runExporter } from '../../exporters/kit/run';
import { loadWebConfig, WebConfigError } from '../../exporters/kit/webconfig';
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
