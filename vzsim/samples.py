"""Stock files of an OpenVZ host: vz.conf and the ve-*.conf-sample configs (openvz-tools.md §3.2,
§3.4)."""

from __future__ import annotations

SAMPLE_HEADER = """\
# Copyright (C) 2000-2013, Parallels, Inc. All rights reserved.
#
# This program is free software; you can redistribute it and/or modify
# it under the terms of the GNU General Public License as published by
# the Free Software Foundation; either version 2 of the License, or
# (at your option) any later version.
#
"""


def vz_conf(legacy: bool) -> str:
    configfile = "vps.basic" if legacy else "vswap-256m"
    def_ostemplate = "fedora-core-4" if legacy else "centos-6-x86"
    modern_extra = (
        ""
        if legacy
        else """
## Defaults for containers
VE_LAYOUT=simfs
STOP_TIMEOUT=120
VE_STOP_MODE=suspend
NAMESERVER=inherit
"""
    )
    return f"""\
## Global parameters
VIRTUOZZO=yes
LOCKDIR=/vz/lock
DUMPDIR=/vz/dump
VE0CPUUNITS=1000

## Logging parameters
LOGGING=yes
LOGFILE=/var/log/vzctl.log
LOG_LEVEL=0
VERBOSE=0

## Disk quota parameters
DISK_QUOTA=yes
VZFASTBOOT=no

# Disable module loading. If set, vz initscript do not load any modules.
#MODULES_DISABLED=yes

# The name of the device whose IP address will be used as source IP for CT.
# By default automatically assigned.
#VE_ROUTE_SRC_DEV="eth0"

# Controls which interfaces to send ARP requests and modify ARP tables on.
{"NEIGHBOUR_DEVS=detect" if legacy else "#NEIGHBOUR_DEVS=detect"}

## Fail if there is another machine in the network with the same IP
ERROR_ON_ARPFAIL="no"

## Template parameters
TEMPLATE=/vz/template

## Defaults for containers
VE_ROOT=/vz/root/$VEID
VE_PRIVATE=/vz/private/$VEID
CONFIGFILE="{configfile}"
DEF_OSTEMPLATE="{def_ostemplate}"
{modern_extra}
## Load vzwdog module
VZWDOG="no"

## IPv4 iptables kernel modules
IPTABLES="ipt_REJECT ipt_tos ipt_limit ipt_multiport iptable_filter iptable_mangle ipt_TCPMSS \
ipt_tcpmss ipt_ttl ipt_length"

## Enable IPv6
IPV6="{"no" if legacy else "yes"}"

## IPv6 ip6tables kernel modules
IP6TABLES="ip6_tables ip6table_filter ip6table_mangle ip6t_REJECT"
"""


