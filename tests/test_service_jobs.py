"""The in-process job executor: one scanner per thread, a failing job does not stop others."""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("fastapi")

from deepscreen.config import ScanConfig
from deepscreen.scan import Scanner
from deepscreen.service.executors import InProcessExecutor


class Runner:
    """A job runner that records what it ran and with which scanner."""

    def __init__(self, fail: str | None = None, until: int = 0) -> None:
        self.done: list[str] = []
        self.scanners: set[int] = set()
        self.finished = threading.Event()
        self._fail, self._until = fail, until

    def new_scanner(self) -> Scanner:
        return Scanner(ScanConfig(signals=()))

    def process(self, scan_id: str, scanner: Scanner) -> None:
        self.scanners.add(id(scanner))
        if scan_id == self._fail:
            raise RuntimeError("a job that crashes")
        self.done.append(scan_id)
        if len(self.done) == self._until:
            self.finished.set()


def test_jobs_run_once_each_and_survive_a_failing_job() -> None:
    runner = Runner(fail="bad", until=3)
    executor = InProcessExecutor(workers=1)
    for scan_id in ("a", "bad", "b", "c"):
        executor.submit(scan_id)
    executor.submit("a")  # still queued: not queued twice
    assert executor.depth() == 4
    executor.start(runner)
    assert runner.finished.wait(10)
    executor.stop()
    assert runner.done == ["a", "b", "c"]
    assert len(runner.scanners) == 1  # built once for the thread, reused
    assert executor.depth() == 0


def test_zero_workers_accepts_jobs_and_runs_none() -> None:
    runner = Runner()
    executor = InProcessExecutor(workers=0)
    executor.start(runner)
    executor.submit("x")
    executor.stop()
    assert runner.done == [] and executor.depth() == 1


def test_report_document_is_strict_json() -> None:
    import json

    import numpy as np

    from deepscreen.findings import Finding
    from deepscreen.media import ItemInfo
    from deepscreen.policy import Verdict
    from deepscreen.report import Report

    finding = Finding(signal="x", version="1", score=0.5,
                      evidence={"n": np.float32(0.25), "bad": float("nan"),
                                "arr": np.arange(3), "inf": float("inf")})
    report = Report(item=ItemInfo("a", "image", "png", "image/png", 1, "", ""),
                    findings=(finding,), verdict=Verdict("allow"), policy="default",
                    elapsed_ms=1.0)
    document = report.to_document()
    evidence = document["findings"][0]["evidence"]
    assert evidence == {"n": 0.25, "bad": None, "arr": [0, 1, 2], "inf": None}
    json.dumps(document, allow_nan=False)  # what the HTTP response and jsonb demand
