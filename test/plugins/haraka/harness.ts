/**
 * Runs a real Haraka (node_modules/.bin/haraka) from a config dir made in a tmp dir, with
 * node_modules/haraka-plugin-tinomail symlinked to plugins/haraka (built: see ensurePluginBuilt).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '../../..');
const PLUGIN_DIR = path.join(ROOT, 'plugins/haraka');
const HARAKA_BIN = path.join(ROOT, 'node_modules/.bin/haraka');
const HARAKA_CONFIG = path.join(ROOT, 'node_modules/Haraka/config');

/**
 * The root `pretest` script (npm run build) compiles the plugin; `npx jest` alone may not have. Build it
 * here when dist is missing or older than its sources, so a test never runs stale plugin code.
 */
export function ensurePluginBuilt(): void {
  const dist = path.join(PLUGIN_DIR, 'dist/index.js');
  const srcDir = path.join(PLUGIN_DIR, 'src');
  const newestSrc = Math.max(...fs.readdirSync(srcDir).map((f) => fs.statSync(path.join(srcDir, f)).mtimeMs));
  const fresh = () => fs.existsSync(dist) && fs.statSync(dist).mtimeMs >= newestSrc;
  if (fresh()) return;
  // Test files run in parallel workers: one builds, the others wait for it (mkdir is atomic).
  const lock = path.join(os.tmpdir(), `tinomail-haraka-build-${Buffer.from(PLUGIN_DIR).toString('hex').slice(-32)}.lock`);
  try {
    fs.mkdirSync(lock);
  } catch {
    const deadline = Date.now() + 60000;
    while (fs.existsSync(lock) && Date.now() < deadline) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    if (fresh()) return;
    fs.rmSync(lock, { recursive: true, force: true }); // a stale lock from a killed run
    fs.mkdirSync(lock);
  }
  try {
    if (fresh()) return;
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(PLUGIN_DIR, 'tsconfig.json')], {
      cwd: ROOT,
      stdio: 'inherit',
    });
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

export interface HarakaOptions {
  nodes: number;
  /** config/plugins, in order. */
  plugins: string[];
  /** Extra files under config/ (name -> content). */
  config?: Record<string, string>;
  /** Plain plugins written to <dir>/plugins/<name>.js. */
  testPlugins?: Record<string, string>;
  /**
   * Log warnings only (the benchmark: no log line per connection). Ports are then picked before start
   * instead of read from the log, and readiness is the SMTP banner.
   */
  quiet?: boolean;
}

export interface Haraka {
  dir: string;
  /** The Haraka (master) process. */
  pid: number;
  smtpPort: number;
  /** '' when the plugin is not in config/plugins. */
  metricsUrl: string;
  /** Everything Haraka logged so far. */
  log(): string;
  /** Resolves when the log matches (new output is checked as it arrives). */
  waitForLog(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  stop(): Promise<void>;
}

export async function startHaraka(opts: HarakaOptions): Promise<Haraka> {
  ensurePluginBuilt();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinomail-haraka-'));
  const config = path.join(dir, 'config');
  fs.mkdirSync(config);
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.mkdirSync(path.join(dir, 'plugins'));
  fs.symlinkSync(PLUGIN_DIR, path.join(dir, 'node_modules/haraka-plugin-tinomail'));
  fs.copyFileSync(path.join(HARAKA_CONFIG, 'connection.ini'), path.join(config, 'connection.ini'));
  const smtpPort = opts.quiet ? await freePort() : 0;
  const metricsPort = opts.quiet ? await freePort() : 0;
  const files: Record<string, string> = {
    'smtp.ini': `listen=127.0.0.1:${smtpPort}\nnodes=${opts.nodes}\n`,
    'log.ini': `[main]\nlevel=${opts.quiet ? 'warn' : 'notice'}\n`,
    me: 'mx.test\n',
    host_list: 'example.com\n',
    plugins: `${opts.plugins.join('\n')}\n`,
    'tinomail.ini': `[server]\nlisten=127.0.0.1:${metricsPort}\ntimeout=2\n`,
    ...opts.config,
  };
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(config, name), content);
  for (const [name, code] of Object.entries(opts.testPlugins ?? {})) fs.writeFileSync(path.join(dir, 'plugins', `${name}.js`), code);

