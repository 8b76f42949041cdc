"""Throughput of the unix-socket front (relay.UnixFront), which every local,
ssh and (later) exec byte crosses.

    .venv/bin/python bench/bench_relay.py [--megabytes N]

A client process pushes N MB through the front to a sink that echoes a one-byte
acknowledgement at the end, and the same N MB straight to the sink; prints both
rates and their ratio. The sink and the front share one event loop, as the
front and grpc do in the daemon. Target: at least 50 MB/s through the front.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openvzd.access import Level
from openvzd.limiter import PerKeyLimiter
from openvzd.relay import UnixFront

CLIENT = r"""
import socket, sys, time
path, total = sys.argv[1], int(sys.argv[2])
chunk = b"x" * (256 * 1024)
s = socket.socket(socket.AF_UNIX)
s.connect(path)
began = time.perf_counter()
sent = 0
while sent < total:
    s.sendall(chunk)
    sent += len(chunk)
s.shutdown(socket.SHUT_WR)
assert s.recv(1) == b"!"
print(sent / (time.perf_counter() - began) / 1e6)
"""


async def sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while await reader.read(1 << 20):
        pass
    writer.write(b"!")
    await writer.drain()
    writer.close()


async def rate(path: Path, megabytes: int) -> float:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CLIENT,
        str(path),
        str(megabytes * 1_000_000),
        stdout=subprocess.PIPE,
    )
    out, _ = await process.communicate()
    return float(out)


async def main(megabytes: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        private, public = Path(scratch) / "private.sock", Path(scratch) / "public.sock"
        server = await asyncio.start_unix_server(sink, str(private))
        front = UnixFront(public, Level.READ_ONLY, private, PerKeyLimiter(0), 0)
        await front.start(0o600, None)
        try:
            direct = await rate(private, megabytes)
            relayed = await rate(public, megabytes)
        finally:
            await front.stop()
            server.close()
    print(f"direct to the sink   {direct:8.0f} MB/s")
    print(
        f"through the front    {relayed:8.0f} MB/s  ({relayed / direct:.2f}x direct; target >= 50)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--megabytes", type=int, default=500)
    asyncio.run(main(parser.parse_args().megabytes))
