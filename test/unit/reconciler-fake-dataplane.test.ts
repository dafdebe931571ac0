// FakeDataplane keeps the Dataplane contract the reconciler relies on
// (idempotence, capacity, unsupported tables) and its test hooks behave.
import { describe, expect, it } from 'vitest';
import { DataplaneError } from '../../src/reconciler/dataplane.js';
import { FakeDataplane } from '../../src/reconciler/fake-dataplane.js';

const key = (n: number) => ({ vni: 1, ipAddress: `10.0.0.${n}` });
const value = (n: number) => ({ macAddress: `fa:16:3e:00:00:0${n}` });

describe('FakeDataplane', () => {
  it('upsert and delete are idempotent; deleting an absent key succeeds', async () => {
    const dp = new FakeDataplane();
    await dp.upsert('arp', key(1), value(1));
    await dp.upsert('arp', key(1), value(1));
    await dp.upsert('arp', key(1), value(2));
    expect(await dp.list('arp')).toEqual([{ key: key(1), value: value(2) }]);
    await dp.delete('arp', key(1));
    await dp.delete('arp', key(1));
    expect(dp.size('arp')).toBe(0);
  });

  it('a full table refuses new keys with RESOURCE_EXHAUSTED but still updates existing ones', async () => {
    const dp = new FakeDataplane({ capacity: { arp: 1 } });
    await dp.upsert('arp', key(1), value(1));
    const err = await dp.upsert('arp', key(2), value(2)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataplaneError);
    expect(err).toMatchObject({ code: 'RESOURCE_EXHAUSTED', message: 'arp is full (1 entries)' });
    await dp.upsert('arp', key(1), value(3));
    expect(dp.get('arp', '1/10.0.0.1')).toEqual(value(3));
    dp.setCapacity('arp', undefined);
    await dp.upsert('arp', key(2), value(2));
    expect(dp.keys('arp')).toEqual(['1/10.0.0.1', '1/10.0.0.2']);
  });

  it('an unsupported table says so in supports() and rejects operations with UNIMPLEMENTED', async () => {
    const dp = new FakeDataplane({ unsupported: { providerPorts: 'no provider networks here' } });
    expect(dp.supports('providerPorts')).toEqual({ code: 'UNIMPLEMENTED', message: 'no provider networks here' });
    expect(dp.supports('fdb')).toBe(true);
    await expect(dp.list('providerPorts')).rejects.toMatchObject({ code: 'UNIMPLEMENTED' });
    dp.setUnsupported('providerPorts', null);
    expect(dp.supports('providerPorts')).toBe(true);
  });

  it('logs the calls made to it, not the tampering; hands out copies', async () => {
    const dp = new FakeDataplane();
    dp.setFailure('arp', new Error('boom'));
    await expect(dp.upsert('arp', key(1), value(1))).rejects.toThrow('boom');
    dp.setFailure('arp', null);
    const v = value(1);
    await dp.upsert('arp', key(1), v);
    v.macAddress = 'changed';
    dp.tamperInsert('arp', key(2), value(2));
    dp.tamperDelete('arp', key(1));
    await dp.list('arp');
    expect(dp.ops).toEqual([
      { op: 'upsert', table: 'arp', key: '1/10.0.0.1', ok: false },
      { op: 'upsert', table: 'arp', key: '1/10.0.0.1', ok: true },
      { op: 'list', table: 'arp', ok: true },
    ]);
    const [listed] = await dp.list('arp');
    listed!.value.macAddress = 'changed';
    expect(dp.get('arp', '1/10.0.0.2')).toEqual(value(2));
  });
});

describe('FakeDataplane copies', () => {
  it('stores a copy: changing a value (or its arrays and objects) after upsert changes nothing stored', async () => {
    const dp = new FakeDataplane();
    const value = { remoteVteps: ['192.0.2.2'], localInterfaces: ['tap1', 'tap2'] };
    const key = { vni: 7 };
    await dp.upsert('floodList', key, value);
    value.localInterfaces.push('tap3');
    value.remoteVteps[0] = 'changed';
    key.vni = 8;
    expect(dp.get('floodList', '7')).toEqual({ remoteVteps: ['192.0.2.2'], localInterfaces: ['tap1', 'tap2'] });
    const port = { portId: 'p', vni: 1, macAddress: 'm', ipAddresses: ['10.0.0.1'], portSecurityEnabled: true, allowedAddressPairs: [{ cidr: '10.0.0.2/32', macAddress: 'm' }], adminStateUp: true };
    await dp.upsert('localPorts', { interfaceName: 'tap1' }, port);
    port.allowedAddressPairs[0]!.cidr = 'changed';
    expect(dp.get('localPorts', 'tap1')?.allowedAddressPairs).toEqual([{ cidr: '10.0.0.2/32', macAddress: 'm' }]);
    const [listed] = await dp.list('floodList');
    listed!.value.localInterfaces.push('x');
    expect(dp.get('floodList', '7')?.localInterfaces).toEqual(['tap1', 'tap2']);
  });
});
