"""vzctl create/start/stop/restart/status/destroy/mount/umount: output, exit codes, files."""

from __future__ import annotations

from tests.vzsim.vzsim_harness import SimHost

CREATE_OUT = (
    "Creating container private area (centos-7-x86_64-minimal)\n"
    "Performing postcreate actions\n"
    "CT configuration saved to /etc/vz/conf/101.conf\n"
    "Container private area was created\n"
)


def test_create_writes_sample_plus_keys_in_vzctl_order(host: SimHost) -> None:
    result = host.vzctl(
        "create",
        "101",
        "--ostemplate",
        "centos-7-x86_64-minimal",
        "--ipadd",
        "10.0.0.101",
        "--hostname",
        "ct101",
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, CREATE_OUT, "")
    sample = host.path("/etc/vz/conf/ve-vswap-256m.conf-sample").read_text()
    assert host.conf(101) == sample + (
        'IP_ADDRESS="10.0.0.101"\n'
        'HOSTNAME="ct101"\n'
        'VE_ROOT="/vz/root/$VEID"\n'
        'VE_PRIVATE="/vz/private/$VEID"\n'
        'VE_LAYOUT="simfs"\n'
        'OSTEMPLATE="centos-7-x86_64-minimal"\n'
        'ORIGIN_SAMPLE="vswap-256m"\n'
    )
    assert (host.path("/vz/private/101/sbin/init")).is_file()
    assert host.vzctl("status", "101").stdout == "CTID 101 exist unmounted down\n"


def test_create_with_missing_template_fails_91_and_leaves_nothing(host: SimHost) -> None:
    result = host.vzctl("create", "101", "--ostemplate", "nosuch-1-x86")
    assert result.returncode == 91
    assert result.stderr == (
        "Cached OS template /vz/template/cache/nosuch-1-x86.tar[.gz|.bz2|.xz] not found\n"
    )
    assert not host.path("/etc/vz/conf/101.conf").exists()
    assert not host.path("/vz/private/101").exists()


def test_create_existing_private_area_is_44(host: SimHost) -> None:
    host.create(101)
    result = host.vzctl("create", "101", "--ostemplate", "centos-7-x86_64-minimal")
    assert result.returncode == 44
    assert result.stderr == "Private area already exists in /vz/private/101\n"
    assert host.path("/etc/vz/conf/101.conf").exists()


def test_create_with_bad_sample_is_82(host: SimHost) -> None:
    result = host.vzctl("create", "101", "--config", "nosuch")
    assert result.returncode == 82
    assert result.stderr == "Sample config /etc/vz/conf/ve-nosuch.conf-sample not found\n"


def test_start_stop_cycle(host: SimHost) -> None:
    host.create(101, "--ipadd", "10.0.0.101")
    start = host.vzctl("start", "101")
    assert start.returncode == 0
    assert start.stdout == (
        "Starting container...\n"
        "Container is mounted\n"
        "Adding IP address(es): 10.0.0.101\n"
        "Setting CPU units: 1000\n"
        "Container start in progress...\n"
    )
    assert host.vzctl("status", "101").stdout == "CTID 101 exist mounted running\n"
    again = host.vzctl("start", "101")
    assert (again.returncode, again.stderr) == (32, "Container is already running\n")
    stop = host.vzctl("stop", "101")
    assert stop.returncode == 0
    assert stop.stdout == (
        "Stopping container ...\nContainer was stopped\nContainer is unmounted\n"
    )
    stopped = host.vzctl("stop", "101")
    assert (stopped.returncode, stopped.stderr) == (0, "Unable to stop: container is not running\n")


def test_stop_fast_and_restart(host: SimHost) -> None:
    host.create(101)
    host.vzctl("start", "101")
    fast = host.vzctl("stop", "101", "--fast")
    assert fast.stdout.startswith("Killing container ...\n")
    restart = host.vzctl("restart", "101")
    assert restart.returncode == 0
    assert restart.stdout.startswith("Restarting container\nStarting container...\n")
    restart = host.vzctl("restart", "101")
    assert restart.stdout.startswith("Restarting container\nStopping container ...\n")


def test_quiet_silences_everything(host: SimHost) -> None:
    host.create(101)
    result = host.vzctl("--quiet", "start", "101")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    result = host.vzctl("--quiet", "start", "101")
    assert (result.returncode, result.stdout, result.stderr) == (32, "", "")


def test_start_disabled_and_missing_private(host: SimHost) -> None:
    host.create(101)
    host.vzctl("set", "101", "--disabled", "yes", "--save")
    result = host.vzctl("start", "101")
    assert (result.returncode, result.stderr) == (105, "Container start disabled\n")
    assert host.vzctl("start", "101", "--force").returncode == 0
    host.create(102)
    host.path("/vz/private/102/sbin/init").unlink()
    for child in sorted(host.path("/vz/private/102").rglob("*"), reverse=True):
        child.unlink() if child.is_file() else child.rmdir()
    host.path("/vz/private/102").rmdir()
    result = host.vzctl("start", "102")
    assert result.returncode == 43
    assert result.stderr == "Container private area /vz/private/102 does not exist\n"


def test_status_of_unknown_ct_is_not_an_error(host: SimHost) -> None:
    result = host.vzctl("status", "999")
    assert (result.returncode, result.stdout) == (0, "CTID 999 deleted unmounted down\n")


