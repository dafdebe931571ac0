// The daemon as operators run it: Prometheus metrics, the systemd unit, and
// `make install` producing a tree that runs on its own.
import { execFile } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unary } from '../../src/api/client.js';
import { REPO_ROOT } from '../../src/dataplane/native.js';
import { TestDaemon } from '../helpers/daemon.js';

const run = promisify(execFile);

describe('Prometheus metrics', () => {
  let daemon: TestDaemon;
  beforeAll(async () => {
    daemon = await TestDaemon.start({ config: { metrics: { address: '127.0.0.1:0' } } });
    await daemon.waitServing();
  });
  afterAll(() => daemon?.cleanup());

  it('serves readiness, resource counts, reason counters and process metrics at /metrics', async () => {
    const client = daemon.client();
    await unary((cb) => client.createNetwork({ network: { id: 'c0ffee00-0000-4000-8000-000000000001', segmentationId: 9 } }, cb));
    const address = /"metrics":"([^"]+)"/.exec(daemon.logs)?.[1];
    expect(address, 'the start line names the bound metrics address').toMatch(/^127\.0\.0\.1:\d+$/);

    const response = await fetch(`http://${address}/metrics`);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toMatch(/^xdpnet_ready 1$/m);
    expect(text).toMatch(/^xdpnet_resources\{kind="network"\} 1$/m);
    expect(text).toMatch(/^xdpnet_desired_revision [1-9]\d*$/m);
    expect(text).toMatch(/^xdpnet_reason_packets_total\{reason="REASON_DROP_BAD_IPV4_CHECKSUM",category="dropped"\} 0$/m);
    expect(text).toMatch(/^xdpnetd_process_cpu_seconds_total /m);
    expect((await fetch(`http://${address}/other`)).status).toBe(404);
  });
});

describe('packaging', () => {
  it('the systemd unit passes systemd-analyze verify', async () => {
    // verify checks that ExecStart exists: point it at a binary that does.
    const dir = mkdtempSync(join(tmpdir(), 'xdpnet-unit-'));
    try {
      const unit = join(dir, 'xdpnetd.service');
      writeFileSync(unit, readFileSync(join(REPO_ROOT, 'packaging/xdpnetd.service'), 'utf8').replace('/usr/local/bin/xdpnetd', process.execPath));
      const { stderr } = await run('systemd-analyze', ['verify', unit]);
      expect(stderr).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('make install stages a self-contained tree whose daemon runs', async () => {
    const destdir = mkdtempSync(join(tmpdir(), 'xdpnet-install-'));
    try {
      await run('make', ['-s', 'install', `DESTDIR=${destdir}`], { cwd: REPO_ROOT, maxBuffer: 16 << 20 });
      const lib = join(destdir, 'usr/local/lib/xdpnet');
      for (const path of [
        'dist/daemon/main.js',
        'bpf/build/xdp_guard.bpf.o',
        'native/build/Release/xdpnet_native.node',
        'build/proto/xdpnet.protoset',
        'proto/xdpnet/v1/service.proto',
        'node_modules/@grpc/grpc-js',
      ]) {
        expect(existsSync(join(lib, path)), path).toBe(true);
      }
      expect(existsSync(join(lib, 'node_modules/vitest')), 'development packages are pruned').toBe(false);
      expect(lstatSync(join(destdir, 'usr/local/bin/xdpnetd')).isSymbolicLink()).toBe(true);
      expect(readlinkSync(join(destdir, 'usr/local/bin/xdpnetd'))).toBe('/usr/local/lib/xdpnet/bin/xdpnetd');
      expect(existsSync(join(destdir, 'etc/systemd/system/xdpnetd.service'))).toBe(true);
      const example = join(destdir, 'etc/xdpnet/xdpnetd.example.yaml');
      const { stdout } = await run(process.execPath, [join(lib, 'bin/xdpnetd'), '--check-config', '--config', example]);
      expect(stdout).toContain('valid');
      const cli = await run(process.execPath, [join(lib, 'bin/xdpnet'), '--help']);
      expect(cli.stdout).toContain('network');
    } finally {
      rmSync(destdir, { recursive: true, force: true });
    }
  });
});
