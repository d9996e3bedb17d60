/**
 * The plugin's own /metrics listener (Haraka's http server runs per worker, so it cannot serve the sum),
 * through the kit's web server, bundled at build time: TLS, client certificates and basic auth from the same
 * web config file as the exporters. A failing scrape answers 500; nothing here throws into Haraka.
 */
import { pluginRoutes } from '../../../exporters/kit/landing';
import { startWebServer, type WebLogger, type WebServer } from '../../../exporters/kit/web';
import type { WebConfig } from '../../../exporters/kit/webconfig';
import { parseListen } from './config';
import { VERSION } from './version';

export interface MetricsSource {
  contentType: string;
  render(): Promise<string>;
  /** Rows of the landing page (mode, workers). */
  state?(): Array<[string, string]>;
}

export interface Started {
  /** http(s)://host:port */
  url: string;
  port: number;
}

export class MetricsServer {
  private web: WebServer | undefined;

  constructor(private readonly source: MetricsSource) {}

  /** Starts listening; resolves with the bound URL (port 0 picks a free port). Rejects on a bad or taken address. */
  async start(listen: string, webConfig: WebConfig = {}, log: WebLogger = silent): Promise<Started> {
    parseListen(listen); // the ini's own wording for an address it cannot parse
    const source = this.source;
    this.web = await startWebServer({
      address: listen,
      webConfig,
      log,
      routes: pluginRoutes({
        contentType: source.contentType,
        render: () => source.render(),
        page: () => ({
          title: 'haraka-plugin-tinomail',
          description: 'Inbound SMTP of this Haraka, counted inside Haraka and summed across its cluster workers.',
          rows: source.state?.() ?? [],
          version: VERSION,
        }),
      }),
    });
    return { url: this.web.url, port: this.web.port };
  }

  stop(): Promise<void> {
    const web = this.web;
    this.web = undefined;
    return web ? web.stop() : Promise.resolve();
  }
}

const silent: WebLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
