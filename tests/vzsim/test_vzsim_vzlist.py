"""vzlist: the exact default layout, libvirt's invocations, selection, JSON, errors."""

from __future__ import annotations

import json

from tests.vzsim.vzsim_harness import SimHost

HEADER = "      CTID      NPROC STATUS    IP_ADDR         HOSTNAME\n"


def _three_cts(host: SimHost) -> None:
    host.create(
        101, "--ipadd", "10.0.0.101", "--ipadd", "10.0.0.102", "--hostname", "ct101.example.com"
    )
    host.create(102, "--ipadd", "10.0.0.103")
    host.create(103, "--hostname", "ct103")
    host.vzctl("start", "101")
    host.vzctl("mount", "103")


def test_default_layout_and_all(host: SimHost) -> None:
    _three_cts(host)
    nproc = 8 + 101 % 17
    assert host.vzlist().stdout == HEADER + (
        f"       101 {nproc:>10} running   10.0.0.101      ct101.example.com\n"
    )
    listing = host.vzlist("-a")
    assert listing.returncode == 0
    assert listing.stdout == HEADER + (
        f"       101 {nproc:>10} running   10.0.0.101      ct101.example.com\n"
        "       102          - stopped   10.0.0.103      -\n"
        "       103          - mounted   -               ct103\n"
    )
    assert host.vzlist("-S", "-H", "-o", "ctid").stdout == "       102\n       103\n"
    assert host.vzlist("-a", "-o", "ctid,ip").stdout == (
        "      CTID IP_ADDR\n"
        "       101 10.0.0.101 10.0.0.102\n"
        "       102 10.0.0.103\n"
        "       103 -\n"
    )


def test_libvirt_invocations(host: SimHost) -> None:
    _three_cts(host)
    assert host.vzlist("-a", "-ovpsid,status", "-H").stdout == (
        "       101 running\n       102 stopped\n       103 mounted\n"
    )
    assert host.vzlist("-ovpsid", "-H").stdout == "       101\n"
    assert host.vzlist("-ovpsid", "-H", "-S").stdout == "       102\n       103\n"
    assert host.vzlist("101", "-ostatus", "-H").stdout == "running\n"
    assert host.vzlist("-o", "hostname", "102", "-H").stdout == "-\n"
    assert host.vzlist("--no-header", "-oprivvmpages.b,privvmpages.l", "102").stdout == (
        "         -          -\n"
    )
    assert host.vzlist("--no-header", "-ophyspages.b,physpages.l", "102").stdout == (
        "         0      65536\n"
    )
    assert host.vzlist("-1", "-a").stdout == "       101\n       102\n       103\n"


def test_not_found_rules(host: SimHost) -> None:
    empty = host.vzlist()
    assert (empty.returncode, empty.stdout, empty.stderr) == (0, "", "Container(s) not found\n")
    host.create(101)
    missing = host.vzlist("555")
    assert (missing.returncode, missing.stderr) == (1, "Container(s) not found\n")
    invalid = host.vzlist("nosuch")
    assert (invalid.returncode, invalid.stderr) == (1, "CT ID nosuch is invalid.\n")
    field = host.vzlist("-o", "bogus")
    assert (field.returncode, field.stderr) == (1, "Unknown field: bogus\n")
    sort = host.vzlist("-a", "-s", "bogus")
    assert (sort.returncode, sort.stderr) == (1, "Invalid sort field name: bogus\n")


def test_private_area_missing_hides_stopped_ct(host: SimHost) -> None:
    host.create(101)
    host.path("/vz/private/101").rename(host.path("/vz/private/gone"))
    assert host.vzlist("-a").stderr == "Container(s) not found\n"


def test_sort_filter_and_names(host: SimHost) -> None:
    host.create(101, "--hostname", "b.example.com")
    host.create(102, "--hostname", "a.example.com", "--name", "web1")
    assert host.vzlist("-a", "-H", "-o", "ctid", "-s", "hostname").stdout == (
        "       102\n       101\n"
    )
    assert host.vzlist("-a", "-H", "-o", "ctid", "-s", "-ctid").stdout == (
        "       102\n       101\n"
    )
    assert host.vzlist("-a", "-H", "-o", "ctid", "-h", "b.*").stdout == "       101\n"
    assert host.vzlist("-a", "-H", "-o", "ctid", "-N", "web*").stdout == "       102\n"
    assert host.vzlist("-a", "-n").stdout == (
        " SMARTNAME      NPROC STATUS    IP_ADDR         HOSTNAME\n"
        "       101          - stopped   -               b.example.com\n"
        "      web1          - stopped   -               a.example.com\n"
    )


def test_long_values_are_cut_unless_last(host: SimHost) -> None:
    long_name = "h" * 40
    host.create(101, "--hostname", long_name)
    assert host.vzlist("-a", "-H", "-o", "hostname,ctid").stdout == "h" * 32 + "        101\n"
    assert host.vzlist("-a", "-H", "-t", "-o", "hostname,ctid").stdout == (
        long_name + "        101\n"
    )
    assert host.vzlist("-a", "-H", "-o", "ctid,hostname").stdout == f"       101 {long_name}\n"


def test_json_output(host: SimHost) -> None:
    host.create(101, "--ipadd", "10.0.0.101", "--hostname", "ct101.example.com")
    host.vzctl("set", "101", "--kmemsize", "14372700:14790164", "--onboot", "yes", "--save")
    host.vzctl("start", "101")
    result = host.vzlist("-j", "-o", "ctid,status,ip,hostname,kmemsize,onboot", "101")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[:6] == [
        "[",
        "  {",
        '    "ctid": 101,',
        '    "status": "running",',
        '    "ip": ["10.0.0.101"],',
        '    "hostname": "ct101.example.com",',
    ]
    assert lines[6] == '    "kmemsize": {'
    assert lines[9:12] == [
        '      "barrier": 14372700,',
        '      "limit": 14790164,',
        '      "failcnt": 0',
    ]
    assert lines[12:] == ["    },", '    "onboot": true', "  }", "]"]
    data = json.loads(result.stdout)
    assert data[0]["kmemsize"]["held"] > 0
    full = json.loads(host.vzlist("-j", "-a").stdout)
    assert list(full[0])[:4] == ["ctid", "veid", "vpsid", "private"]
    assert full[0]["private"] == "/vz/private/101"
    bad = host.vzlist("-j", "-o", "kmemsize.b")
    assert (bad.returncode, bad.stderr) == (
        1,
        "Field 'kmemsize.b' is not available in JSON output\n",
    )


def test_list_fields(host: SimHost) -> None:
    lines = host.vzlist("-L").stdout.splitlines()
    assert lines[0] == "ctid            CTID"
    assert "status          STATUS" in lines
    assert "kmemsize        KMEMSIZE" in lines


def test_legacy_layout(legacy_host: SimHost) -> None:
    legacy_host.create(101, "--hostname", "ct101")
    listing = legacy_host.vzlist("-a")
    assert listing.stdout == (
        "      CTID      NPROC STATUS  IP_ADDR         HOSTNAME                        \n"
        "       101          - stopped -               ct101                           \n"
    )
    assert legacy_host.vzlist("-j").returncode == 1
    empty = legacy_host.vzlist()
    assert (empty.returncode, empty.stderr) == (1, "Container(s) not found\n")
