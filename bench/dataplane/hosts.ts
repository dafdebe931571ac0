// The worker's side of the generator hosts (gen-host.ts): one child process
// per namespace other than `node` that has scenarios, started with `nsenter
// --net` into it, asked one request at a time.

import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { NETNS_DIR } from '../../test/helpers/netns.js';
import type { LiveRun } from './generator.js';
import type { BenchNet, Host } from './topology.js';

const GEN_HOST = fileURLToPath(new URL('./gen-host.js', import.meta.url));

export type HostRequest =
  /** Loads scenario `id`'s program and a generator for it. */
  | { op: 'load'; id: string }
  /** Offers its traffic for about `seconds`: a LiveRun. */
  | { op: 'live'; id: string; seconds: number }
  /** Offers exactly `frames` frames (setup). */
  | { op: 'offer'; id: string; frames: number }
  /** Its generator's failures: { restore, noTarget }. */
  | { op: 'errors'; id: string }
  /** The namespace's connection tracking: a KernelConntrack. */
  | { op: 'conntrack' };

/** A namespace's connection tracking, read inside it. */
export interface KernelConntrack {
  /** nf_conntrack_max: the most connections tracked before new ones evict (or are dropped). */
  max: number;
  /** nf_conntrack_count: connections tracked now. */
  count: number;
  /** /proc/net/stat/nf_conntrack, all CPUs summed (early_drop, drop, insert_failed, ...). */
  stats: Record<string, number>;
}

export class GeneratorHost {
  private readonly replies: ((line: string) => void)[] = [];
  private exited: Error | undefined;

  private constructor(
    readonly host: Host,
    private readonly child: ChildProcessWithoutNullStreams,
  ) {
    createInterface({ input: child.stdout }).on('line', (line) => this.replies.shift()?.(line));
    child.stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    child.once('exit', (code, signal) => {
      this.exited = new Error(`the generator host in ${host} ${signal ? `was killed by ${signal}` : `exited with status ${code}`}`);
      for (const reply of this.replies.splice(0)) reply(JSON.stringify({ ok: false, error: this.exited.message }));
    });
  }

  static start(host: Host, net: BenchNet): GeneratorHost {
    const ns = net.hosts?.[host];
    if (ns === undefined) throw new Error(`no namespace for the scenarios of ${host} in this run`);
    const child = spawn('nsenter', [`--net=${NETNS_DIR}/${ns}`, '--', process.execPath, GEN_HOST, JSON.stringify(net)], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return new GeneratorHost(host, child);
  }

  request<T>(req: HostRequest): Promise<T> {
    if (this.exited) return Promise.reject(this.exited);
    return new Promise((resolve, reject) => {
      this.replies.push((line) => {
        const reply = JSON.parse(line) as { ok: true; result: T } | { ok: false; error: string };
        if (reply.ok) resolve(reply.result);
        else reject(new Error(`generator host in ${this.host}: ${reply.error}`));
      });
      this.child.stdin.write(`${JSON.stringify(req)}\n`);
    });
  }

  live(id: string, seconds: number): Promise<LiveRun> {
    return this.request({ op: 'live', id, seconds });
  }

  /** Ends the host (it closes its generators when its input ends) and waits for it. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await done;
    clearTimeout(timer);
  }
}
