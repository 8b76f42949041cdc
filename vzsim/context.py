"""What every vzctl command handler gets: the host, its kernel, the CT and the options."""

from __future__ import annotations

import time

from vzsim.console import Console
from vzsim.container import Container
from vzsim.getopt import Options
from vzsim.host import Host
from vzsim.kernel import Kernel
from vzsim.knobs import Knobs
from vzsim.personality import Personality


class Context:
    def __init__(
        self,
        host: Host,
        kernel: Kernel,
        console: Console,
        personality: Personality,
        knobs: Knobs,
        ct: Container,
        command: str,
        options: Options,
        args: list[str],
    ) -> None:
        self.host = host
        self.kernel = kernel
        self.console = console
        self.personality = personality
        self.knobs = knobs
        self.ct = ct
        self.command = command
        self.options = options
        self.args = args

    @property
    def ctid(self) -> int:
        return self.ct.ctid

    def has(self, name: str) -> bool:
        return any(option == name for option, _ in self.options)

    def last(self, name: str) -> str | None:
        values = [value for option, value in self.options if option == name]
        return values[-1] if values else None

    def values_of(self, name: str) -> list[str]:
        return [value for option, value in self.options if option == name]

    def delay(self, key: str) -> None:
        seconds = self.knobs.delays.get(key, 0.0)
        if seconds > 0:
            time.sleep(seconds)
