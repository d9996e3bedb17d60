/**
 * The process bench/gelf.ts measures for RSS: the GELF exporter alone, as `tinomail-monitor gelf` runs it —
 * compiled JavaScript from dist/ (`npm run build`), or the TypeScript sources through tsx when there is no build
 * (tsx itself adds about 30 MiB). Answers 'measure' with its RSS and pending figures, 'stop' by exiting.
 */
'use strict';
const path = require('node:path');
const { Registry } = require('prom-client');

let root = path.join(__dirname, '..', 'dist');
let compiled = true;
try {
  require.resolve(path.join(root, 'gelf'));
} catch {
  require('tsx/cjs');
  root = path.join(__dirname, '..', 'exporters');
  compiled = false;
}
const { definition } = require(path.join(root, 'gelf'));
const { parseFlags } = require(path.join(root, 'kit', 'flags'));
const { silentLogger } = require(path.join(root, 'kit', 'log'));

async function main() {
  const { values } = parseFlags(['--gelf.listen-address=127.0.0.1:0'], definition.flags, {});
  const exporter = definition.create({ registry: new Registry(), flags: values, log: silentLogger });
  await exporter.start();
  process.on('message', async (m) => {
    if (m === 'measure') {
      global.gc?.();
      const { pendingMessages, pendingBytes } = exporter.receiver.assembler;
      process.send({ rss: process.memoryUsage().rss, pendingMessages, pendingBytes });
    } else {
      await exporter.stop();
      process.exit(0);
    }
  });
  process.send({ port: exporter.udpPort, rss: process.memoryUsage().rss, compiled });
}
main();
