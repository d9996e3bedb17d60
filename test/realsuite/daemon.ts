/** A daemon of the real suite: started in its own process group, its output kept in a log file and a short tail. */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import net from 'node:net';

const TAIL_BYTES = 64 * 1024;

// Daemons run in process groups of their own, so they would outlive a test process that dies: end them with it.
const live = new Set<number>();
process.once('exit', () => {
  for (const pid of live) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

export class Daemon {
  readonly process: ChildProcess;
  private tail = '';
  private log: WriteStream;
  private exited: Promise<void>;

  constructor(
    readonly name: string,
    command: string,
    args: string[],
    opts: { cwd?: string; env?: NodeJS.ProcessEnv; logFile: string },
  ) {
    this.log = createWriteStream(opts.logFile, { flags: 'a' });
    // detached: its own process group, so stop() also ends the workers it forks (Haraka, ZoneMTA's senders)
    this.process = spawn(command, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer) => {
      this.log.write(chunk);
      this.tail = (this.tail + chunk.toString()).slice(-TAIL_BYTES);
    };
    const pid = this.process.pid;
    if (pid) live.add(pid);
    this.process.stdout!.on('data', keep);
    this.process.stderr!.on('data', keep);
    this.exited = new Promise((resolve) => {
      this.process.once('exit', () => {
        if (pid) live.delete(pid);
        resolve();
      });
      this.process.once('error', (err) => {
        this.tail += `\n${err.message}`;
        resolve();
      });
    });
  }

  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  /** What it wrote lately (the last 64 KiB). */
  output(): string {
    return this.tail;
  }

  lastLines(n = 25): string {
    return this.tail.trimEnd().split('\n').slice(-n).join('\n');
  }

  /** Polls `check` until it holds; fails naming this daemon and its last log lines when it exits or time runs out. */
  async waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.running) throw new Error(`${this.name} exited (${this.process.exitCode ?? this.process.signalCode}) before ${what}; its last lines:\n${this.lastLines()}`);
      if (await Promise.resolve().then(check).catch(() => false)) return;
      if (Date.now() > deadline) throw new Error(`${this.name}: no ${what} within ${timeoutMs / 1000} s; its last lines:\n${this.lastLines()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** SIGTERM to the whole group, SIGKILL after `graceMs`; resolves when the process has exited. */
  async stop(graceMs = 5000): Promise<void> {
    const pid = this.process.pid;
    if (this.running && pid) {
      const kill = (signal: NodeJS.Signals) => {
        try {
          process.kill(-pid, signal);
        } catch {
          // already gone
        }
      };
      kill('SIGTERM');
      const later = setTimeout(() => kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(later);
      kill('SIGKILL'); // workers that outlived their master
    }
    await new Promise<void>((resolve) => this.log.end(() => resolve()));
  }
}

/** True when something on host:port answers with a line starting with `prefix` (an SMTP, LMTP or IMAP banner). */
export function banner(host: string, port: number, prefix: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, host);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(5000, () => done(false));
    socket.once('data', (d) => done(d.toString().startsWith(prefix)));
    socket.once('error', () => done(false));
  });
}

export async function httpStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(5000) });
  await res.arrayBuffer();
  return res.status;
}

/**
 * `n` distinct TCP ports on 127.0.0.1 that were free a moment ago (for daemons that cannot be told to take
 * port 0): all held open at once, so the kernel cannot hand out one of them twice.
 */
export async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const server = net.createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago (for daemons that cannot be told to take port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `check` until it returns a value other than undefined/false; throws `what` after `timeoutMs`. */
export async function until<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 30_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
