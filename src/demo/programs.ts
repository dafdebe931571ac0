// The small programs the demo runs inside VMs and on the internet host: Node
// scripts (Node is what the project already needs), each printing JSON lines
// the demo reads back.

import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Instance } from './plan.js';
import { inNs, nsenter, run, sleep, spawnDetached } from './shell.js';

/** A TCP echo server: sends back what it receives. */
const TCP_ECHO_SERVER = `
const net = require('node:net');
const [host, port] = process.argv.slice(1);
net.createServer((s) => { s.on('error', () => {}); s.pipe(s); })
  .listen(Number(port), host, () => console.log('listening'));
`;

/** Sends N random bytes over TCP, reads the echo back, compares digests. */
const TCP_CLIENT = `
const net = require('node:net');
const crypto = require('node:crypto');
const [host, port, bytes] = process.argv.slice(1);
const data = crypto.randomBytes(Number(bytes));
const chunks = [];
const started = Date.now();
const s = net.connect(Number(port), host, () => s.end(data));
s.setTimeout(10000, () => { console.log(JSON.stringify({ error: 'timeout', received: chunks.reduce((n, c) => n + c.length, 0) })); process.exit(2); });
s.on('data', (c) => chunks.push(c));
s.on('error', (e) => { console.log(JSON.stringify({ error: e.code || e.message })); process.exit(2); });
s.on('end', () => {
  const back = Buffer.concat(chunks);
  const digest = (b) => crypto.createHash('sha256').update(b).digest('hex');
  console.log(JSON.stringify({ sent: data.length, received: back.length, identical: digest(back) === digest(data), ms: Date.now() - started }));
});
`;

/** An HTTP server that prints, and answers, who connected: the source address it saw. */
const HTTP_WHOAMI_SERVER = `
const http = require('node:http');
const [host, port, name] = process.argv.slice(1);
http.createServer((req, res) => {
  const from = req.socket.remoteAddress, fromPort = req.socket.remotePort;
  console.log(JSON.stringify({ from, port: fromPort, method: req.method, url: req.url }));
  res.end('hello from ' + name + ': you are ' + from + ' port ' + fromPort + '\\n');
}).listen(Number(port), host, () => console.log('listening'));
`;

/** One HTTP GET (optionally from a given local address); prints the status and body, or the error. */
const HTTP_GET = `
const http = require('node:http');
const [host, port, localAddress] = process.argv.slice(1);
const req = http.get({ host, port: Number(port), path: '/', localAddress: localAddress || undefined, timeout: 5000 }, (res) => {
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (c) => (body += c));
  res.on('end', () => console.log(JSON.stringify({ status: res.statusCode, body: body.trim() })));
});
req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
req.on('error', (e) => { console.log(JSON.stringify({ error: e.message })); process.exitCode = 2; });
`;

/** argv running a script with this Node (with -e, process.argv is [node, ...args]). */
function node(script: string, ...args: (string | number)[]): string[] {
  return [process.execPath, '-e', script, '--', ...args.map(String)];
}

/** A server started by the demo: detached, recorded for `clean`, its output in a log file. */
export class Server {
  private constructor(
    readonly pid: number,
    readonly log: string,
  ) {}

  /** Starts `argv` in namespace `ns`; resolves once it prints "listening". */
  static async start(inst: Instance, ns: string, name: string, argv: string[]): Promise<Server> {
    const dir = join(inst.dir, 'servers');
    mkdirSync(dir, { recursive: true });
    const log = join(dir, `${name}.log`);
    const pid = spawnDetached(nsenter(ns, argv), log, join(dir, `${name}.pid`));
    const server = new Server(pid, log);
    const deadline = Date.now() + 15_000;
    while (!server.output().includes('listening')) {
      if (Date.now() > deadline) throw new Error(`${name} did not start listening; it printed:\n${server.output()}`);
      await sleep(50);
    }
    return server;
  }

  output(): string {
    try {
      return readFileSync(this.log, 'utf8');
    } catch {
      return '';
    }
  }

  /** The JSON lines it printed. */
  records<T>(): T[] {
    return this.output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as T);
  }

  stop(): void {
    try {
      process.kill(this.pid, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
}

export const startTcpEchoServer = (inst: Instance, ns: string, name: string, ip: string, port: number) =>
  Server.start(inst, ns, name, node(TCP_ECHO_SERVER, ip, port));

export const startWhoamiServer = (inst: Instance, ns: string, name: string, ip: string, port: number, title: string) =>
  Server.start(inst, ns, name, node(HTTP_WHOAMI_SERVER, ip, port, title));

export interface WhoamiRecord {
  from: string;
  port: number;
}

export interface TcpResult {
  sent?: number;
  received?: number;
  identical?: boolean;
  ms?: number;
  error?: string;
}

function lastJson<T>(stdout: string, fallback: T): T {
  const line = stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as T;
  } catch {
    return fallback;
  }
}

/** From namespace `ns`: `bytes` random bytes to ip:port's echo server and back. */
export async function tcpEcho(ns: string, ip: string, port: number, bytes: number): Promise<TcpResult> {
  const r = await run(inNs(ns, node(TCP_CLIENT, ip, port, bytes)), { allowFailure: true, timeoutMs: 20_000 });
  return lastJson<TcpResult>(r.stdout, { error: `no result: ${r.stdout}${r.stderr}` });
}

export interface HttpResult {
  status?: number;
  body?: string;
  error?: string;
}

/** From namespace `ns`: GET http://ip:port/, from `localAddress` if given. */
export async function httpGet(ns: string, ip: string, port: number, localAddress = ''): Promise<HttpResult> {
  const r = await run(inNs(ns, node(HTTP_GET, ip, port, localAddress)), { allowFailure: true, timeoutMs: 20_000 });
  return lastJson<HttpResult>(r.stdout, { error: `no result: ${r.stdout}${r.stderr}` });
}

/** `ping` from namespace `ns`: the argv (as shown to the user) and the replies received. */
export function pingArgv(target: string, count: number): string[] {
  return ['ping', '-n', '-q', '-c', String(count), '-i', '0.2', '-W', '1', '-w', String(Math.max(3, count)), target];
}

export async function ping(ns: string, target: string, count: number): Promise<number> {
  const r = await run(inNs(ns, pingArgv(target, count)), { allowFailure: true, timeoutMs: 20_000 });
  const received = /(\d+) (?:packets )?received/.exec(r.stdout)?.[1];
  if (received === undefined) throw new Error(`ping printed no summary:\n${r.stdout}${r.stderr}`);
  return Number(received);
}