def _ubc_block(legacy: bool, light: bool) -> str:
    unlimited = "2147483647" if legacy else "unlimited"
    if light:
        values = [
            ("KMEMSIZE", "4194304:4718592"),
            ("LOCKEDPAGES", "64:64"),
            ("PRIVVMPAGES", "16384:18432"),
            ("SHMPAGES", "4096:4096"),
            ("NUMPROC", "64:64"),
            ("PHYSPAGES", f"0:{unlimited}"),
            ("VMGUARPAGES", f"6144:{unlimited}"),
            ("OOMGUARPAGES", f"6144:{unlimited}"),
            ("NUMTCPSOCK", "64:64"),
            ("NUMFLOCK", "32:35"),
            ("NUMPTY", "8:8"),
            ("NUMSIGINFO", "128:128"),
            ("TCPSNDBUF", "524288:786432"),
            ("TCPRCVBUF", "524288:786432"),
            ("OTHERSOCKBUF", "131072:393216"),
            ("DGRAMRCVBUF", "131072:131072"),
            ("NUMOTHERSOCK", "64:64"),
            ("DCACHESIZE", "1048576:1097728"),
            ("NUMFILE", "1024:1024"),
            ("AVNUMPROC", "32:32"),
            ("NUMIPTENT", "32:32"),
        ]
    else:
        values = [
            ("KMEMSIZE", "11055923:11377049" if legacy else "14372700:14790164"),
            ("LOCKEDPAGES", "256:256"),
            ("PRIVVMPAGES", "65536:69632"),
            ("SHMPAGES", "21504:21504"),
            ("NUMPROC", "240:240"),
            ("PHYSPAGES", f"0:{unlimited}"),
            ("VMGUARPAGES", f"33792:{unlimited}"),
            ("OOMGUARPAGES", f"26112:{unlimited}"),
            ("NUMTCPSOCK", "360:360"),
            ("NUMFLOCK", "188:206"),
            ("NUMPTY", "16:16"),
            ("NUMSIGINFO", "256:256"),
            ("TCPSNDBUF", "1720320:2703360"),
            ("TCPRCVBUF", "1720320:2703360"),
            ("OTHERSOCKBUF", "1126080:2097152"),
            ("DGRAMRCVBUF", "262144:262144"),
            ("NUMOTHERSOCK", "360:360"),
            ("DCACHESIZE", "3409920:3624960"),
            ("NUMFILE", "9312:9312"),
            ("AVNUMPROC", "180:180"),
            ("NUMIPTENT", "128:128"),
        ]
    return "".join(f'{key}="{value}"\n' for key, value in values)


def _disk_block(legacy: bool, light: bool) -> str:
    if legacy:
        space, inodes = "1048576:1153024", "200000:220000"
    else:
        space, inodes = ("1G:1.1G", "65536:72089") if light else ("2G:2.2G", "131072:144179")
    return (
        "# Disk quota parameters (in form of softlimit:hardlimit)\n"
        f'DISKSPACE="{space}"\nDISKINODES="{inodes}"\nQUOTATIME="0"\n'
    )


def ubc_sample(legacy: bool, light: bool) -> str:
    onboot = 'ONBOOT="yes"\n\n' if legacy else ""
    cpu_units = "250" if light else "1000"
    netfilter = "" if legacy else 'NETFILTER="stateless"\n'
    return (
        f"{SAMPLE_HEADER}\n{onboot}# UBC parameters (in form of barrier:limit)\n"
        f"{_ubc_block(legacy, light)}\n{_disk_block(legacy, light)}\n"
        f'# CPU fair scheduler parameter\nCPUUNITS="{cpu_units}"\n{netfilter}'
    )


VSWAP_SIZES = {
    "vswap-256m": ("256M", "512M"),
    "vswap-512m": ("512M", "1G"),
    "vswap-1024m": ("1G", "2G"),
    "vswap-1g": ("1G", "2G"),
    "vswap-2g": ("2G", "4G"),
    "vswap-4g": ("4G", "8G"),
}


def vswap_sample(ram: str, swap: str) -> str:
    return (
        f'{SAMPLE_HEADER}\n# RAM\nPHYSPAGES="0:{ram}"\n\n# Swap\nSWAPPAGES="0:{swap}"\n\n'
        f'{_disk_block(False, False)}\n# CPU fair scheduler parameter\nCPUUNITS="1000"\n'
        'NETFILTER="stateless"\n'
    )


def sample_configs(legacy: bool) -> dict[str, str]:
    """File name under /etc/vz/conf -> content."""
    if legacy:
        return {
            "ve-vps.basic.conf-sample": ubc_sample(True, False),
            "ve-light.conf-sample": ubc_sample(True, True),
        }
    samples = {
        "ve-basic.conf-sample": ubc_sample(False, False),
        "ve-light.conf-sample": ubc_sample(False, True),
    }
    for name, (ram, swap) in VSWAP_SIZES.items():
        samples[f"ve-{name}.conf-sample"] = vswap_sample(ram, swap)
    return samples


VZNET_CONF = 'EXTERNAL_SCRIPT="/usr/sbin/vznetaddbr"\n'
