"""The daemon's life: start-up, serving, reload and shutdown.

Start-up order matters: the instance lock first (nothing else may touch the
run directory before it), then the journal's recovery, then the host model, then
the interrupted jobs' containers are reconciled, and only then do the sockets
open, so no client ever sees a state from before the crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2_grpc
from openvz.v1 import (
    domains_pb2_grpc,
    events_pb2_grpc,
    host_pb2_grpc,
    jobs_pb2_grpc,
)

from openvzd.access import Level, ReadOnlyInterceptor
from openvzd.api.domains import DomainsService
from openvzd.api.errors import ErrorStatus, RequestDecoder
from openvzd.api.events import EventsService
from openvzd.api.host import HostService
from openvzd.api.jobs import JobsService
from openvzd.api.local_exec import LocalExecService
from openvzd.config import (
    LIVE_SECTIONS,
    RESTART_SECTIONS,
    TLS_LIVE_KEYS,
    Config,
    ConfigError,
    differences,
)
from openvzd.core.service import Core
from openvzd.discovery import enable_reflection, set_serving
from openvzd.identity import CallerCapInterceptor
from openvzd.limiter import PerKeyLimiter, RateLimiter, uncapped_uids
from openvzd.listeners import (
    InstanceLock,
    InstanceLocked,
    bind_unix,
    server_options,
)
from openvzd.monitor import HostMonitor
from openvzd.notify import SystemdNotifier
from openvzd.relay import UnixFront, private_dir
from openvzd.simhost import SimulationError, ensure_simulated_host
from openvzd.statedir import ensure_private
from openvzd.tour import print_tour, write_example
from openvzd.vz.errors import VzError
from openvzd.vz.runner import ToolPaths, ToolRunner

log = logging.getLogger(__name__)


def _live_tls_key(section: str, key: str) -> bool:
    return section == "tls" and key in TLS_LIVE_KEYS


EVENT_SEQ_SAVE_INTERVAL = 5.0


ConfigLoader = Callable[[], Config]


class Daemon:
    def __init__(
        self, config: Config, load_config: ConfigLoader | None = None, *, debug: bool = False
    ) -> None:
        self.config = config
        self._load_config = load_config
        self._debug = debug
        self.notifier = SystemdNotifier()
        self._lock = InstanceLock(config.paths.run_dir)
        self._servers: list[grpc.aio.Server] = []
        self._fronts: list[UnixFront] = []
        self._health = health.aio.HealthServicer()
        self._tasks: list[asyncio.Task[None]] = []
        self._tls: Any = None
        self._sasl: Any = None
        # Streams and calls per caller, over every listener: one count per uid,
        # SASL user or DN. Root is not capped (0: no limit).
        self.stream_limiter: PerKeyLimiter[int | str] = PerKeyLimiter(
            config.limits.max_streams_per_caller, what="streams", overrides=uncapped_uids()
        )
        self.call_limiter: PerKeyLimiter[int | str] = PerKeyLimiter(
            config.limits.max_calls_per_caller, what="calls in flight", overrides=uncapped_uids()
        )
        self.call_rate: RateLimiter[int | str] = RateLimiter(
            config.limits.max_call_rate_per_caller, overrides=uncapped_uids()
        )
        self.private_sockets: dict[Level, Path] = {}
        self._libvirt: Any = None

    async def start(self) -> None:
        started = time.monotonic()
        config = self.config
        self._lock.acquire()
        ensure_private(config.paths.state_dir)
        self.core = core = await Core.open(config)
        self.runtime = runtime = core.runtime
        self.queue = queue = core.queue
        self.events = core.bus
        core.start()
        await self._open_unix_sockets()
        await self._start_remote()
        await self._start_libvirt()
        self.monitor = monitor = HostMonitor(
            runtime, core.executors, queue, config.monitor.refresh_interval
        )
        self._tasks = [
            asyncio.create_task(monitor.run(), name="host-monitor"),
            asyncio.create_task(self.notifier.run_watchdog(), name="watchdog"),
            asyncio.create_task(self._save_event_seq(), name="event-seq"),
        ]
        await set_serving(self._health)
        status = f"serving {len(runtime.host.containers)} containers on {config.rw_socket}"
        self.notifier.ready(status)
        log.info("%s (ready in %.2f s)", status, time.monotonic() - started)

    async def _open_unix_sockets(self) -> None:
        """The gRPC servers on private sockets, and the public sockets in front of
        them that identify each peer and apply the per-uid caps (relay.py)."""
        config = self.config
        limits = config.limits
        private = private_dir(config.paths.run_dir)
        # Root and the daemon's own uid are not capped per uid; max_clients bounds them.
        per_uid: PerKeyLimiter[int] = PerKeyLimiter(
            limits.max_clients_per_uid, what="connections", overrides=uncapped_uids()
        )
        sockets = (
            (Level.READ_WRITE, config.rw_socket, config.sockets.rw_mode, config.rw_gid()),
            (Level.READ_ONLY, config.ro_socket, config.sockets.ro_mode, None),
        )
        self.private_sockets = {}
        self.local_exec = LocalExecService(self.core, self.core.resolve)
        for level, public, mode, gid in sockets:
            server = self._make_server(level)
            self._servers.append(server)
            self.private_sockets[level] = private / f"{level.value}.sock"
            bind_unix(server, self.private_sockets[level], 0o600, None)
            await server.start()
            front = UnixFront(
                public,
                level,
                self.private_sockets[level],
                per_uid,
                limits.max_clients,
                local_exec=self.local_exec.accept,
            )
            self._fronts.append(front)
            await front.start(mode, gid)

    async def _save_event_seq(self) -> None:
        while True:
            await asyncio.sleep(EVENT_SEQ_SAVE_INTERVAL)
            self.queue.set_meta("last_event_seq", str(self.events.last_seq))

    async def _start_remote(self) -> None:
        """The TLS and TCP+SASL listeners, when configured; a bad certificate or
        an unusable SASL setting stops the start with what to fix."""
        config = self.config
        if config.tls.enabled:
            from openvzd.remote.certs import CertificateProblem
            from openvzd.remote.tls import start_tls_server

            try:
                self._tls = await start_tls_server(
                    config.tls,
                    self._add_servicers,
                    max_message_bytes=config.limits.max_message_bytes,
                    max_concurrent_rpcs=config.limits.max_concurrent_rpcs,
                    private_socket=private_dir(config.paths.run_dir) / "tls.sock",
                    interceptors=[self.caller_caps()],
                )
            except CertificateProblem as err:
                raise ConfigError(f"[tls]: {err}") from None
            log.info("TLS listener on %s:%d", config.tls.address, self._tls.port)
        if config.sasl.enabled:
            from openvzd.remote.sasl_server import SaslConfigError, start_sasl_server

            try:
                # Straight to the private sockets, with the SASL user as the caller.
                self._sasl = await start_sasl_server(
                    config.sasl,
                    self.private_sockets[Level.READ_WRITE],
                    self.private_sockets[Level.READ_ONLY],
                )
            except SaslConfigError as err:
                raise ConfigError(f"[sasl]: {err}") from None
            log.info("TCP+SASL listener on %s:%d", config.sasl.address, self._sasl.port)

    async def _start_libvirt(self) -> None:
        """libvirt's protocol on its own sockets, a second front-end on the core."""
        settings = self.config.libvirt
        if not settings.enabled:
            return
        from openvzd.libvirt.server import LibvirtFrontEnd

        self._libvirt = LibvirtFrontEnd(
            self.core,
            max_connections_per_uid=settings.max_connections_per_uid,
            keepalive_interval=settings.keepalive_interval,
            keepalive_count=settings.keepalive_count,
        )
        await self._libvirt.start_unix(
            settings.rw_path, settings.ro_path, settings.rw_mode, settings.ro_mode
        )
        if settings.tls_port:
            from openvzd.remote.certs import CertificateProblem

            try:
                await self._libvirt.start_tls(
                    self.config.tls, settings.tls_address, settings.tls_port
                )
            except CertificateProblem as err:
                raise ConfigError(f"[libvirt] tls_port uses [tls]'s files: {err}") from None
        if settings.sasl_port:
            await self._libvirt.start_sasl(
                self.config.sasl, settings.sasl_address, settings.sasl_port
            )

    def reload(self) -> None:
        """SIGHUP: re-read the configuration and apply what can change live, then
        new certificates for new TLS connections. Never stops the daemon."""
        self.notifier.reloading()
        try:
            self._reload_config()
            self._reload_certificates()
        finally:
            self.notifier.ready(f"serving {len(self.runtime.host.containers)} containers")

    def _reload_config(self) -> None:
        if self._load_config is None:
            log.info("SIGHUP: no configuration file to re-read")
            return
        try:
            new = self._load_config()
        except (ConfigError, OSError) as err:
            log.error("SIGHUP: configuration refused, the running one is kept: %s", err)
            return
        current = self.config
        changed = differences(current, new)
        live = [c for c in changed if c[0] in LIVE_SECTIONS or _live_tls_key(c[0], c[1])]
        for section, key, old_value, new_value in changed:
            if section in RESTART_SECTIONS and not _live_tls_key(section, key):
                log.warning(
                    "SIGHUP: [%s] %s = %r needs a restart; keeping %r until then",
                    section,
                    key,
                    new_value,
                    old_value,
                )
        if any(section == "tools" for section, *_ in live):
            missing = [
                f"[tools] {tool} = {path}"
                for tool in ("vzctl", "vzlist", "vzmigrate")
                if not os.access(path := getattr(new.tools, tool), os.X_OK)
            ]
            if missing:
                log.error("SIGHUP: kept the old [tools]: not executable: %s", ", ".join(missing))
                new.tools = current.tools
                live = [c for c in live if c[0] != "tools"]
        # In place: the runtime and the services hold this very object.
        for section in LIVE_SECTIONS:
            setattr(current, section, getattr(new, section))
        for key in TLS_LIVE_KEYS:
            setattr(current.tls, key, getattr(new.tls, key))
        self._apply_live_settings()
        for section, key, old_value, new_value in live:
            log.info("SIGHUP: [%s] %s = %r (was %r)", section, key, new_value, old_value)
        log.info("SIGHUP: configuration re-read, %d setting(s) applied", len(live))

    def _apply_live_settings(self) -> None:
        config = self.config
        runtime = self.runtime
        tools = ToolPaths(config.tools.vzctl, config.tools.vzlist, config.tools.vzmigrate)
        # Runs already under way keep their runner; every later one takes the new.
        runtime.runner = runtime.host.runner = ToolRunner(tools, config.timeouts.as_dict())
        self.queue.set_limits(
            max_workers=config.jobs.max_workers,
            history_limit=config.jobs.history_limit,
            max_queued_per_lane=config.jobs.max_queued_per_lane,
            max_queued=config.jobs.max_queued,
            archive_max_jobs=config.jobs.archive_max_jobs,
            archive_max_age_days=config.jobs.archive_max_age_days,
        )
        self.monitor.set_interval(config.monitor.refresh_interval)
        if not self._debug:
            logging.getLogger().setLevel(config.log.level.upper())

    def _reload_certificates(self) -> None:
        if self._tls is None:
            return
        from openvzd.remote.certs import CertificateProblem

        try:
            self._tls.reload(self.config.tls)
        except CertificateProblem as err:
            log.error("SIGHUP: kept the old certificates: %s", err)
        else:
            log.info("SIGHUP: TLS certificates reloaded for new connections")

    def _add_servicers(self, server: grpc.aio.Server) -> None:
        core = self.core
        domains_pb2_grpc.add_DomainsServicer_to_server(DomainsService(core), server)
        jobs_pb2_grpc.add_JobsServicer_to_server(JobsService(core), server)
        events_pb2_grpc.add_EventsServicer_to_server(EventsService(core), server)
        host_pb2_grpc.add_HostServicer_to_server(HostService(core, self.config), server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        enable_reflection(server)

    def caller_caps(self) -> CallerCapInterceptor:
        return CallerCapInterceptor(self.stream_limiter, self.call_limiter, self.call_rate)

    def _make_server(self, level: Level) -> grpc.aio.Server:
        interceptors: list[grpc.aio.ServerInterceptor] = []
        if level is Level.READ_ONLY:
            interceptors.append(ReadOnlyInterceptor("the read-only socket"))
        interceptors += [self.caller_caps(), RequestDecoder(), ErrorStatus()]
        limits = self.config.limits
        server = grpc.aio.server(
            interceptors=interceptors,
            # The fronts count and cap the connections; grpc sees only theirs.
            options=server_options(limits.max_message_bytes, limits.max_calls_per_client),
            maximum_concurrent_rpcs=limits.max_concurrent_rpcs,
        )
        self._add_servicers(server)
        return server

    async def stop_listeners(self) -> None:
        """After a failed start: stop the listeners that did start, which grpc would
        otherwise try to stop when collected, after the loop is gone (tracebacks)."""
        if self._libvirt is not None:
            await self._libvirt.stop()
        if self._sasl is not None:
            await self._sasl.stop()
        if self._tls is not None:
            await self._tls.stop(None)
        await asyncio.gather(*(front.stop() for front in self._fronts))
        await asyncio.gather(*(server.stop(None) for server in self._servers))

    async def stop(self) -> None:
        self.notifier.stopping()
        log.info("stopping: no new calls; running jobs get %.0f s", self.config.jobs.stop_grace)
        await self._health.enter_graceful_shutdown()
        self.events.close()
        # Before the servers stop: each client is told why its session ended.
        await self.core.sessions.close()
        if self._libvirt is not None:
            await self._libvirt.stop()
        if self._sasl is not None:
            await self._sasl.stop()
        if self._tls is not None:
            await self._tls.stop(2.0)
        for front in self._fronts:
            front.close()
        await asyncio.gather(*(server.stop(grace=2.0) for server in self._servers))
        await asyncio.gather(*(front.stop() for front in self._fronts))
        await self.local_exec.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.core.stop(self.config.jobs.stop_grace)
        self._lock.release()
        log.info("stopped; containers were left as they are")


async def run(
    config: Config,
    *,
    load_config: ConfigLoader | None = None,
    debug: bool = False,
    tour: bool = False,
    realistic_delays: bool = True,
) -> int:
    """Serve until SIGTERM or SIGINT; SIGHUP re-reads the configuration (load_config)
    and the TLS certificates."""
    if config.simulated:
        try:
            ensure_simulated_host(config.paths.host_root, realistic_delays=realistic_delays)
            write_example(config.paths.host_root.parent)
        except SimulationError as err:
            log.error("%s", err)
            return 1
    daemon = Daemon(config, load_config, debug=debug)
    try:
        await daemon.start()
    except (InstanceLocked, VzError, ConfigError, OSError) as err:
        log.error("cannot start: %s", getattr(err, "message", None) or err)
        await daemon.stop_listeners()
        return 1
    if tour:
        print_tour(config, config.paths.host_root.parent)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, daemon.reload)
    await stop.wait()
    await daemon.stop()
    return 0
