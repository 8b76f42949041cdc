"""The client end of openvz+ssh://[user@]host[:port]/system.

Per connection, ssh runs openvzd-ssh-helper on the remote host (the counterpart
of libvirt's virt-ssh-helper), which joins its stdin and stdout to the daemon's
unix socket. ssh always runs in batch mode: it is started in the background for
every connection grpc makes, so it must never stop to ask for a password or a
host key; use keys (or an agent) and a known_hosts entry.

URI parameters, as in libvirt: keyfile, known_hosts, known_hosts_verify
(normal | auto | ignore), no_tty (accepted; ssh never prompts anyway),
command (the helper's path on the remote host), socket (the remote daemon
socket), readonly (use the remote read-only socket), name (the local URI the
helper opens on the remote host, like virt-ssh-helper's argument; default
openvz:///system, and its own ?socket= picks the socket there).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shlex
from collections.abc import Mapping

from openvz.transport.errors import AuthenticationFailed, TransportError
from openvz.transport.options import flag
from openvz.transport.relay import LocalRelay

log = logging.getLogger(__name__)

DEFAULT_COMMAND = "openvzd-ssh-helper"
_HOST_KEY_CHECKING = {"normal": "yes", "auto": "accept-new", "ignore": "no"}
# Host names, IP literals and user names; anything else could be read as an ssh option.
_SAFE_WORD = re.compile(r"[A-Za-z0-9_.:%\[\]][A-Za-z0-9_.:%@\[\]-]*")
_STDERR_KEEP = 8192


def ssh_argv(
    host: str, port: int | None, user: str | None, params: Mapping[str, str], ssh: str = "ssh"
) -> list[str]:
    """The ssh command line for one connection (no shell involved locally)."""
    host = host.strip("[]")
    for what, value in (("host", host), ("user", user or "x")):
        if not _SAFE_WORD.fullmatch(value):
            raise TransportError(f"not a usable ssh {what}: {value!r}")
    verify = params.get("known_hosts_verify", "normal")
    if verify not in _HOST_KEY_CHECKING:
        raise TransportError(f"known_hosts_verify must be normal, auto or ignore, not {verify!r}")
    argv = [ssh, "-T", "-x", "-a", "-e", "none"]
    if port:
        argv += ["-p", str(port)]
    if user:
        argv += ["-l", user]
    if params.get("keyfile"):
        argv += ["-i", params["keyfile"], "-o", "IdentitiesOnly=yes"]
    if params.get("known_hosts"):
        argv += ["-o", f"UserKnownHostsFile={params['known_hosts']}"]
    argv += [
        "-o",
        "BatchMode=yes",
        "-o",
        f"StrictHostKeyChecking={_HOST_KEY_CHECKING[verify]}",
        "-o",
        "ConnectTimeout=10",
        "-o",
        "ServerAliveInterval=15",
        "-o",
        "ServerAliveCountMax=3",
        "--",
        host,
        remote_command(params),
    ]
    return argv


def remote_command(params: Mapping[str, str]) -> str:
    """The command line the remote shell runs, each word quoted for it."""
    words = [params.get("command") or DEFAULT_COMMAND]
    if flag(params, "readonly"):
        words.append("--readonly")
    if params.get("socket"):
        words += ["--socket", params["socket"]]
    if params.get("name"):
        # After "--": a name is never read as an option of the helper.
        words += ["--", params["name"]]
    return shlex.join(words)


class SshUpstream:
    """One ssh process: its stdin and stdout are the byte stream."""

    def __init__(self, process: asyncio.subprocess.Process, host: str) -> None:
        self._process = process
        self._host = host
        self._stderr = bytearray()
        self._stderr_task = asyncio.ensure_future(self._collect_stderr())

    async def _collect_stderr(self) -> None:
        assert self._process.stderr is not None
        while chunk := await self._process.stderr.read(4096):
            self._stderr += chunk
            del self._stderr[:-_STDERR_KEEP]

    async def send(self, data: bytes) -> None:
        assert self._process.stdin is not None
        self._process.stdin.write(data)
        await self._process.stdin.drain()

    async def receive(self) -> bytes:
        assert self._process.stdout is not None
        return await self._process.stdout.read(64 * 1024)

    async def failure(self) -> TransportError:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await self._process.wait()
                await self._stderr_task
        return explain_ssh_failure(
            self._host, self._process.returncode, self._stderr.decode(errors="replace")
        )

    async def close(self) -> None:
        """End ssh and see each of its pipes to the end. Only then does asyncio close
        the process transport, on this loop; left open, it is closed when collected,
        after the relay's loop is gone, and raises "Event loop is closed" there.
        Safe to call again after an interrupted call."""
        process = self._process
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                async with asyncio.timeout(3):
                    await process.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        assert process.stdout is not None and process.stdin is not None
        process.stdin.close()
        try:
            async with asyncio.timeout(2):
                with contextlib.suppress(ConnectionError, OSError):
                    # Shielded for the reason close_stream() gives.
                    await asyncio.shield(process.stdin.wait_closed())
                await process.stdout.read()
                # wait(), not await: a reader cancelled by someone else must not abort this.
                await asyncio.wait([self._stderr_task])
        except TimeoutError:
            self._stderr_task.cancel()
            await asyncio.wait([self._stderr_task])


def explain_ssh_failure(host: str, returncode: int | None, stderr: str) -> TransportError:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    detail = "; ".join(lines[-3:]) or f"ssh exited with status {returncode}"
    if "Permission denied" in stderr:
        return AuthenticationFailed(f"ssh login to {host} refused: {detail}")
    if "Host key verification failed" in stderr or "host key" in stderr.lower():
        return AuthenticationFailed(
            f"the ssh host key of {host} is unknown or has changed: {detail} "
            "(add it to known_hosts, or see ?known_hosts_verify=)"
        )
    return TransportError(f"ssh to {host} failed: {detail}")


class SshTunnel(LocalRelay):
    """openvz+ssh: start() returns the grpc target (unix:PATH) to connect to."""

    def __init__(
        self,
        host: str,
        port: int | None = None,
        user: str | None = None,
        params: Mapping[str, str] | None = None,
        ssh: str = "ssh",
    ) -> None:
        self.argv = ssh_argv(host, port, user, params or {}, ssh)
        self._host = host
        super().__init__(self._spawn, label=f"ssh {host}")

    async def _spawn(self) -> SshUpstream:
        log.debug("running %s", shlex.join(self.argv))
        try:
            process = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as err:
            raise TransportError(f"cannot run {self.argv[0]}: {err.strerror}") from None
        return SshUpstream(process, self._host)
