"""vzctl set: the exact CTID.conf writes and the running/stopped/--save outcomes (openvz-tools.md
§1.3-1.4)."""

from __future__ import annotations

from tests.vzsim.vzsim_harness import SimHost

SAVED = "CT configuration saved to /etc/vz/conf/101.conf\n"


def _keys(host: SimHost, ctid: int = 101) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in host.conf(ctid).splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            values.setdefault(key, value)
    return values


def test_save_on_stopped_ct_writes_quoted_values(host: SimHost) -> None:
    host.create(101)
    result = host.vzctl(
        "set",
        "101",
        "--onboot",
        "yes",
        "--cpus",
        "2",
        "--cpuunits",
        "2000",
        "--cpulimit",
        "50",
        "--kmemsize",
        "2G",
        "--privvmpages",
        "65536:69632",
        "--numproc",
        "240:unlimited",
        "--diskspace",
        "10G:11G",
        "--diskinodes",
        "200000",
        "--hostname",
        "ct101.example.com",
        "--description",
        "my web server",
        "--save",
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, SAVED, "")
    keys = _keys(host)
    assert keys["ONBOOT"] == '"yes"'
    assert keys["CPUS"] == '"2"'
    assert keys["CPUUNITS"] == '"2000"'
    assert keys["CPULIMIT"] == '"50"'
    assert keys["KMEMSIZE"] == '"2147483648"'
    assert keys["PRIVVMPAGES"] == '"65536:69632"'
    assert keys["NUMPROC"] == '"240:unlimited"'
    assert keys["DISKSPACE"] == '"10485760:11534336"'
    assert keys["DISKINODES"] == '"200000:200000"'
    assert keys["HOSTNAME"] == '"ct101.example.com"'
    assert keys["DESCRIPTION"] == '"my web server"'
    same = host.vzctl("set", "101", "--onboot", "yes", "--save")
    assert same.stdout == "No changes in CT configuration, not saving\n"


def test_existing_key_is_replaced_in_place_and_new_keys_appended(host: SimHost) -> None:
    host.create(101)
    before = host.conf(101).splitlines()
    host.vzctl("set", "101", "--cpuunits", "500", "--name", "web1", "--save")
    after = host.conf(101).splitlines()
    index = before.index('CPUUNITS="1000"')
    assert after[index] == 'CPUUNITS="500"'
    assert after[-1] == 'NAME="web1"'
    assert len(after) == len(before) + 1


def test_ram_swap_and_cpulimit_percent(host: SimHost) -> None:
    host.create(101)
    host.vzctl("set", "101", "--ram", "512M", "--swap", "1G", "--cpulimit", "50%", "--save")
    keys = _keys(host)
    assert keys["PHYSPAGES"] == '"0:131072"'
    assert keys["SWAPPAGES"] == '"0:262144"'
    assert keys["CPULIMIT"] == '"200"'


def test_ip_add_del_with_prefixes_and_ipv6(host: SimHost) -> None:
    host.create(101)
    host.vzctl(
        "set",
        "101",
        "--ipadd",
        "10.0.0.1",
        "--ipadd",
        "10.0.0.2/24",
        "--ipadd",
        "2001:db8::5/64",
        "--save",
    )
    assert _keys(host)["IP_ADDRESS"] == '"10.0.0.1 10.0.0.2/24 2001:db8::5/64"'
    host.vzctl("set", "101", "--ipdel", "10.0.0.2", "--ipdel", "10.9.9.9", "--save")
    assert _keys(host)["IP_ADDRESS"] == '"10.0.0.1 2001:db8::5/64"'
    host.vzctl("set", "101", "--ipdel", "all", "--save")
    assert _keys(host)["IP_ADDRESS"] == '""'
    bad = host.vzctl("set", "101", "--ipadd", "10.0.0.300", "--save")
    assert (bad.returncode, bad.stderr) == (21, "Bad parameter for --ipadd: 10.0.0.300\n")


