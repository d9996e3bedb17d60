/**
 * Runs a real Haraka (node_modules/.bin/haraka) from a config dir made in a tmp dir, with
 * node_modules/haraka-plugin-tinomail symlinked to plugins/haraka (built: see ensurePluginBuilt).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { type Exposition, sample } from '../../helpers/exposition';
import { ensurePluginBuilt } from '../build';

export const ROOT = path.resolve(__dirname, '../../..');
const PLUGIN_DIR = path.join(ROOT, 'plugins/haraka');
const HARAKA_BIN = path.join(ROOT, 'node_modules/.bin/haraka');
const HARAKA_CONFIG = path.join(ROOT, 'node_modules/Haraka/config');

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
  /** The installed plugin package to use instead of plugins/haraka (the packed tarball test). */
  pluginDir?: string;
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
  if (!opts.pluginDir) ensurePluginBuilt('haraka');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinomail-haraka-'));
  const config = path.join(dir, 'config');
  fs.mkdirSync(config);
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.mkdirSync(path.join(dir, 'plugins'));
  fs.symlinkSync(opts.pluginDir ?? PLUGIN_DIR, path.join(dir, 'node_modules/haraka-plugin-tinomail'));
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
    const metrics = opts.plugins.includes('tinomail') ? await h.waitForLog(/metrics listening on (https?:\/\/[^/\s]+)\/metrics/) : ['', ''];
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

/** A series' value, 0 when absent (a counter Haraka has not touched yet reads as 0 in these tests). */
export function value(metrics: Exposition, name: string, labels: Record<string, string> = {}): number {
  return sample(metrics, name, labels) ?? 0;
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