def test_destroy(host: SimHost) -> None:
    host.create(101, "--name", "web1")
    host.vzctl("start", "101")
    running = host.vzctl("destroy", "101")
    assert (running.returncode, running.stdout) == (
        32,
        "Container is currently running. Stop it first.\n",
    )
    host.vzctl("stop", "101")
    host.vzctl("mount", "101")
    mounted = host.vzctl("destroy", "101")
    assert (mounted.returncode, mounted.stdout) == (
        41,
        "Container is currently mounted (umount first)\n",
    )
    host.vzctl("umount", "101")
    result = host.vzctl("delete", "101")
    assert result.returncode == 0
    assert result.stdout == (
        "Destroying container private area: /vz/private/101\nContainer private area was destroyed\n"
    )
    assert host.path("/etc/vz/conf/101.conf.destroyed").exists()
    assert not host.path("/etc/vz/conf/101.conf").exists()
    assert not host.path("/etc/vz/names/web1").is_symlink()
    assert host.vzctl("status", "101").stdout == "CTID 101 deleted unmounted down\n"
    missing = host.vzctl("destroy", "101")
    assert (missing.returncode, missing.stderr) == (14, "Container config file does not exist\n")


def test_mount_umount(host: SimHost) -> None:
    host.create(101)
    assert host.vzctl("mount", "101").stdout == "Container is mounted\n"
    again = host.vzctl("mount", "101")
    assert (again.returncode, again.stderr) == (0, "Container is already mounted\n")
    assert host.vzctl("status", "101").stdout == "CTID 101 exist mounted down\n"
    assert host.vzctl("umount", "101").stdout == "Container is unmounted\n"
    not_mounted = host.vzctl("umount", "101")
    assert (not_mounted.returncode, not_mounted.stderr) == (40, "CT is not mounted\n")
    host.vzctl("start", "101")
    running = host.vzctl("umount", "101")
    assert (running.returncode, running.stderr) == (32, "Container is running -- stop it first\n")


def test_command_line_errors(host: SimHost) -> None:
    none = host.vzctl()
    assert none.returncode == 20 and none.stderr.startswith("Usage: vzctl")
    assert (host.vzctl("frobnicate", "101").returncode, host.vzctl("frobnicate").stderr) == (
        20,
        "Bad command: frobnicate\n",
    )
    assert (host.vzctl("start").returncode, host.vzctl("start").stderr) == (21, "CT ID missing\n")
    bad_id = host.vzctl("start", "nosuchname")
    assert (bad_id.returncode, bad_id.stderr) == (21, "Bad CT ID nosuchname\n")
    ct0 = host.vzctl("start", "0")
    assert (ct0.returncode, ct0.stderr) == (21, "Only set actions are allowed for CT0\n")
    no_conf = host.vzctl("start", "555")
    assert (no_conf.returncode, no_conf.stderr) == (14, "Container config file does not exist\n")
    host.create(101)
    unknown = host.vzctl("start", "101", "--foo")
    assert (unknown.returncode, unknown.stderr) == (21, "vzctl: unrecognized option '--foo'\n")
    extra = host.vzctl("status", "101", "junk")
    assert (extra.returncode, extra.stderr) == (20, "Invalid extra arguments: junk\n")
    bad_value = host.vzctl("set", "101", "--onboot", "maybe", "--save")
    assert (bad_value.returncode, bad_value.stderr) == (21, "Bad parameter for --onboot: maybe\n")


def test_missing_vz_conf_is_10(host: SimHost) -> None:
    host.create(101)
    host.path("/etc/vz/vz.conf").unlink()
    result = host.vzctl("start", "101")
    assert result.returncode == 10
    assert result.stderr == "Unable to open /etc/vz/vz.conf: No such file or directory\n"


def test_version_and_help(host: SimHost) -> None:
    version = host.vzctl("--version")
    assert (version.returncode, version.stdout) == (0, "vzctl version 4.11.1\n")
    help_text = host.vzctl("--help")
    assert help_text.returncode == 0
    assert help_text.stdout.startswith("vzctl version 4.11.1\nCopyright (C) 2000-2013")
    assert help_text.stderr == ""


def test_names_resolve_for_vzctl_and_vzlist(host: SimHost) -> None:
    host.create(101, "--name", "web1")
    link = host.path("/etc/vz/names/web1")
    assert str(link.readlink()) == "/etc/vz/conf/101.conf"
    assert host.vzctl("status", "web1").stdout == "CTID 101 exist unmounted down\n"
    assert host.vzlist("web1", "-H", "-o", "ctid").stdout == "       101\n"


def test_action_scripts_run_and_failure_is_79(host: SimHost) -> None:
    host.create(101)
    trace = host.root / "trace"
    for action in ("premount", "mount", "start", "stop", "umount", "postumount"):
        host.path(f"/etc/vz/conf/101.{action}").write_text(f'echo "{action} $VEID" >> {trace}\n')
    assert host.vzctl("start", "101").returncode == 0
    assert host.vzctl("stop", "101").returncode == 0
    assert trace.read_text().split("\n")[:-1] == [
        "premount 101",
        "mount 101",
        "start 101",
        "stop 101",
        "umount 101",
        "postumount 101",
    ]
    host.path("/etc/vz/conf/vps.mount").write_text("exit 1\n")
    failed = host.vzctl("start", "101")
    assert failed.returncode == 79
    assert failed.stderr.startswith("Error executing mount script /etc/vz/conf/vps.mount\n")
    assert host.vzctl("status", "101").stdout == "CTID 101 exist unmounted down\n"
