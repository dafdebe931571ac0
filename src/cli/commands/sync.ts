// xdpnet sync FILE: replace the whole desired state with the file's.

import type { Command } from 'commander';
import type * as pb from '../../gen/proto/xdpnet/v1/index.js';
import type { Column } from '../output.js';
import { action, type Io } from '../session.js';
import { readSyncFile } from '../sync-file.js';

export const SYNC_VIEW: Column<pb.SyncResponse__Output>[] = [
  { key: 'created', get: (r) => String(r.created) },
  { key: 'updated', get: (r) => String(r.updated) },
  { key: 'deleted', get: (r) => String(r.deleted) },
  { key: 'unchanged', get: (r) => String(r.unchanged) },
  { key: 'revision', get: (r) => r.revision },
];

export function syncCommand(io: Io, program: Command, readStdin?: () => string): void {
  program
    .command('sync')
    .description('Replace the whole desired state with FILE (resources not in it are DELETED); prints what changed')
    .argument('<file>', 'JSON or YAML shaped like SyncRequest: networks, subnets, ports, routers, floating_ips (snake_case); - for stdin')
    .addHelpText(
      'after',
      `
Example FILE:
  networks:
    - { id: 0b6c2f6e-0000-4000-8000-000000000001, name: net1, type: vxlan, segmentation_id: 1001 }
  subnets:
    - { id: 0b6c2f6e-0000-4000-8000-000000000002, network_id: 0b6c2f6e-0000-4000-8000-000000000001, cidr: 10.0.0.0/24 }
  ports:
    - id: 0b6c2f6e-0000-4000-8000-000000000003
      network_id: 0b6c2f6e-0000-4000-8000-000000000001
      mac_address: "fa:16:3e:00:00:01"
      fixed_ips: [{ subnet_id: 0b6c2f6e-0000-4000-8000-000000000002, ip_address: 10.0.0.5 }]
      local: { interface_name: tap0 }

The file is checked field by field before anything is sent; the daemon then
validates it as a whole and changes nothing if any of it is refused.`,
    )
    .action(
      action(io, async (s, file: string) => {
        const out = s.printer(SYNC_VIEW);
        const request = readSyncFile(file, readStdin);
        out.show(await s.call<pb.SyncResponse__Output>((o, cb) => s.client.sync(request, o, cb)));
      }),
    );
}