  const child = spawn(process.execPath, [HARAKA_BIN, '-c', dir], {
    cwd: dir,
    env: { ...process.env, YES_REALLY_DO_DISCARD: '1' },
    detached: true, // own process group: stop() ends the master and its cluster workers together
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const h = watch(child, dir);
  if (opts.quiet) {
    try {
      await waitForBanner(smtpPort);
    } catch (err) {
      await h.stop();
      throw err;
    }
    return { ...h, smtpPort, metricsUrl: opts.plugins.includes('tinomail') ? `http://127.0.0.1:${metricsPort}/metrics` : '' };
  }
  try {
    // Without the plugin (the benchmark's baseline) there is no metrics listener to wait for.
    const metrics = opts.plugins.includes('tinomail') ? await h.waitForLog(/metrics listening on (http:\/\/[^/\s]+)\/metrics/) : ['', ''];
    const smtp =
      opts.nodes > 0
        ? await h.waitForLog(new RegExp(`(?:worker \\d+ listening on 127\\.0\\.0\\.1:(\\d+)[\\s\\S]*){${opts.nodes}}`))
        : await h.waitForLog(/Listening on 127\.0\.0\.1:(\d+)/);
    return { ...h, smtpPort: Number(smtp[1]), metricsUrl: metrics[1] ? `${metrics[1]}/metrics` : '' };
  } catch (err) {
    await h.stop();
    throw err;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once the port answers with an SMTP banner (polls while Haraka starts). */
async function waitForBanner(port: number, timeoutMs = 10000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('data', (d) => {
        socket.end('QUIT\r\n');
        resolve(d.toString().startsWith('220'));
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`no SMTP banner on port ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function watch(child: ChildProcess, dir: string): Omit<Haraka, 'smtpPort' | 'metricsUrl'> {
  let output = '';
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    for (const w of waiters) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let running = true;
  void exited.then(() => {
    running = false;
    for (const w of waiters) w();
  });

  return {
    dir,
    pid: child.pid!,
    log: () => output,
    waitForLog(re, timeoutMs = 10000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = re.exec(output);
          if (m) return done(() => resolve(m));
          if (!running) return done(() => reject(new Error(`haraka exited while waiting for ${re}\n${output}`)));
        };
        const timer = setTimeout(() => done(() => reject(new Error(`timeout waiting for ${re}\n${output}`))), timeoutMs);
        const done = (fn: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          fn();
        };
        waiters.add(check);
        check();
      });
    },
    async stop() {
      if (running && child.pid) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Prometheus text format -> map of `name{labels}` (labels as printed) -> value. */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^(\S+?(?:\{.*\})?) (\S+)$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

export async function scrape(url: string): Promise<Map<string, number>> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`${url}: HTTP ${res.status}`);
  return parseMetrics(await res.text());
}

/** A series' value, 0 when absent. `labels` in the order prom-client prints them. */
export function value(metrics: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  const entries = Object.entries(labels);
  const key = entries.length ? `${name}{${entries.map(([k, v]) => `${k}="${v}"`).join(',')}}` : name;
  return metrics.get(key) ?? 0;
}

/** Polls /metrics until `ready` holds (the disconnect hook runs after the client has its last reply). */
export async function scrapeUntil(url: string, ready: (m: Map<string, number>) => boolean, timeoutMs = 5000): Promise<Map<string, number>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = await scrape(url);
    if (ready(m) || Date.now() > deadline) return m;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A self-signed certificate for STARTTLS, made with openssl. */
export function makeCertificate(dir: string): { key: string; cert: string } {
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=mx.test'], {
    stdio: 'ignore',
  });
  return { key: fs.readFileSync(key, 'utf8'), cert: fs.readFileSync(cert, 'utf8') };
}
