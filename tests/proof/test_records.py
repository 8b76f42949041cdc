"""The checker itself: reconcile() must catch each way the records can disagree."""

from __future__ import annotations

from tests.proof.records import JournalJob, ToolRun, reconcile


def _job(
    job_id: str, operation: str, started: float, finished: float | None, state: str
) -> JournalJob:
    return JournalJob(0, job_id, operation, 101, state, started, finished, "")


def _run(command: str, t_start: float, exit_code: int | None = 0) -> ToolRun:
    argv = ("vzctl", command, "101", *(["--fast"] if command == "stop" else []))
    end = None if exit_code is None else t_start + 0.1
    return ToolRun(1, "vzctl", argv, t_start, end, exit_code)


def test_one_run_per_job_fits() -> None:
    jobs = [_job("a", "start", 10, 11, "succeeded"), _job("b", "destroy", 12, 13, "succeeded")]
    result = reconcile([_run("start", 10.5), _run("stop", 12.5)], jobs)
    assert result.problems == []
    assert [r.command for _, r in result.effective_runs(101, jobs)] == ["start", "stop"]


def test_a_job_run_twice_is_caught() -> None:
    jobs = [_job("a", "start", 10, 20, "succeeded")]
    problems = reconcile([_run("start", 10.5), _run("start", 15)], jobs).problems
    assert any("more than once" in p for p in problems)


def test_a_run_outside_every_job_is_caught() -> None:
    jobs = [_job("a", "start", 10, 11, "succeeded")]
    problems = reconcile([_run("start", 10.5), _run("stop", 30)], jobs).problems
    assert any("belongs to 0 jobs" in p for p in problems)


def test_a_lock_error_and_a_wrong_command_are_caught() -> None:
    jobs = [_job("a", "start", 10, 11, "failed"), _job("b", "destroy", 12, 13, "failed")]
    problems = reconcile([_run("start", 10.5, exit_code=9), _run("start", 12.5)], jobs).problems
    assert any("container lock" in p for p in problems)
    assert any("not a step of destroy" in p for p in problems)


def test_a_success_without_its_run_is_caught() -> None:
    jobs = [_job("a", "start", 10, 11, "succeeded"), _job("b", "start", 12, None, "interrupted")]
    problems = reconcile([_run("start", 12.5, exit_code=None)], jobs).problems
    assert problems == ["job a (start 101) succeeded without one clean vzctl start: []"]


def test_a_second_run_is_allowed_only_with_a_recorded_retry() -> None:
    retried = JournalJob(0, "a", "start", 101, "succeeded", 10, 20, "", retries=1)
    runs = [_run("start", 10.5, exit_code=1), _run("start", 15)]
    assert reconcile(runs, [retried]).problems == []
    # Two clean runs are one too many even with the retry: it ran after it took effect.
    problems = reconcile([_run("start", 10.5), _run("start", 15)], [retried]).problems
    assert any("without one clean vzctl start" in p for p in problems)
