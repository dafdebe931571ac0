// Proto → model conversion details that are API contract.
import { describe, expect, it } from 'vitest';
import { gatewayFromPb, networkFromPb, subnetFromPb } from '../../src/api/convert.js';
import type * as pb from '../../src/gen/proto/xdpnet/v1/index.js';
import { Rejection } from '../../src/model/types.js';

describe('api conversion', () => {
  const gateway = { networkId: 'n', ipAddress: '203.0.113.2', gatewayNodeVtepIp: '192.0.2.10' };

  it('enable_snat defaults to true when absent, as in Neutron, and false stays false', () => {
    expect(gatewayFromPb(gateway as pb.ExternalGateway__Output).enableSnat).toBe(true);
    expect(gatewayFromPb({ ...gateway, enableSnat: false } as pb.ExternalGateway__Output).enableSnat).toBe(false);
  });

  it('names the Sync path of a refused message', () => {
    const subnet = { id: 's', name: '', networkId: 'n', cidr: '10.0.0.0/24', gatewayIp: '10.0.0.1', noGateway: true } as pb.Subnet__Output;
    expect(() => subnetFromPb(subnet, 'subnets[2]')).toThrow(new Rejection('INVALID_ARGUMENT', 'subnets[2].gateway_ip', 'must be empty when no_gateway is set'));
    expect(() => networkFromPb({ type: 'NETWORK_TYPE_GRE' } as unknown as pb.Network__Output, 'networks[1]')).toThrow(/^networks\[1\]\.type: /);
  });
});
