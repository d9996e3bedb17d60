// CongoDB (a MongoDB wire server in Node, from @push.rocks/smartmongo) on 127.0.0.1 and a port the kernel picks.
// Prints "congodb listening on <port>" once it accepts connections; stops on SIGTERM.
import { congodb } from '@push.rocks/smartmongo';

const server = new congodb.CongoServer({ host: '127.0.0.1', port: Number(process.env.CONGO_PORT ?? 0) });
await server.start();
// With port 0 the server's own URI says ":0": the real port is on its socket.
const port = server.server.address().port;
console.log(`congodb listening on ${port}`);
const stop = () => server.stop().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
