"""Our worker processes (`runner._run_in_processes`) are sent their next job before they finish
the one they run: a worker that dies or is stopped still loses its own job alone, the jobs sent
ahead to it run on another, every job is reported once, and a job with plug-in code is the last
its process runs."""

from __future__ import annotations

import multiprocessing
import os
import time
from dataclasses import dataclass

from market_sim import runner


@dataclass(frozen=True)
class Task:
    """What `_run_in_processes` asks of a task, for jobs that are numbers: job n answers
    (n, its process), or its process exits (`dying`), or it sleeps past its time limit
    (`stuck`); `alone` jobs stand for plug-in code."""

    dying: frozenset[int] = frozenset()
    stuck: frozenset[int] = frozenset()
    alone_jobs: frozenset[int] = frozenset()

    def run(self, job: int) -> tuple[int, int]:
        if job in self.dying:
            os._exit(3)
        if job in self.stuck:
            time.sleep(60)
        return job, os.getpid()

    def finish(self, run: tuple[int, int]) -> tuple[int, int]:
        return run

    def limit(self, job: int) -> float | None:
        return 0.3 if job in self.stuck else None

    def alone(self, job: int) -> bool:
        return job in self.alone_jobs

    def lost(self, job: int, reason: str, seconds: float, died: bool) -> tuple[str, int, bool]:
        return "lost", job, died


def outcomes(task: Task, count: int, workers: int = 2) -> dict[int, object]:
    done = list(runner._run_in_processes(list(range(count)), workers, task))
    assert sorted(position for position, _ in done) == list(range(count))  # each job once
    return dict(done)


def test_every_job_runs_once_on_the_workers():
    done = outcomes(Task(), 25)
    assert [done[i][0] for i in range(25)] == list(range(25))
    assert len({pid for _, pid in done.values()}) == 2  # two processes, none started again


def test_a_worker_that_dies_loses_its_own_job_alone():
    done = outcomes(Task(dying=frozenset({3, 4, 11})), 16)
    for job in range(16):
        assert done[job] == ("lost", job, True) if job in (3, 4, 11) else done[job][0] == job


def test_a_run_past_its_time_limit_is_stopped_and_the_jobs_sent_ahead_run_elsewhere():
    done = outcomes(Task(stuck=frozenset({2})), 8)
    assert done[2] == ("lost", 2, False)  # stopped: not worth running again
    assert all(done[job][0] == job for job in range(8) if job != 2)


def test_a_job_with_plug_in_code_is_the_last_its_process_runs():
    alone = frozenset({1, 2, 6, 9})
    done = outcomes(Task(alone_jobs=alone), 14)
    for job in alone:
        assert all(done[later][1] != done[job][1] for later in range(job + 1, 14))  # jobs go out in order


def test_workers_started_by_a_fork_server_get_the_jobs_too(monkeypatch):
    """(A process with threads starts its workers from a fork server: the jobs are pickled once
    for each worker.)"""
    monkeypatch.setattr(runner, "start_method", lambda: multiprocessing.get_context("forkserver"))
    done = outcomes(Task(dying=frozenset({5})), 9)
    assert done[5] == ("lost", 5, True)
    assert all(done[job][0] == job for job in range(9) if job != 5)


def test_the_hand_over_folder_of_a_process_killed_outright_is_removed_by_the_next(tmp_path, monkeypatch):
    """A parent killed with SIGKILL leaves its workers' results in /dev/shm (memory): the next
    command removes such folders of processes that are gone, and no one else's."""
    monkeypatch.setattr(runner, "_HANDOVER_ROOT", str(tmp_path))
    gone = multiprocessing.get_context("fork").Process(target=os._exit, args=(0,))
    gone.start()
    gone.join()
    abandoned = tmp_path / f"{runner._HANDOVER_PREFIX}{gone.pid}-x1"
    living = tmp_path / f"{runner._HANDOVER_PREFIX}{os.getpid()}-x2"
    other = tmp_path / "market-sim-something-else"
    for folder in (abandoned, living, other):
        folder.mkdir()
        (folder / "0-1.pickle").write_bytes(b"result")
    done = outcomes(Task(), 3)
    assert [done[i][0] for i in range(3)] == [0, 1, 2]
    assert not abandoned.exists()
    assert living.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([living.name, other.name])  # its own removed
