// The `xdpnet` CLI against a real daemon (fake dataplane, temp socket), run
// as operators run it: `node bin/xdpnet --socket … <command>` in a child
// process. Resources: create, list (table and JSON), show, set, delete, and
// the daemon's refusals surfacing on stderr with a non-zero exit.
//
// The tests in this file build on each other in order (one topology, as an
// operator would set it up and tear it down).

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../src/dataplane/native.js';
import { TestDaemon } from '../helpers/daemon.js';

const BIN = join(REPO_ROOT, 'bin/xdpnet');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

let daemon: TestDaemon;

/** Runs the built CLI against the test daemon; never rejects, the exit code is in the result. */
function xdpnet(...args: string[]): Promise<Result> {
  const env = { ...process.env };
  delete env['XDPNET_SOCKET'];
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, '--socket', daemon.socket, ...args], { env, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs and expects success; returns stdout. */
async function ok(...args: string[]): Promise<string> {
  const r = await xdpnet(...args);
  expect(r.stderr, `xdpnet ${args.join(' ')}`).toBe('');
  expect(r.code, `xdpnet ${args.join(' ')}`).toBe(0);
  return r.stdout;
}

async function json<T = Record<string, unknown>>(...args: string[]): Promise<T> {
  return JSON.parse(await ok(...args, '-o', 'json')) as T;
}

/** Polls `show -o json` until the resource's status state is `state` (the dataplane applies asynchronously). */
async function waitForState(kind: string, id: string, state: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await json<{ status: { state: string } }>(kind, 'show', id);
    if (r.status.state === state) return;
    if (Date.now() > deadline) throw new Error(`${kind} ${id} still ${r.status.state}, expected ${state}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

const NET = '10000000-0000-4000-8000-000000000001';
const NET2 = '10000000-0000-4000-8000-000000000002';
const EXT = '10000000-0000-4000-8000-0000000000e1';
const SUBNET = '20000000-0000-4000-8000-000000000001';
const EXT_SUBNET = '20000000-0000-4000-8000-0000000000e1';
const PORT = '30000000-0000-4000-8000-000000000001';
const PORT2 = '30000000-0000-4000-8000-000000000002';
const ROUTER = '40000000-0000-4000-8000-000000000001';
const FIP = '50000000-0000-4000-8000-000000000001';

beforeAll(async () => {
  if (!existsSync(join(REPO_ROOT, 'dist/cli/main.js'))) throw new Error('dist/cli/main.js is missing: run `make build` first');
  daemon = await TestDaemon.start();
  await daemon.waitServing();
});

afterAll(async () => {
  await daemon?.cleanup();
});

describe('networks', () => {
  it('create prints the new network as a Field/Value table', async () => {
    const out = await ok('network', 'create', '--id', NET, '--name', 'tenant-a', '--segmentation-id', '1001');
    expect(out).toMatch(/^\+-+\+-+\+\n\| Field +\| Value +\|\n/);
    expect(out).toMatch(new RegExp(`\\| id +\\| ${NET} +\\|`));
    expect(out).toMatch(/\| name +\| tenant-a +\|/);
    expect(out).toMatch(/\| type +\| vxlan +\|/);
    expect(out).toMatch(/\| mtu +\| 1450 +\|/); // the VXLAN default, resolved by the daemon
    expect(out).toMatch(/\| status +\| (PENDING|ACTIVE) +\|/);
  });

  it('show -o json is the API object: camelCase, enums by name, uint64 as strings', async () => {
    const n = await json('network', 'show', NET);
    expect(n).toMatchObject({
      id: NET,
      name: 'tenant-a',
      type: 'NETWORK_TYPE_VXLAN',
      segmentationId: 1001,
      mtu: 1450,
      external: false,
      adminStateUp: true,
    });
    expect(n['revision']).toMatch(/^\d+$/);
    expect((n['status'] as { state: string }).state).toMatch(/^RESOURCE_STATE_(PENDING|ACTIVE)$/);
    expect(Object.keys(n).filter((k) => k.startsWith('_'))).toEqual([]);
  });

  it('list: a table with a status column, and JSON', async () => {
    await ok('network', 'create', '--id', EXT, '--name', 'public', '--type', 'flat', '--physical-network', 'physnet1', '--external');
    const table = await ok('network', 'list');
    expect(table).toMatch(/\| ID +\| Name +\| Type +\| Segment +\| MTU +\| External +\| Admin State +\| Status +\|/);
    expect(table).toMatch(new RegExp(`\\| ${NET} \\| tenant-a +\\| vxlan +\\| 1001 +\\| 1450 \\| False +\\| UP +\\| (PENDING|ACTIVE) +\\|`));
    expect(table).toMatch(new RegExp(`\\| ${EXT} \\| public +\\| flat +\\| 0 +\\| 1500 \\| True +\\| UP +\\|`));
    const list = await json<{ id: string; type: string; external: boolean; physicalNetwork: string }[]>('network', 'list');
    expect(list.map((n) => n.id).sort()).toEqual([NET, EXT].sort());
    expect(list.find((n) => n.id === EXT)).toMatchObject({ type: 'NETWORK_TYPE_FLAT', external: true, physicalNetwork: 'physnet1' });
  });

  it('-o value -c prints bare values for shell pipelines', async () => {
    expect(await ok('network', 'show', NET, '-o', 'value', '-c', 'name', '-c', 'segmentation_id')).toBe('tenant-a\n1001\n');
    expect((await ok('network', 'list', '-o', 'value', '-c', 'id')).split('\n').filter(Boolean).sort()).toEqual([NET, EXT].sort());
  });

  it('a duplicate VNI is ALREADY_EXISTS, with the daemon\'s message on stderr', async () => {
    const r = await xdpnet('network', 'create', '--id', NET2, '--segmentation-id', '1001');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^xdpnet: ALREADY_EXISTS: network\.segmentation_id: .*1001.*\n$/);
  });

  it('list pages: one page by default with a hint on stderr, --all follows every page', async () => {
    const one = await xdpnet('network', 'list', '--page-size', '1', '-o', 'json');
    expect(one.code).toBe(0);
    expect(JSON.parse(one.stdout)).toHaveLength(1);
    expect(one.stderr).toMatch(/more networks follow: --all lists every one, --page-token \S+ the next page/);
    const token = /--page-token (\S+)/.exec(one.stderr)![1]!;
    const next = await json<{ id: string }[]>('network', 'list', '--page-size', '1', '--page-token', token);
    expect(next).toHaveLength(1);
    expect(await json<unknown[]>('network', 'list', '--page-size', '1', '--all')).toHaveLength(2);
  });
});

describe('subnets and ports', () => {
  it('subnet create with DNS and a host route; list filtered by network', async () => {
    const out = await ok(
      'subnet', 'create', '--id', SUBNET, '--network', NET, '--cidr', '10.0.0.0/24', '--name', 'sub-a',
      '--dns-nameserver', '192.0.2.53', '--host-route', 'destination=198.51.100.0/24,gateway=10.0.0.254',
    );
    expect(out).toMatch(/\| gateway_ip +\| 10\.0\.0\.1 +\|/); // the first host: the daemon's default
    expect(out).toMatch(/\| host_routes +\| destination=198\.51\.100\.0\/24,gateway=10\.0\.0\.254 +\|/);
    await ok('subnet', 'create', '--id', EXT_SUBNET, '--network', EXT, '--cidr', '203.0.113.0/24', '--no-dhcp');
    const subnets = await json<{ id: string; hostRoutes: unknown[]; dnsNameservers: string[] }[]>('subnet', 'list', '--network', NET);
    expect(subnets.map((s) => s.id)).toEqual([SUBNET]);
    expect(subnets[0]).toMatchObject({ dnsNameservers: ['192.0.2.53'], hostRoutes: [{ destination: '198.51.100.0/24', nexthop: '10.0.0.254' }] });
  });

  it('deleting a network that still has subnets is FAILED_PRECONDITION', async () => {
    const r = await xdpnet('network', 'delete', NET);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^xdpnet: FAILED_PRECONDITION: .*subnet.*\n$/);
    await ok('network', 'show', NET);
  });

  it('port create with a fixed IP and a local binding', async () => {
    const out = await ok(
      'port', 'create', '--id', PORT, '--network', NET, '--mac', 'fa:16:3e:00:00:01',
      '--fixed-ip', `subnet=${SUBNET},ip-address=10.0.0.5`, '--local-interface', 'tap-vm1', '--name', 'vm1',
      '--device-owner', 'compute:nova',
    );
    expect(out).toMatch(new RegExp(`\\| fixed_ips +\\| subnet=${SUBNET},ip-address=10\\.0\\.0\\.5 +\\|`));
    expect(out).toMatch(/\| binding +\| local tap-vm1 +\|/);
    const port = await json('port', 'show', PORT);
    expect(port).toMatchObject({
      macAddress: 'fa:16:3e:00:00:01',
      fixedIps: [{ subnetId: SUBNET, ipAddress: '10.0.0.5' }],
      binding: 'local',
      local: { interfaceName: 'tap-vm1' },
      portSecurityEnabled: true,
      deviceOwner: 'compute:nova',
    });
  });

  it('a multicast MAC is INVALID_ARGUMENT naming mac_address', async () => {
    const r = await xdpnet('port', 'create', '--id', PORT2, '--network', NET, '--mac', '01:00:5e:00:00:01');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^xdpnet: INVALID_ARGUMENT: port\.mac_address: /);
  });

  it('a malformed --fixed-ip is a usage error (exit 2) and nothing is created', async () => {
    const r = await xdpnet('port', 'create', '--id', PORT2, '--network', NET, '--mac', 'fa:16:3e:00:00:02', '--fixed-ip', `subnet=${SUBNET}`);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("option '--fixed-ip <spec>' argument");
    expect(r.stderr).toContain('missing ip-address (expected subnet=SUBNET_ID,ip-address=IP)');
    const show = await xdpnet('port', 'show', PORT2);
    expect(show.code).toBe(1);
    expect(show.stderr).toMatch(/^xdpnet: NOT_FOUND: /);
  });

  it('port list: table with addresses and binding, and JSON filtered by network', async () => {
    const table = await ok('port', 'list');
    expect(table).toMatch(/\| ID +\| Name +\| MAC Address +\| IP Addresses +\| Binding +\| Status +\|/);
    expect(table).toMatch(new RegExp(`\\| ${PORT} \\| vm1 +\\| fa:16:3e:00:00:01 \\| 10\\.0\\.0\\.5 +\\| local tap-vm1 \\|`));
    expect((await json<unknown[]>('port', 'list', '--network', EXT))).toEqual([]);
  });
});

describe('routers and floating IPs', () => {
  it('router create, add-interface (the subnet\'s gateway IP by default)', async () => {
    await ok('router', 'create', '--id', ROUTER, '--name', 'r1');
    const out = await ok('router', 'add-interface', ROUTER, SUBNET);
    expect(out).toMatch(new RegExp(`\\| interfaces +\\| subnet=${SUBNET},ip-address=10\\.0\\.0\\.1 +\\|`));
  });

  it('router set-gateway: SNAT on unless --disable-snat, as Neutron', async () => {
    const r = await json('router', 'set-gateway', ROUTER, '--external-network', EXT, '--ip-address', '203.0.113.10', '--gateway-node', '192.0.2.1');
    expect(r['externalGateway']).toEqual({ networkId: EXT, ipAddress: '203.0.113.10', enableSnat: true, gatewayNodeVtepIp: '192.0.2.1' });
    const table = await ok('router', 'list');
    expect(table).toMatch(new RegExp(`\\| ${ROUTER} \\| r1 +\\| 10\\.0\\.0\\.1 +\\| 203\\.0\\.113\\.10 \\| UP +\\|`));
  });

  it('floatingip create on a port: the daemon fills in the fixed IP and the router', async () => {
    const f = await json('floatingip', 'create', '--id', FIP, '--network', EXT, '--floating-ip-address', '203.0.113.50', '--port', PORT);
    expect(f).toMatchObject({ floatingIpAddress: '203.0.113.50', portId: PORT, fixedIpAddress: '10.0.0.5', routerId: ROUTER });
    const table = await ok('floatingip', 'list');
    expect(table).toMatch(new RegExp(`\\| ${FIP} \\| 203\\.0\\.113\\.50 +\\| 10\\.0\\.0\\.5 +\\| ${PORT} \\| ${EXT} \\|`));
  });

  it('floatingip unset disassociates, set associates again', async () => {
    expect(await json('floatingip', 'unset', FIP)).toMatchObject({ portId: '', fixedIpAddress: '', routerId: '' });
    expect(await json('floatingip', 'set', FIP, '--port', PORT)).toMatchObject({ portId: PORT, fixedIpAddress: '10.0.0.5', routerId: ROUTER });
  });

  it('router set: --route adds, --no-route clears', async () => {
    const added = await json('router', 'set', ROUTER, '--route', 'destination=172.16.0.0/16,gateway=10.0.0.99', '--name', 'r1b');
    expect(added).toMatchObject({ name: 'r1b', routes: [{ destination: '172.16.0.0/16', nexthop: '10.0.0.99' }] });
    const more = await json('router', 'set', ROUTER, '--route', 'destination=172.17.0.0/16,gateway=10.0.0.98');
    expect(more['routes']).toHaveLength(2);
    expect(await json('router', 'set', ROUTER, '--no-route')).toMatchObject({ routes: [] });
  });
});

describe('set', () => {
  it('network set renames and takes it administratively down (status DOWN)', async () => {
    const out = await ok('network', 'set', NET, '--name', 'tenant-renamed', '--disable');
    expect(out).toMatch(/\| name +\| tenant-renamed +\|/);
    expect(out).toMatch(/\| admin_state_up +\| DOWN +\|/);
    await waitForState('network', NET, 'RESOURCE_STATE_DOWN');
    expect(await ok('network', 'list')).toMatch(new RegExp(`\\| ${NET} \\| tenant-renamed \\|.*\\| DOWN +\\| DOWN +\\|`));
    await ok('network', 'set', NET, '--enable');
    await waitForState('network', NET, 'RESOURCE_STATE_ACTIVE');
  });

  it('port set moves the binding (update_mask "binding") and leaves the rest alone', async () => {
    const remote = await json('port', 'set', PORT, '--remote-vtep', '192.0.2.7');
    expect(remote).toMatchObject({ binding: 'remote', remote: { vtepIp: '192.0.2.7' }, name: 'vm1', fixedIps: [{ subnetId: SUBNET, ipAddress: '10.0.0.5' }] });
    expect(remote['local']).toBeUndefined();
    const unbound = await json('port', 'set', PORT, '--unbind');
    expect(unbound['local']).toBeUndefined();
    expect(unbound['remote']).toBeUndefined();
    expect(await ok('port', 'show', PORT, '-o', 'value', '-c', 'binding')).toBe('unbound\n');
    await ok('port', 'set', PORT, '--local-interface', 'tap-vm1');
  });

  it('port set --fixed-ip adds to the list; subnet set --dns-nameserver adds, --no-dns-nameservers clears', async () => {
    const port = await json('port', 'set', PORT, '--fixed-ip', `subnet=${SUBNET},ip-address=10.0.0.6`);
    expect(port['fixedIps']).toEqual([
      { subnetId: SUBNET, ipAddress: '10.0.0.5' },
      { subnetId: SUBNET, ipAddress: '10.0.0.6' },
    ]);
    expect(await json('subnet', 'set', SUBNET, '--dns-nameserver', '192.0.2.54')).toMatchObject({ dnsNameservers: ['192.0.2.53', '192.0.2.54'] });
    expect(await json('subnet', 'set', SUBNET, '--no-dns-nameservers')).toMatchObject({ dnsNameservers: [] });
  });

  it('a refused update changes nothing and says why', async () => {
    const r = await xdpnet('port', 'set', PORT, '--mac', 'ff:ff:ff:ff:ff:ff');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^xdpnet: INVALID_ARGUMENT: port\.mac_address: /);
    expect(await ok('port', 'show', PORT, '-o', 'value', '-c', 'mac_address')).toBe('fa:16:3e:00:00:01\n');
  });
});

describe('delete', () => {
  it('several at once: each failure named, the others still deleted, exit 1', async () => {
    await ok('network', 'create', '--id', NET2, '--segmentation-id', '1002');
    const r = await xdpnet('network', 'delete', NET2, NET);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`xdpnet: network ${NET}: FAILED_PRECONDITION: `);
    expect(r.stderr).toContain('xdpnet: 1 of 2 networks not deleted');
    expect((await xdpnet('network', 'show', NET2)).code).toBe(1);
  });

  it('tears the topology down in dependency order; the lists end empty', async () => {
    await ok('floatingip', 'delete', FIP);
    await ok('router', 'unset-gateway', ROUTER);
    await ok('router', 'remove-interface', ROUTER, SUBNET);
    await ok('router', 'delete', ROUTER);
    await ok('port', 'delete', PORT);
    await ok('subnet', 'delete', SUBNET, EXT_SUBNET);
    expect(await ok('network', 'delete', NET, EXT)).toBe('');
    for (const kind of ['network', 'subnet', 'port', 'router', 'floatingip']) {
      expect(await json<unknown[]>(kind, 'list'), kind).toEqual([]);
    }
    // An empty table still has its header.
    expect(await ok('router', 'list')).toMatch(/^\+-+.*\n\| ID +\| Name/);
  });
});
