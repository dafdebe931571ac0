// Shorthands for building Rejections with the codes this model uses:
//
//   INVALID_ARGUMENT     the request is wrong in itself (syntax, range, shape) or
//                        does not fit the resource it names (an IP outside the
//                        named subnet, a fixed IP the port does not have)
//   NOT_FOUND            a resource the request names (its own id or a reference) does not exist
//   ALREADY_EXISTS       the request claims something another resource already holds:
//                        an id, a VNI, a (physnet, VLAN), a flat physnet, a MAC in a
//                        network, an IP in a subnet, address space in a network, an
//                        interface name, a subnet's router attachment, a fixed IP's
//                        floating IP
//   FAILED_PRECONDITION  the state of other resources forbids it: deleting or
//                        detaching what something still uses, a network that is not
//                        (or no longer may be) external, an unreachable floating network

import { Rejection } from './types.js';

export const invalid = (field: string, reason: string): Rejection => new Rejection('INVALID_ARGUMENT', field, reason);
export const notFound = (field: string, reason: string): Rejection => new Rejection('NOT_FOUND', field, reason);
export const taken = (field: string, reason: string): Rejection => new Rejection('ALREADY_EXISTS', field, reason);
export const precondition = (field: string, reason: string): Rejection => new Rejection('FAILED_PRECONDITION', field, reason);