def test_nameserver_and_searchdomain_replace_the_list(host: SimHost) -> None:
    host.create(101)
    host.vzctl("set", "101", "--nameserver", "8.8.8.8", "--nameserver", "8.8.4.4", "--save")
    assert _keys(host)["NAMESERVER"] == '"8.8.8.8 8.8.4.4"'
    host.vzctl("set", "101", "--nameserver", "1.1.1.1", "--searchdomain", "example.com", "--save")
    assert _keys(host)["NAMESERVER"] == '"1.1.1.1"'
    assert _keys(host)["SEARCHDOMAIN"] == '"example.com"'


def test_netif_add_and_del(host: SimHost) -> None:
    host.create(101)
    host.vzctl(
        "set",
        "101",
        "--netif_add",
        "eth0,00:18:51:AA:BB:CC,veth101.0,00:18:51:DD:EE:FF,vmbr0",
        "--save",
    )
    assert _keys(host)["NETIF"] == (
        '"ifname=eth0,bridge=vmbr0,mac=00:18:51:AA:BB:CC,host_ifname=veth101.0,'
        'host_mac=00:18:51:DD:EE:FF"'
    )
    host.vzctl("set", "101", "--netif_add", "eth1", "--save")
    netif = _keys(host)["NETIF"].strip('"').split(";")
    second = dict(part.split("=") for part in netif[1].split(","))
    assert list(second) == ["ifname", "mac", "host_ifname", "host_mac"]
    assert second["host_ifname"] == "veth101.1"
    assert second["mac"].startswith("00:18:51:") and second["mac"] == second["mac"].upper()
    assert second["mac"] != second["host_mac"]
    host.vzctl("set", "101", "--ifname", "eth1", "--bridge", "vmbr1", "--save")
    assert "bridge=vmbr1" in _keys(host)["NETIF"]
    missing = host.vzctl("set", "101", "--ifname", "eth7", "--mac_filter", "on", "--save")
    assert missing.returncode == 20
    assert missing.stderr == (
        "Invalid usage: veth device eth7 is not configured, use --netif_add option first\n"
    )
    host.vzctl("set", "101", "--netif_del", "eth0", "--save")
    assert _keys(host)["NETIF"].startswith('"ifname=eth1,bridge=vmbr1,')
    bad_mac = host.vzctl("set", "101", "--netif_add", "eth2,00:18:51", "--save")
    assert (bad_mac.returncode, bad_mac.stderr) == (21, "Invalid container MAC address length\n")


def test_name_rules(host: SimHost) -> None:
    host.create(101)
    host.create(102)
    unsaved = host.vzctl("set", "101", "--name", "web1")
    assert (unsaved.returncode, unsaved.stderr) == (
        131,
        "Error: unable to use --name option without --save\n",
    )
    named = host.vzctl("set", "101", "--name", "web1", "--save")
    assert named.stdout == "Name web1 assigned\n" + SAVED
    conflict = host.vzctl("set", "102", "--name", "web1", "--save")
    assert (conflict.returncode, conflict.stderr) == (
        131,
        "Conflict: name web1 already used by container 101\n",
    )
    invalid = host.vzctl("set", "102", "--name", "bad/name", "--save")
    assert (invalid.returncode, invalid.stderr) == (131, "Error: invalid name bad/name\n")
    host.vzctl("set", "101", "--name", "web2", "--save")
    assert not host.path("/etc/vz/names/web1").is_symlink()
    assert str(host.path("/etc/vz/names/web2").readlink()) == "/etc/vz/conf/101.conf"


def test_stopped_without_save(host: SimHost) -> None:
    host.create(101)
    live = host.vzctl("set", "101", "--kmemsize", "1000000", "--cpus", "2")
    assert live.returncode == 31
    assert live.stderr == (
        "Unable to apply UBC parameters: container is not running\n"
        "Unable to apply CPU parameters: container is not running\n"
    )
    config_only = host.vzctl("set", "101", "--onboot", "yes")
    assert (config_only.returncode, config_only.stdout) == (
        0,
        "WARNING: Settings were not saved to config (use --save flag)\n",
    )
    assert "ONBOOT" not in host.conf(101)


