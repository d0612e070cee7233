"""The account's own addresses, discovered at run time so the guard refuses them for every action: a finding's
"remote" address is sometimes one of ours (a NAT gateway, a load balancer, an Elastic IP of another VPC).

What counts: every Elastic IP of the account in the region (attached or not), the public IPv4 and IPv6
addresses of every network interface in the protected VPCs (instances, NAT gateways, load balancers, endpoints
all have one), and the protected VPCs' own CIDR blocks. Cached per container and refreshed after
``max_age_seconds``; a discovery that fails keeps the last good answer and, with none, fails closed.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from typing import Any

from riposte.core.guard import OwnAddresses

# The read-only calls discovery makes (the stack grants them; none supports resource-level permissions).
DISCOVERY_CALLS = (
    "ec2:DescribeAddresses",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeVpcs",
    "ec2:DescribeNetworkAcls",
)


class DiscoveryError(RuntimeError):
    """The account's own addresses could not be read and no earlier answer is known: acting now could block
    one of them, so the action fails (and is retried) instead."""


def _host(address: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(address)


class OwnAddressBook:
    def __init__(
        self,
        ec2: Any,
        *,
        vpc_ids: tuple[str, ...],
        network_acl_ids: tuple[str, ...] = (),
        max_age_seconds: float = 300,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ec2 = ec2
        self._vpc_ids = vpc_ids
        self._acl_ids = network_acl_ids
        self._max_age = max_age_seconds
        self._clock = clock
        self._cached: OwnAddresses | None = None
        self._read_at = 0.0

    def addresses(self) -> OwnAddresses:
        if self._cached is not None and self._clock() - self._read_at < self._max_age:
            return self._cached
        try:
            found = self._discover()
        except Exception as error:
            if self._cached is not None:
                return self._cached  # keep protecting what we knew
            raise DiscoveryError(f"cannot read the account's own addresses: {error}") from error
        self._cached, self._read_at = found, self._clock()
        return found

    def _vpcs(self) -> list[str]:
        vpcs = list(self._vpc_ids)
        if self._acl_ids:
            acls = self._ec2.describe_network_acls(NetworkAclIds=list(self._acl_ids))["NetworkAcls"]
            vpcs += [acl["VpcId"] for acl in acls]
        return sorted(set(vpcs))

    def _discover(self) -> OwnAddresses:
        found: dict[ipaddress.IPv4Network | ipaddress.IPv6Network, str] = {}
        for address in self._ec2.describe_addresses().get("Addresses", []):
            if public := address.get("PublicIp"):
                found.setdefault(_host(public), f"Elastic IP {address.get('AllocationId', public)}")
        vpcs = self._vpcs()
        if not vpcs:
            return tuple(found.items())
        for vpc in self._ec2.describe_vpcs(VpcIds=vpcs)["Vpcs"]:
            for block in vpc.get("CidrBlockAssociationSet", []):
                found.setdefault(_host(block["CidrBlock"]), f"CIDR of {vpc['VpcId']}")
            for block in vpc.get("Ipv6CidrBlockAssociationSet", []):
                if cidr := block.get("Ipv6CidrBlock"):
                    found.setdefault(_host(cidr), f"IPv6 CIDR of {vpc['VpcId']}")
        pages = self._ec2.get_paginator("describe_network_interfaces").paginate(
            Filters=[{"Name": "vpc-id", "Values": vpcs}]
        )
        for page in pages:
            for eni in page["NetworkInterfaces"]:
                what = f"{eni.get('InterfaceType') or 'interface'} {eni['NetworkInterfaceId']}"
                if eni.get("Description"):
                    what += f" ({eni['Description'][:60]})"
                publics = [p.get("Association", {}).get("PublicIp") for p in eni.get("PrivateIpAddresses", [])]
                publics.append(eni.get("Association", {}).get("PublicIp"))
                publics += [a.get("Ipv6Address") for a in eni.get("Ipv6Addresses", [])]
                for public in publics:
                    if public:
                        found.setdefault(_host(public), f"public address of {what}")
        return tuple(found.items())
