/**
 * The one HTTP(S) server behind every /metrics we serve: each exporter (run.ts) and both plugins, which
 * bundle this file at build time. It applies the web config (TLS, client certificates, basic auth, headers),
 * routes GET/HEAD by path, and never lets a failing handler throw: the answer is a 500 and the process lives.
 *
 * Only node's own response API is used (statusCode, setHeader, end): inside ZoneMTA, restify replaces
 * http.ServerResponse.prototype.writeHead, send, set, status... for the whole process.
 */
import http from 'node:http';
import https from 'node:https';
import { isIP, type AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { parseAddress } from './flags';
import { BasicAuth, type BasicAuthOptions, type WebConfig } from './webconfig';

export interface WebReply {
  status?: number;
  contentType?: string;
  headers?: Record<string, string>;
  body: string | Buffer;
}

export type WebHandler = (req: http.IncomingMessage) => WebReply | Promise<WebReply>;

/** The part of a logger the server uses (the kit's Logger; the plugins adapt their host's). */
export interface WebLogger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export interface WebServerOptions {
  /** 'host:port', ':port' or '[::1]:port'. */
  address: string;
  webConfig: WebConfig;
  routes: Record<string, WebHandler>;
  log: WebLogger;
  basicAuth?: BasicAuthOptions;
}

export interface WebServer {
  /** http(s)://<loopback or the bound host>:<port> */
  url: string;
  host: string;
  port: number;
  server: http.Server;
  stop(): Promise<void>;
}

/** Whether only this host can reach `host` (a listen host: '' and 0.0.0.0 / :: are every interface). */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || /^::ffff:127\./i.test(host);
  return false;
}

/** The warning for a /metrics anyone on the network can read, or undefined. */
export function exposureWarning(host: string, config: WebConfig): string | undefined {
  if (isLoopback(host) || config.tls || config.basicAuthUsers) return undefined;
  return 'metrics are served beyond loopback without TLS or basic auth: set a web config, or listen on 127.0.0.1';
}

/** 'msg k=v k=v': the kit's log fields on one line, for a host's own logger (Haraka, ZoneMTA). */
export function logLine(msg: string, fields?: Record<string, unknown>): string {
  return [msg, ...Object.entries(fields ?? {}).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)].join(' ');
}

/** A host's logger that throws (a closed stream, a broken format) must not turn a log line into a crash. */
function neverThrows(log: WebLogger): WebLogger {
  const wrap =
    (level: keyof WebLogger) =>
    (msg: string, fields?: Record<string, unknown>): void => {
      try {
        log[level](msg, fields);
      } catch {
        // nothing to do: the answer matters more than the line
      }
    };
  return { debug: wrap('debug'), info: wrap('info'), warn: wrap('warn'), error: wrap('error') };
}

function errorText(err: unknown): string {
  // Errors may come from another realm (Haraka runs plugins in vm contexts): no instanceof.
  return err && typeof err === 'object' && 'message' in err ? String(err.message) : String(err);
}

/** Writes a reply with node's own API only; a response that cannot be written is dropped, never thrown. */
function send(req: http.IncomingMessage, res: http.ServerResponse, reply: WebReply): void {
  try {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = typeof reply.body === 'string' ? Buffer.from(reply.body) : reply.body;
    res.statusCode = reply.status ?? 200;
    for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
    res.setHeader('Content-Type', reply.contentType ?? 'text/plain; charset=utf-8');
    res.setHeader('Content-Length', body.length);
    res.end(req.method === 'HEAD' ? undefined : body);
  } catch {
    try {
      res.destroy();
    } catch {
      // the socket is gone already
    }
  }
}

const text = (status: number, body: string, headers?: Record<string, string>): WebReply => ({ status, body, headers });

/** Client certificate modes the TLS layer leaves to us (it only requests the certificate). */
function clientCertRefused(config: WebConfig, req: http.IncomingMessage): boolean {
  if (config.clientAuth !== 'RequireAnyClientCert' && config.clientAuth !== 'VerifyClientCertIfGiven') return false;
  const socket = req.socket as TLSSocket;
  const cert = socket.getPeerCertificate?.();
  const given = Boolean(cert && Object.keys(cert).length > 0);
  return config.clientAuth === 'RequireAnyClientCert' ? !given : given && !socket.authorized;
}

/** Starts listening; rejects when the address is invalid or taken (the caller decides what that means). */
export async function startWebServer(opts: WebServerOptions): Promise<WebServer> {
  const { webConfig: config } = opts;
  const log = neverThrows(opts.log);
  const { host, port } = parseAddress(opts.address);
  const auth = config.basicAuthUsers ? new BasicAuth(config.basicAuthUsers, opts.basicAuth) : undefined;

  const answer = async (req: http.IncomingMessage): Promise<WebReply> => {
    if (clientCertRefused(config, req)) return text(403, 'client certificate required\n');
    if (auth) {
      const result = await auth.check(req.headers.authorization);
      if (result === 'busy') return text(429, 'Too many authentication attempts, retry later\n', { 'Retry-After': '1' });
      if (result === 'denied') {
        log.debug('basic auth rejected', { path: req.url });
        return text(401, 'Unauthorized\n', { 'WWW-Authenticate': 'Basic' });
      }
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return text(405, 'Method not allowed\n', { Allow: 'GET, HEAD' });
    const handler = Object.hasOwn(opts.routes, pathOf(req)) ? opts.routes[pathOf(req)] : undefined;
    if (!handler) return text(404, 'Not found\n');
    return handler(req);
  };

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    let headers: Record<string, string> = {};
    try {
      headers = config.headers ?? {};
      answer(req).then(
        (reply) => send(req, res, { ...reply, headers: { ...headers, ...reply.headers } }),
        (err: unknown) => {
          log.error('request failed', { path: pathOf(req), err: errorText(err) });
          send(req, res, text(500, `error: ${errorText(err)}\n`, headers));
        },
      );
    } catch (err) {
      send(req, res, text(500, `error: ${errorText(err)}\n`, headers));
    }
  };

  const server = config.tls ? https.createServer(config.tls, onRequest) : http.createServer(onRequest);
  // A client that sends its headers slowly must not hold a connection for long.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await auth?.close();
    throw err;
  }
  // A later server error is logged, never thrown into the process (or its host).
  server.on('error', (err) => log.error('http server error', { err: errorText(err) }));
  const bound = (server.address() as AddressInfo).port;
  const tls = Boolean(config.tls);
  log.info('listening', { address: `${host.includes(':') ? `[${host}]` : host}:${bound}`, tls, basic_auth: Boolean(auth) });
  const warning = exposureWarning(host, config);
  if (warning) log.warn(warning, { address: opts.address });

  const urlHost = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
  let stopping: Promise<void> | undefined;
  return {
    url: `${tls ? 'https' : 'http'}://${urlHost}:${bound}`,
    host,
    port: bound,
    server,
    stop() {
      stopping ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await auth?.close();
      })();
      return stopping;
    },
  };
}

function pathOf(req: http.IncomingMessage): string {
  return (req.url ?? '/').split('?', 1)[0]!;
}
