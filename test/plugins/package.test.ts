/**
 * Each plugin's `npm pack` tarball is self-contained: installed alone into an empty directory (npm --offline:
 * it has no dependencies to fetch, the kit code and prom-client & co. are bundled), it loads the way its host
 * loads it and serves /metrics with basic auth (so the bundled bcrypt worker is in the tarball too).
 * Haraka: a real Haraka 3 with the installed package. ZoneMTA: ZoneMTA's own plugin loader
 * (@zone-eu/wild-plugins) resolving "modules/zonemta-tinomail" against the empty directory's node_modules.
 */
import { execFileSync, fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { ensurePluginBuilt } from './build';
import { startHaraka } from './haraka/harness';
import { request } from './web';

const ROOT = join(__dirname, '../..');
const NPM = process.env.npm_execpath && /npm-cli\.js$/.test(process.env.npm_execpath) ? [process.execPath, process.env.npm_execpath] : ['npm'];
const HASH = bcrypt.hashSync('s3cret', 4);


let dir: string;
let app: string;
const files: Record<string, string[]> = {};

function npm(args: string[], cwd: string): string {
  const [cmd, ...pre] = NPM;
  return execFileSync(cmd!, [...pre, ...args], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_update_notifier: 'false' } });
}

/** Packs both plugins and installs the two tarballs into a new empty directory (two npm runs: they are slow). */
beforeAll(() => {
  ensurePluginBuilt('haraka');
  ensurePluginBuilt('zonemta');
  dir = mkdtempSync(join(tmpdir(), 'tinomail-pack-'));
  const packed = JSON.parse(npm(['pack', join(ROOT, 'plugins/haraka'), join(ROOT, 'plugins/zonemta'), '--pack-destination', dir, '--json'], dir)) as Array<{
    name: string;
    filename: string;
    files: Array<{ path: string }>;
  }>;
  for (const p of packed) files[p.name] = p.files.map((f) => f.path).sort();
  app = join(dir, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), '{"name":"app","version":"1.0.0","private":true}\n');
  npm(['install', '--offline', '--no-audit', '--no-fund', '--no-package-lock', ...packed.map((p) => join(dir, p.filename))], app);
}, 60000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('the tarballs hold the bundles and need nothing else from the registry', () => {
  expect(files['haraka-plugin-tinomail']).toEqual(['README.md', 'config/tinomail.ini', 'dist/bcrypt-worker.js', 'dist/index.js', 'package.json']);
  expect(files['zonemta-tinomail']).toEqual(['README.md', 'dist/bcrypt-worker.js', 'dist/index.js', 'package.json']);
  expect(readdirSync(join(app, 'node_modules')).filter((f) => !f.startsWith('.'))).toEqual(['haraka-plugin-tinomail', 'zonemta-tinomail']);
});

test('haraka-plugin-tinomail from its tarball serves /metrics with basic auth in a real Haraka', async () => {
  const haraka = await startHaraka({
    nodes: 0,
    plugins: ['tinomail', 'rcpt_to.in_host_list', 'queue/discard'],
    pluginDir: join(app, 'node_modules/haraka-plugin-tinomail'),
    config: { 'tinomail.ini': '[server]\nlisten=127.0.0.1:0\nweb_config_file=web.yml\n', 'web.yml': `basic_auth_users:\n  prometheus: ${HASH}\n` },
  });
  try {
    const ok = await request(haraka.metricsUrl, { user: 'prometheus', password: 's3cret' });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatch(/^haraka_tinomail_info\{version="0\.1\.0"\} 1$/m);
    expect((await request(haraka.metricsUrl)).status).toBe(401);
  } finally {
    await haraka.stop();
  }
}, 60000);

test('zonemta-tinomail from its tarball loads through ZoneMTA\'s plugin loader and serves /metrics with basic auth', async () => {
  writeFileSync(join(app, 'web.yml'), `basic_auth_users:\n  prometheus: ${HASH}\n`);
  // ZoneMTA's loader runs in ZoneMTA's directory: "modules/<name>" is <cwd>/node_modules/<name>.
  const script = join(app, 'master.js');
  writeFileSync(
    script,
    `const PluginHandler = require(${JSON.stringify(require.resolve('@zone-eu/wild-plugins'))});
const infos = [];
const logger = { info: (...a) => infos.push(a), verbose() {}, error: (...a) => console.error(...a) };
const handler = new PluginHandler({ logger, context: 'main', pluginsPath: __dirname,
  plugins: { 'modules/zonemta-tinomail': { enabled: 'main', listen: '127.0.0.1:0', logListen: '127.0.0.1:0', webConfigFile: 'web.yml' } }, log: {} });
handler.load(() => {
  const line = infos.find(a => a[0] === 'Tinomail' && String(a[1]).startsWith('metrics on'));
  process.send({ url: line ? line[2] + '://' + line[3] : '' });
});
process.on('message', () => require(require.resolve('zonemta-tinomail', { paths: [__dirname] })).stop().then(() => process.exit(0)));
`,
  );
  const child = fork(script, [], { cwd: app, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    const { url } = await new Promise<{ url: string }>((resolve, reject) => {
      child.once('message', resolve);
      child.once('exit', (code) => reject(new Error(`exited with ${code}: ${stderr}`)));
    });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const ok = await request(url, { user: 'prometheus', password: 's3cret' });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatch(/^zonemta_tinomail_info\{version="0\.1\.0"\} 1$/m);
    expect((await request(url, { user: 'prometheus', password: 'nope' })).status).toBe(401);
    expect(stderr).toBe('');
  } finally {
    if (child.connected) child.send('stop');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
    await exited;
    clearTimeout(timer);
  }
}, 60000);
