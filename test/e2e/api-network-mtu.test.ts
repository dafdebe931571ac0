// A VXLAN network's default MTU is the node's underlay MTU minus the 50 bytes
// of VXLAN headers, resolved when the network is created (or its MTU is reset
// to 0, or it arrives in a Sync) and stored, as Neutron does with
// global_physnet_mtu. Flat/VLAN networks carry no encapsulation: 1500.
// Real daemons (fake dataplane); no root needed.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Api, api, externalNetwork, vxlanNetwork } from '../helpers/api.js';
import { TestDaemon } from '../helpers/daemon.js';

function useDaemon(config: Record<string, unknown>): () => Api {
  let daemon: TestDaemon | undefined;
  let a: Api | undefined;
  beforeAll(async () => {
    daemon = await TestDaemon.start({ config });
    await daemon.waitServing();
    a = api(daemon.client());
  });
  afterAll(async () => {
    await daemon?.cleanup();
  });
  return () => a!;
}

describe('a daemon on a jumbo-frame underlay (underlay_mtu: 9000)', () => {
  const a = useDaemon({ underlay_mtu: 9000 });

  it('gives a VXLAN network created with mtu 0 an MTU of 8950, and stores it', async () => {
    const created = await a().createNetwork(vxlanNetwork({ mtu: 0 }));
    expect(created.mtu).toBe(8950);
    expect((await a().getNetwork(created.id)).mtu).toBe(8950);
  });

  it('keeps an MTU that was asked for', async () => {
    expect((await a().createNetwork(vxlanNetwork({ mtu: 1400 }))).mtu).toBe(1400);
  });

  it('resolves mtu 0 in an update to the default again', async () => {
    const created = await a().createNetwork(vxlanNetwork({ mtu: 1400 }));
    const updated = await a().updateNetwork({ id: created.id, mtu: 0 }, ['mtu']);
    expect(updated.mtu).toBe(8950);
  });

  it('resolves mtu 0 in a Sync', async () => {
    const net = vxlanNetwork({ mtu: 0 });
    await a().sync({ networks: [net] });
    expect((await a().getNetwork(net.id!)).mtu).toBe(8950);
  });

  it('gives a flat network 1500: no encapsulation', async () => {
    expect((await a().createNetwork(externalNetwork({ mtu: 0 }))).mtu).toBe(1500);
  });
});

describe('a daemon with the default underlay MTU (fake dataplane: 1500)', () => {
  const a = useDaemon({});

  it('gives a VXLAN network 1450', async () => {
    expect((await a().createNetwork(vxlanNetwork({ mtu: 0 }))).mtu).toBe(1450);
  });
});