def test_running_ct_applies_live(host: SimHost) -> None:
    host.create(101, "--ipadd", "10.0.0.1")
    host.create(102, "--ipadd", "10.0.0.2")
    host.vzctl("start", "101")
    host.vzctl("start", "102")
    applied = host.vzctl("set", "101", "--ipadd", "10.0.0.9", "--cpus", "2")
    assert applied.returncode == 0
    assert applied.stdout == (
        "Adding IP address(es): 10.0.0.9\n"
        "Setting CPUs: 2\n"
        "WARNING: Settings were not saved to config and will be lost after CT restart"
        " (use --save flag)\n"
    )
    assert host.vzlist("101", "-H", "-o", "ip", "-t").stdout == "10.0.0.1 10.0.0.9\n"
    assert host.vzlist("101", "-H", "-o", "cpus").stdout == "    2\n"
    conflict = host.vzctl("set", "101", "--ipadd", "10.0.0.10", "--ipadd", "10.0.0.2", "--save")
    assert conflict.returncode == 78
    assert conflict.stderr == (
        "Unable to add IP 10.0.0.2: Address already in use\n"
        "Error: failed to apply some parameters, not saving configuration file!\n"
    )
    assert host.vzlist("101", "-H", "-o", "ip", "-t").stdout == "10.0.0.1 10.0.0.9\n"
    assert 'IP_ADDRESS="10.0.0.1"' in host.conf(101)
    restart_needed = host.vzctl("set", "101", "--features", "nfs:on", "--save")
    assert restart_needed.returncode == 0
    assert restart_needed.stderr == (
        "Unable to set features on a running container\n"
        "WARNING: Some of the parameters could not be applied to a running container.\n"
        "Please consider using --setmode option\n"
    )
    assert 'FEATURES="nfs:on"' in host.conf(101)


def test_ubc_change_reaches_beancounters(host: SimHost) -> None:
    host.create(101)
    host.vzctl("start", "101")
    host.vzctl("set", "101", "--privvmpages", "1000:2000", "--save")
    assert host.vzlist("-H", "-o", "privvmpages.b,privvmpages.l", "101").stdout == (
        "      1000       2000\n"
    )
    rows = host.path("/proc/user_beancounters").read_text().splitlines()
    row = next(line for line in rows if line.split()[0] == "privvmpages")
    assert row.split()[3:5] == ["1000", "2000"]


def test_ct0_set(host: SimHost) -> None:
    result = host.vzctl("set", "0", "--cpuunits", "1500", "--save")
    assert result.returncode == 0
    assert 'CPUUNITS="1500"' in host.conf(0)


def test_applyconfig(host: SimHost) -> None:
    host.create(101, "--hostname", "keep.me")
    host.vzctl("set", "101", "--applyconfig", "basic", "--save")
    keys = _keys(host)
    assert keys["KMEMSIZE"] == '"14372700:14790164"'
    assert keys["HOSTNAME"] == '"keep.me"'
    missing = host.vzctl("set", "101", "--applyconfig", "nosuch", "--save")
    assert missing.returncode == 109


def test_legacy_ubc_format_and_messages(legacy_host: SimHost) -> None:
    legacy_host.create(101)
    result = legacy_host.vzctl(
        "set", "101", "--kmemsize", "1000", "--numproc", "unlimited", "--save"
    )
    assert (result.returncode, result.stdout) == (0, "Saved parameters for CT 101\n")
    keys = _keys(legacy_host)
    assert keys["KMEMSIZE"] == '"1000:1000"'
    assert keys["NUMPROC"] == '"9223372036854775807:9223372036854775807"'
