/** HTTP(S) requests for the plugin web tests: client certificates, CA, basic auth, any method. */
import http from 'node:http';
import https from 'node:https';

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface RequestOptions extends https.RequestOptions {
  user?: string;
  password?: string;
}

export function request(url: string, opts: RequestOptions = {}): Promise<Answer> {
  const { user, password, ...rest } = opts;
  const headers = { ...(rest.headers as Record<string, string> | undefined) };
  if (user !== undefined) headers.authorization = 'Basic ' + Buffer.from(`${user}:${password ?? ''}`).toString('base64');
  const client = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(url, { ...rest, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A web config file in exporter-toolkit format. */
export function webConfigYaml(opts: { cert?: string; key?: string; clientAuth?: string; clientCa?: string; users?: Record<string, string> }): string {
  let yaml = '';
  if (opts.cert) {
    yaml += `tls_server_config:\n  cert_file: ${opts.cert}\n  key_file: ${opts.key}\n`;
    if (opts.clientAuth) yaml += `  client_auth_type: ${opts.clientAuth}\n`;
    if (opts.clientCa) yaml += `  client_ca_file: ${opts.clientCa}\n`;
  }
  if (opts.users) yaml += `basic_auth_users:\n${Object.entries(opts.users).map(([u, h]) => `  ${u}: ${h}\n`).join('')}`;
  return yaml;
}
