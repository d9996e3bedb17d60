/** The real command line as a process: exit codes, --help, logs, and graceful shutdown on SIGTERM and SIGINT. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { exporters } from '../../exporters';

const ROOT = join(__dirname, '../..');
const CLI = ['--import', 'tsx', join(ROOT, 'exporters/cli.ts')];

function run(args: string[]) {
  return spawnSync(process.execPath, [...CLI, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, TINOMAIL_LOG_LEVEL: 'info' } });
}

/** Starts an exporter and resolves with its port, read from its "listening" log line. */
function start(args: string[]): Promise<{ child: ChildProcess; port: number; logs: () => string }> {
  const child = spawn(process.execPath, [...CLI, ...args], { cwd: ROOT, env: { ...process.env, TINOMAIL_LOG_LEVEL: 'info' } });
  let logs = '';
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (chunk) => {
      logs += chunk;
      const m = /msg=listening .*address=[\d.]+:(\d+)/.exec(logs);
      if (m) resolve({ child, port: Number(m[1]), logs: () => logs });
    });
    child.on('exit', (code) => reject(new Error(`exited ${code} before listening: ${logs}`)));
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}

describe('tinomail-monitor process', () => {
  test('a wrong flag exits 2 with a message naming it', () => {
    const r = run(['system', '--system.nope=1']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('unknown flag --system.nope');
    const bad = run(['redis', '--redis.scan-count=lots']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--redis.scan-count: not an integer');
    expect(run(['nosuch']).status).toBe(2);
  });

  test('--help exits 0 and shows defaults with passwords masked', () => {
    const r = run(['mongodb', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('TINOMAIL_MONGODB_URI');
    expect(run(['--help']).stdout).toMatch(/wildduck[\s\S]*mongodb[\s\S]*redis[\s\S]*system/);
  });

  test.each(['SIGTERM', 'SIGINT'] as const)('%s stops the exporter cleanly with exit 0', async (signal) => {
    const { child, port, logs } = await start(['system', '--web.listen-address=127.0.0.1:0']);
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/^system_up 1$/m);
    const exit = exited(child);
    child.kill(signal);
    expect(await exit).toBe(0);
    expect(logs()).toMatch(new RegExp(`msg="shutting down" .*signal=${signal}`));
    expect(logs()).toContain('msg=stopped');
  });

  test('a target that is down keeps the process running and answers up 0', async () => {
    // Nothing listens on port 1 of loopback.
    const { child, port } = await start(['redis', '--web.listen-address=127.0.0.1:0', '--redis.uri=redis://127.0.0.1:1/3']);
    try {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(text).toMatch(/^redis_up 0$/m);
      expect(child.exitCode).toBeNull();
    } finally {
      const exit = exited(child);
      child.kill('SIGTERM');
      await exit;
    }
  });
});

describe('tinomail-monitor command line exits', () => {
  test('no subcommand exits 2 with the list of exporters', () => {
    const r = run([]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`no exporter given (one of: ${[...exporters.map((e) => e.name), 'all'].join(', ')})`);
  });

  test('<exporter> --version prints the version and exits 0 (every subcommand: test/kit/cli.test.ts)', () => {
    const r = run(['redis', '--version']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^tinomail-monitor \d+\.\d+\.\d+/);
  });
});

describe('a signal during start-up', () => {
  /** Spawns the CLI and resolves once it logged "starting" (its signal handlers are in place). */
  function spawnStarting(args: string[]): Promise<{ child: ChildProcess; logs: () => string; exit: Promise<number | null> }> {
    const child = spawn(process.execPath, [...CLI, ...args], { cwd: ROOT, env: { ...process.env, TINOMAIL_LOG_LEVEL: 'info' } });
    const exit = exited(child);
    let logs = '';
    return new Promise((resolve, reject) => {
      child.stderr!.on('data', (chunk) => {
        logs += chunk;
        if (/msg=starting /.test(logs)) resolve({ child, logs: () => logs, exit });
      });
      void exit.then((code) => reject(new Error(`exited ${code} before starting: ${logs}`)));
    });
  }

  test('SIGTERM while start-up waits on its target: a logged, clean exit 0', async () => {
    // A "Redis" that accepts and never answers: the redis exporter's start-up waits on its ready check.
    const sockets: import('node:net').Socket[] = [];
    const silent = createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const connected = new Promise((resolve) => silent.once('connection', resolve));
    try {
      const port = (silent.address() as import('node:net').AddressInfo).port;
      const { child, logs, exit } = await spawnStarting(['redis', '--web.listen-address=127.0.0.1:0', `--redis.uri=redis://127.0.0.1:${port}/3`]);
      await connected; // start-up is now inside start(), waiting on the silent peer
      child.kill('SIGTERM');
      expect(await exit).toBe(0);
      expect(logs()).toMatch(/msg="shutting down during start-up" .*signal=SIGTERM/);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });

  test('SIGTERM right after the process starts is logged and exits 0, whatever start-up has reached', async () => {
    const { child, logs, exit } = await spawnStarting(['system', '--web.listen-address=127.0.0.1:0']);
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(logs()).toMatch(/msg="shutting down( during start-up)?" .*signal=SIGTERM/);
  });
});
