"""The in-process job executor: one scanner per thread, a failing job does not stop others."""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("fastapi")

from deepscreen.config import ScanConfig
from deepscreen.scan import Scanner
from deepscreen.service.jobs import InProcessExecutor


def test_jobs_run_once_each_and_survive_a_failing_job() -> None:
    done: list[str] = []
    scanners: set[int] = set()
    finished = threading.Event()

    def handler(scan_id: str, scanner: Scanner) -> None:
        scanners.add(id(scanner))
        if scan_id == "bad":
            raise RuntimeError("a job that crashes")
        done.append(scan_id)
        if len(done) == 3:
            finished.set()

    executor = InProcessExecutor(handler, lambda: Scanner(ScanConfig(signals=())), workers=1)
    for scan_id in ("a", "bad", "b", "c"):
        executor.submit(scan_id)
    executor.submit("a")  # still queued: not queued twice
    assert executor.depth() == 4
    executor.start()
    assert finished.wait(10)
    executor.stop()
    assert done == ["a", "b", "c"]
    assert len(scanners) == 1  # built once for the thread, reused
    assert executor.depth() == 0


def test_zero_workers_accepts_jobs_and_runs_none() -> None:
    ran: list[str] = []
    executor = InProcessExecutor(lambda scan_id, scanner: ran.append(scan_id),
                                 lambda: Scanner(ScanConfig(signals=())), workers=0)
    executor.start()
    executor.submit("x")
    executor.stop()
    assert ran == [] and executor.depth() == 1


def test_report_document_is_strict_json() -> None:
    import json

    import numpy as np

    from deepscreen.findings import Finding
    from deepscreen.policy import Verdict
    from deepscreen.report import Report
    from deepscreen.service.screening import report_document

    finding = Finding(signal="x", version="1", score=0.5,
                      evidence={"n": np.float32(0.25), "bad": float("nan"),
                                "arr": np.arange(3), "inf": float("inf")})
    report = Report(item={"source": "a"}, findings=(finding,), verdict=Verdict("allow"),
                    policy="default", elapsed_ms=1.0)
    document = report_document(report)
    evidence = document["findings"][0]["evidence"]
    assert evidence == {"n": 0.25, "bad": None, "arr": [0, 1, 2], "inf": None}
    json.dumps(document, allow_nan=False)  # what the HTTP response and jsonb demand
