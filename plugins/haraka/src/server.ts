/** The plugin's own /metrics listener (Haraka's http server runs per worker, so it cannot serve the sum). */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseListen } from './config';

export interface MetricsSource {
  contentType: string;
  render(): Promise<string>;
}

export class MetricsServer {
  private server: http.Server | undefined;

  constructor(private readonly source: MetricsSource) {}

  /** Starts listening; resolves with the bound address (port 0 picks a free port). */
  start(listen: string): Promise<AddressInfo> {
    let host: string | undefined;
    let port: number;
    try {
      ({ host, port } = parseListen(listen));
    } catch (err) {
      return Promise.reject(err);
    }
    const server = http.createServer((req, res) => this.handle(req, res));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port }, () => {
        server.off('error', reject);
        // A later socket error must never take Haraka down.
        server.on('error', () => undefined);
        resolve(server.address() as AddressInfo);
      });
    });
  }

  stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '/').split('?', 1)[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }); // apart from end: a host may replace writeHead with one returning nothing
      res.end();
      return;
    }
    if (path === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end('<html><head><title>Haraka metrics</title></head><body><h1>Haraka metrics (haraka-plugin-tinomail)</h1><p><a href="/metrics">/metrics</a></p></body></html>\n');
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not found\n');
      return;
    }
    this.source.render().then(
      (body) => {
        res.writeHead(200, { 'Content-Type': this.source.contentType });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err: unknown) => {
        res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(`collecting metrics failed: ${err instanceof Error ? err.message : String(err)}\n`);
      },
    );
  }
}
