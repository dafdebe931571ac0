// `xdpnet sync FILE`: the file (snake_case, JSON or YAML) → SyncRequest,
// strictly, because a sync deletes whatever the file does not mention.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CliError } from '../../src/cli/errors.js';
import { readSyncFile, syncRequestFromDocument, toCamel, toSnake } from '../../src/cli/sync-file.js';

const NET = '11111111-1111-4111-8111-111111111111';
const SUBNET = '22222222-2222-4222-8222-222222222222';

const dir = mkdtempSync(join(tmpdir(), 'xdpnet-cli-sync-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('names', () => {
  it('snake_case ↔ camelCase', () => {
    expect(toCamel('floating_ip_address')).toBe('floatingIpAddress');
    expect(toCamel('alreadyCamel')).toBe('alreadyCamel');
    expect(toSnake('gatewayNodeVtepIp')).toBe('gateway_node_vtep_ip');
  });
});

describe('syncRequestFromDocument', () => {
  it('maps every level of snake_case to the camelCase the client sends', () => {
    const request = syncRequestFromDocument({
      networks: [{ id: NET, type: 'vxlan', segmentation_id: 7, admin_state_up: false }],
      subnets: [{ id: SUBNET, network_id: NET, cidr: '10.0.0.0/24', host_routes: [{ destination: '10.9.0.0/16', nexthop: '10.0.0.9' }] }],
      ports: [
        {
          id: 'p',
          network_id: NET,
          mac_address: 'fa:16:3e:00:00:01',
          fixed_ips: [{ subnet_id: SUBNET, ip_address: '10.0.0.5' }],
          remote: { vtep_ip: '192.0.2.2' },
          port_security_enabled: false,
        },
      ],
      routers: [{ id: 'r', external_gateway: { network_id: 'e', ip_address: '203.0.113.2', enable_snat: true, gateway_node_vtep_ip: '192.0.2.9' } }],
      floating_ips: [{ id: 'f', floating_network_id: 'e', floating_ip_address: '203.0.113.9', port_id: 'p' }],
    });
    expect(request).toEqual({
      networks: [{ id: NET, type: 'NETWORK_TYPE_VXLAN', segmentationId: 7, adminStateUp: false }],
      subnets: [{ id: SUBNET, networkId: NET, cidr: '10.0.0.0/24', hostRoutes: [{ destination: '10.9.0.0/16', nexthop: '10.0.0.9' }] }],
      ports: [
        {
          id: 'p',
          networkId: NET,
          macAddress: 'fa:16:3e:00:00:01',
          fixedIps: [{ subnetId: SUBNET, ipAddress: '10.0.0.5' }],
          remote: { vtepIp: '192.0.2.2' },
          portSecurityEnabled: false,
        },
      ],
      routers: [{ id: 'r', externalGateway: { networkId: 'e', ipAddress: '203.0.113.2', enableSnat: true, gatewayNodeVtepIp: '192.0.2.9' } }],
      floatingIps: [{ id: 'f', floatingNetworkId: 'e', floatingIpAddress: '203.0.113.9', portId: 'p' }],
    });
  });

  it('takes enum values in full or short, in any case', () => {
    const types = ['NETWORK_TYPE_FLAT', 'flat', 'FLAT'].map(
      (type) => syncRequestFromDocument({ networks: [{ id: NET, type }] }).networks?.[0]?.type,
    );
    expect(types).toEqual(['NETWORK_TYPE_FLAT', 'NETWORK_TYPE_FLAT', 'NETWORK_TYPE_FLAT']);
  });

  it('takes what `-o json` prints back: camelCase, output-only fields, the oneof name', () => {
    const exported = {
      id: 'p',
      networkId: NET,
      binding: 'local',
      local: { interfaceName: 'tap0' },
      _adminStateUp: 'adminStateUp',
      adminStateUp: true,
      revision: '12',
      status: { state: 'RESOURCE_STATE_ACTIVE', code: '', message: '', revision: '12' },
    };
    expect(syncRequestFromDocument({ ports: [exported] }).ports?.[0]).toEqual({
      id: 'p',
      networkId: NET,
      local: { interfaceName: 'tap0' },
      adminStateUp: true,
      revision: '12',
      status: { state: 'RESOURCE_STATE_ACTIVE', code: '', message: '', revision: '12' },
    });
  });

  it('treats `key:` with no value as absent', () => {
    expect(syncRequestFromDocument({ networks: null, subnets: [{ id: SUBNET, name: null }] })).toEqual({ subnets: [{ id: SUBNET }] });
  });

  it.each([
    [{ netwroks: [] }, 'netwroks: unknown field of SyncRequest (fields: networks, subnets, ports, routers, floating_ips)'],
    [{ ports: [{ id: 'p', mac_adress: 'x' }] }, 'ports[0].mac_adress: unknown field of Port'],
    [{ ports: [{ id: 'p', fixed_ips: [{ subnet_id: SUBNET, ip_address: 10.5 }] }] }, 'ports[0].fixed_ips[0].ip_address: expected a string, got number 10.5 (quote it)'],
    [{ networks: [{ id: NET, mtu: 'big' }] }, 'networks[0].mtu: expected a whole number 0..4294967295, got string "big"'],
    [{ networks: [{ id: NET, mtu: -1 }] }, 'networks[0].mtu: expected a whole number'],
    [{ networks: [{ id: NET, external: 'yes' }] }, 'networks[0].external: expected true or false, got string "yes"'],
    [{ networks: [{ id: NET, type: 'geneve' }] }, 'networks[0].type: expected one of unspecified, vxlan, flat, vlan'],
    [{ networks: { id: NET } }, 'networks: expected a list, got a mapping'],
    [{ networks: ['x'] }, 'networks[0]: expected a mapping (a Network), got string "x"'],
    [['x'], 'the document: expected a mapping (a SyncRequest), got a list'],
    [{ networks: [{ id: NET, network_id: 'x' }] }, 'networks[0].network_id: unknown field of Network'],
    [{ networks: [{ id: NET, segmentation_id: 1, segmentationId: 2 }] }, 'networks[0].segmentation_id: given twice'],
  ])('refuses %j', (document, message) => {
    expect(() => syncRequestFromDocument(document)).toThrow(message);
  });
});

