// Server reflection from protoc's own descriptors.
//
// @grpc/reflection serves whatever file descriptors it is given. The ones
// proto-loader derives through protobufjs are not the API as written (one
// synthetic file, camelCase field names, map entries that strict clients
// refuse), so we give it the FileDescriptorSet that protoc produced at build
// time (Makefile: PROTOSET), which holds the xdpnet.v1 files and
// grpc.health.v1 exactly as written, comments included.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ReflectionService } from '@grpc/reflection';
import type { PackageDefinition } from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import { REPO_ROOT } from '../dataplane/native.js';

export const PROTOSET_PATH = join(REPO_ROOT, 'build/proto/xdpnet.protoset');

/** The serialized FileDescriptorProtos inside a FileDescriptorSet (field 1, repeated). */
export function fileDescriptorProtos(set: Uint8Array): Buffer[] {
  const reader = protobuf.Reader.create(set);
  const files: Buffer[] = [];
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag >>> 3 === 1 && (tag & 7) === 2) files.push(Buffer.from(reader.bytes()));
    else reader.skipType(tag & 7);
  }
  return files;
}

export function reflectionService(protosetPath: string = PROTOSET_PATH): ReflectionService {
  const files = fileDescriptorProtos(readFileSync(protosetPath));
  if (files.length === 0) throw new Error(`${protosetPath}: no file descriptors (rebuild with make build)`);
  // The reflection service only reads `fileDescriptorProtos` of each entry.
  const definition = { 'xdpnet.protoset': { format: 'Protocol Buffer 3 FileDescriptorSet', type: {}, fileDescriptorProtos: files } };
  return new ReflectionService(definition as unknown as PackageDefinition);
}
