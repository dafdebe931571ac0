// Real xdpnetd processes for API, CLI and end-to-end tests.
//
//   const d = await TestDaemon.start();            // fake dataplane, temp dirs
//   const client = d.client();
//   await d.waitServing();
//   ...
//   await d.stop();                                // SIGTERM; d.kill() for SIGKILL
//   await d.restart();                             // same state directory
//   d.cleanup();                                   // removes the temp directory
//
// The daemon runs the built code (bin/xdpnetd → dist/), as users run it.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { stringify } from 'yaml';
import { connect } from '../../src/api/client.js';
import type { XdpNetClient } from '../../src/gen/proto/xdpnet/v1/XdpNet.js';
import { REPO_ROOT } from '../../src/dataplane/native.js';

export const XDPNETD = join(REPO_ROOT, 'bin/xdpnetd');

export interface TestDaemonOptions {
  /** Merged over the defaults (fake dataplane, temp socket and state, no metrics). */
  config?: Record<string, unknown>;
  /** Wraps the command, e.g. to run it inside a network namespace: (argv) => ['nsenter', '--net=…', ...argv]. */
  wrap?: (argv: string[]) => string[];
  /** Reuse a directory (state survives), else a fresh temp one. */
  dir?: string;
}

type HealthClient = grpc.Client & {
  check(req: { service: string }, cb: (err: grpc.ServiceError | null, res?: { status: string }) => void): void;
};
const HealthClientCtor = grpc.makeClientConstructor(healthService, 'grpc.health.v1.Health') as unknown as new (
  address: string,
  creds: grpc.ChannelCredentials,
) => HealthClient;

export class TestDaemon {
  private child!: ChildProcess;
  private exitPromise!: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private output = '';
  private clients: grpc.Client[] = [];

  private constructor(
    readonly dir: string,
    readonly configPath: string,
    readonly socket: string,
    private readonly options: TestDaemonOptions,
  ) {}

  static async start(options: TestDaemonOptions = {}): Promise<TestDaemon> {
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'xdpnetd-test-'));
    mkdirSync(dir, { recursive: true });
    const socket = join(dir, 'xdpnetd.sock');
    const config = {
      vtep_ip: '192.0.2.1',
      underlay_interface: 'eth0',
      dataplane: 'fake',
      state_dir: join(dir, 'state'),
      api: { socket },
      metrics: { address: null },
      reconcile: { full_pass_interval_seconds: 30 },
      log: { level: 'info' },
      ...options.config,
    };
    const configPath = join(dir, 'xdpnetd.yaml');
    writeFileSync(configPath, stringify(config));
    const daemon = new TestDaemon(dir, configPath, socket, options);
    daemon.launch();
    return daemon;
  }

  private launch(): void {
    const argv = [process.execPath, XDPNETD, '--config', this.configPath];
    const [cmd, ...args] = this.options.wrap ? this.options.wrap(argv) : argv;
    this.output = '';
    this.child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout?.setEncoding('utf8').on('data', (s: string) => (this.output += s));
    this.child.stderr?.setEncoding('utf8').on('data', (s: string) => (this.output += s));
    this.exitPromise = new Promise((resolve) => this.child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Everything the daemon printed (JSON log lines) since it last started. */
  get logs(): string {
    return this.output;
  }

  get exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.exitPromise;
  }

  client(): XdpNetClient {
    const client = connect({ socket: this.socket });
    this.clients.push(client);
    return client;
  }

  /** The grpc.health.v1 status of `service` ('' = the whole server). */
  health(service = ''): Promise<string> {
    const client = new HealthClientCtor(`unix:${this.socket}`, grpc.credentials.createInsecure());
    return new Promise((resolve, reject) =>
      client.check({ service }, (err, res) => {
        client.close();
        if (err) reject(err);
        else resolve(res?.status ?? 'UNKNOWN');
      }),
    );
  }

  /** Polls health until SERVING; fails with the daemon's output if it exits or times out. */
  async waitServing(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.exitPromise.then(() => (exited = true));
    for (;;) {
      if (exited) throw new Error(`xdpnetd exited before serving:\n${this.output}`);
      const status = await this.health().catch(() => 'UNREACHABLE');
      if (status === 'SERVING') return;
      if (Date.now() > deadline) throw new Error(`xdpnetd not SERVING after ${timeoutMs} ms (last: ${status}):\n${this.output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private closeClients(): void {
    for (const c of this.clients) c.close();
    this.clients = [];
  }

  /** SIGTERM and wait for the exit. */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.closeClients();
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    return this.exitPromise;
  }

  /** SIGKILL and wait for the exit. */
  async kill(): Promise<void> {
    this.closeClients();
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exitPromise;
  }

  /** Starts it again on the same configuration and state. */
  async restart(): Promise<void> {
    await this.stop();
    this.launch();
  }

  /** Starts it again after a stop/kill. */
  relaunch(): void {
    this.launch();
  }

  /** Stops (SIGKILL if needed) and removes the temp directory. */
  async cleanup(): Promise<void> {
    await this.kill();
    if (!this.options.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