describe('readSyncFile', () => {
  it('reads YAML and JSON', () => {
    const yaml = file('s.yaml', `networks:\n  - id: ${NET}\n    segmentation_id: 5\n    mtu: 1400\n`);
    const json = file('s.json', JSON.stringify({ networks: [{ id: NET, segmentation_id: 5, mtu: 1400 }] }));
    const expected = { networks: [{ id: NET, segmentationId: 5, mtu: 1400 }] };
    expect(readSyncFile(yaml)).toEqual(expected);
    expect(readSyncFile(json)).toEqual(expected);
  });

  it('keeps MACs strings in YAML (1.2 has no sexagesimal numbers)', () => {
    const path = file('mac.yaml', 'ports:\n  - { id: p, mac_address: 00:11:22:33:44:55 }\n');
    expect(readSyncFile(path).ports?.[0]?.macAddress).toBe('00:11:22:33:44:55');
  });

  it('reads stdin for -', () => {
    expect(readSyncFile('-', () => '{"routers": []}')).toEqual({ routers: [] });
  });

  it('refuses an empty file (it would delete everything), accepts an explicit {}', () => {
    expect(() => readSyncFile(file('empty.yaml', ''))).toThrow(/empty\.yaml is empty: syncing it would delete every resource/);
    expect(() => readSyncFile(file('comment.yaml', '# nothing\n'))).toThrow(/is empty/);
    expect(readSyncFile(file('braces.yaml', '{}'))).toEqual({});
  });

  it('names the file in every failure', () => {
    expect(() => readSyncFile(join(dir, 'missing.yaml'))).toThrow(CliError);
    expect(() => readSyncFile(join(dir, 'missing.yaml'))).toThrow(/cannot read .*missing\.yaml: ENOENT/);
    expect(() => readSyncFile(file('broken.yaml', 'networks: [\n'))).toThrow(/broken\.yaml: not valid JSON or YAML: .*line 2/s);
    expect(() => readSyncFile(file('typo.yaml', 'networks:\n  - { idd: x }\n'))).toThrow(/typo\.yaml: networks\[0\]\.idd: unknown field/);
  });
});
