// The rules, one module per kind (rules/), gathered here. Each check throws a
// Rejection naming the field and changes nothing; codes are explained in
// reject.ts. Checks run against a ResourceIndex that does not contain the
// change yet (on update it contains the previous version, which the checks
// recognise as "self").

export { checkNetwork, MAX_MTU, MAX_VLAN_ID, MAX_VNI, MIN_MTU } from './rules/network.js';
export { checkSubnet, MAX_SUBNET_PREFIX } from './rules/subnet.js';
export { checkPort } from './rules/port.js';
export { checkExternalGateway, checkInterface, checkRouter, checkRoutes, type InterfaceFields } from './rules/router.js';
export { checkFloatingIp } from './rules/floating-ip.js';
export {
  checkGatewayNotRelied,
  checkInterfaceRemovable,
  checkNetworkDeletable,
  checkPortDeletable,
  checkRouterDeletable,
  checkSubnetDeletable,
} from './rules/in-use.js';
