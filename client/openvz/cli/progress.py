"""How ovzsh runs a mutating call: wait for its job; on a terminal, show the
job's progress once it has taken more than a second; say what was done."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import TextIO

from openvz.cli.base import say
from openvz.connection import Job
from openvz.v1 import common_pb2

PROGRESS_AFTER_SECONDS = 1.0
REFRESH_SECONDS = 0.25


def queued(result: object) -> Job:
    """What a call made with wait=False returned: its job."""
    assert isinstance(result, Job), result
    return result


def run_job(
    args: argparse.Namespace,
    start: Callable[[], object],
    done: str | Callable[[Job], str] = "",
    label: str = "",
) -> Job:
    """start() makes the call with wait=False. --no-wait prints the queued job and
    returns; on a terminal the job is followed with a progress line; otherwise
    ovzsh waits quietly. Then done (a line, or made from the finished job) is said,
    or the job's error raised."""
    job = queued(start())
    if getattr(args, "no_wait", False):
        print(f"Job {job.id} queued ({job.message.operation} on {job.message.veid})")
        return job
    if sys.stdout.isatty():
        try:
            follow(job, label or f"{job.message.operation} {job.message.veid}", sys.stdout)
        except KeyboardInterrupt:
            print(
                f"\nerror: stopped watching; job {job.id} goes on "
                f"(`ovzsh job-cancel {job.id}` cancels it)",
                file=sys.stderr,
            )
            raise
    job.wait()
    text = done(job) if callable(done) else done
    if text:
        say(args, text)
    return job


def follow(job: Job, label: str, stream: TextIO) -> None:
    """Until the job ends; after the first second, redraw one line in place
    (`start 101: [ 40 %] starting (2 s)`) a few times a second."""
    began = time.monotonic()
    shown = False
    while not job.done:
        for _ in job.watch(timeout=REFRESH_SECONDS):
            pass
        elapsed = time.monotonic() - began
        if elapsed >= PROGRESS_AFTER_SECONDS:
            draw(job, label, elapsed, stream)
            shown = True
    if shown:
        stream.write("\n")
        stream.flush()


def draw(job: Job, label: str, elapsed: float, stream: TextIO) -> None:
    percent, step = job.progress
    if job.done:
        step = job.state
        if job.message.state == common_pb2.JOB_STATE_SUCCEEDED:
            percent = 100
    stream.write(f"\r{label}: [{percent:3d} %] {step} ({elapsed:.0f} s)\x1b[K")
    stream.flush()
