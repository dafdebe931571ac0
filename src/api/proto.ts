// Loads the xdpnet.v1 package definition from proto/ at run time, with the
// same options the TypeScript types in src/gen/proto were generated with
// (Makefile: proto-loader-gen-types), so values match their types exactly.

import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { REPO_ROOT } from '../dataplane/native.js';
import type { ProtoGrpcType } from '../gen/proto/service.js';

export const PROTO_DIR = join(REPO_ROOT, 'proto');
export const SERVICE_PROTO = 'xdpnet/v1/service.proto';
export const SERVICE_NAME = 'xdpnet.v1.XdpNet';

export const LOADER_OPTIONS: protoLoader.Options = {
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

let cached: protoLoader.PackageDefinition | undefined;

export function packageDefinition(): protoLoader.PackageDefinition {
  cached ??= protoLoader.loadSync(SERVICE_PROTO, LOADER_OPTIONS);
  return cached;
}

let cachedPackage: ProtoGrpcType | undefined;

/** The service and client constructors; built once (server start and every client use them). */
export function grpcPackage(): ProtoGrpcType {
  cachedPackage ??= grpc.loadPackageDefinition(packageDefinition()) as unknown as ProtoGrpcType;
  return cachedPackage;
}
