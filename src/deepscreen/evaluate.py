"""Evaluate a signal on labelled media: ROC AUC, average precision, TPR at 1% FPR.

The metrics are plain numpy functions over (label, score) pairs, tie-aware, so they can be
checked against hand-computed values. The runner screens labelled files with the normal
pipeline and scores each at the item level (the signal's score: for video, the most
manipulated face track) and at the frame level (every sampled frame with a scored face).

Items the signal abstains on (no face, too small) are left out of the metrics and counted,
so coverage is reported next to accuracy instead of hidden in it.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .config import ScanConfig
from .errors import DeepscreenError, MediaError
from .policy import Policy
from .report import Report
from .scan import iter_files, scan_paths

REAL, FAKE = 0, 1
_LABEL_WORDS = {"real": REAL, "0": REAL, "pristine": REAL, "original": REAL,
                "fake": FAKE, "1": FAKE, "manipulated": FAKE, "synthetic": FAKE}


# --- metrics -----------------------------------------------------------------------------------


def _validate(labels: Sequence[int], scores: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels, dtype=np.int64).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"{y.size} labels but {s.size} scores")
    if not np.isin(y, (REAL, FAKE)).all():
        raise ValueError("labels must be 0 (real) or 1 (fake)")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite numbers")
    return y, s


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Area under the ROC curve: P(score of a fake > score of a real), ties counting half.

    Computed from average ranks (the Mann-Whitney U statistic), exact under ties.
    """
    y, s = _validate(labels, scores)
    n_pos, n_neg = int(y.sum()), int((1 - y).sum())
    if not n_pos or not n_neg:
        raise ValueError("AUC needs both real and fake examples")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    sorted_scores = s[order]
    start = 0
    while start < len(s):  # average the ranks of each run of equal scores
        end = start
        while end + 1 < len(s) and sorted_scores[end + 1] == sorted_scores[start]:
            end += 1
        ranks[order[start:end + 1]] = (start + end) / 2 + 1
        start = end + 1
    u = ranks[y == FAKE].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def _operating_points(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, ...]:
    """For each distinct score t (descending): true and false positives when flagging s >= t."""
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    last_of_run = np.r_[np.nonzero(np.diff(s_sorted))[0], len(s_sorted) - 1]
    tp = np.cumsum(y_sorted)[last_of_run]
    fp = (last_of_run + 1) - tp
    return s_sorted[last_of_run], tp, fp


def average_precision(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Average precision: sum over thresholds of (recall step) x precision, ties grouped."""
    y, s = _validate(labels, scores)
    n_pos = int(y.sum())
    if not n_pos:
        raise ValueError("average precision needs at least one fake example")
    _, tp, fp = _operating_points(y, s)
    precision = tp / (tp + fp)
    recall = tp / n_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def tpr_at_fpr(labels: Sequence[int], scores: Sequence[float], max_fpr: float = 0.01
               ) -> tuple[float, float]:
    """The highest true-positive rate with false-positive rate <= ``max_fpr``, and its threshold.

    Items are flagged when ``score >= threshold``. When even the top score lets too many
    reals through, the threshold is just above the top score and the TPR is 0.
    """
    y, s = _validate(labels, scores)
    n_pos, n_neg = int(y.sum()), int((1 - y).sum())
    if not n_pos or not n_neg:
        raise ValueError("TPR at FPR needs both real and fake examples")
    thresholds, tp, fp = _operating_points(y, s)
    ok = np.nonzero(fp / n_neg <= max_fpr)[0]
    if not len(ok):
        return 0.0, float(np.nextafter(s.max(), math.inf))
    best = ok[-1]  # thresholds descend, so the last allowed one flags the most
    return float(tp[best] / n_pos), float(thresholds[best])


BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0  # fixed: the same data always gets the same interval


def auc_confidence_interval(labels: Sequence[int], scores: Sequence[float],
                            clusters: Sequence[int] | None = None, level: float = 0.95,
                            resamples: int = BOOTSTRAP_RESAMPLES) -> tuple[float, float] | None:
    """Percentile bootstrap interval of the ROC AUC, resampling reals and fakes apart.

    ``clusters`` groups examples that are not independent (the frames of one video): whole
    clusters are then resampled, so a long video does not pass for many independent
    examples. None when either class has fewer than two clusters (no spread to sample).

    A resample is a count per cluster, not a copied array: the AUC of a resample is the
    Mann-Whitney statistic with every example weighted by how often its cluster was drawn,
    which costs one pass over the distinct scores (10,000 examples: well under a second).
    """
    y, s = _validate(labels, scores)
    ids = np.arange(len(y)) if clusters is None else np.asarray(clusters).ravel()
    if ids.shape != y.shape:
        raise ValueError(f"{ids.size} cluster ids but {y.size} labels")
    _, value_of = np.unique(s, return_inverse=True)  # rank of each example's distinct score
    n_values = int(value_of.max()) + 1
    classes = []
    for cls in (REAL, FAKE):
        members = np.flatnonzero(y == cls)
        _, cluster_of = np.unique(ids[members], return_inverse=True)
        classes.append((value_of[members], cluster_of, int(cluster_of.max(initial=-1)) + 1))
    if min(count for _, _, count in classes) < 2:
        return None
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    aucs = np.empty(resamples)
    for i in range(resamples):
        real, fake = (np.bincount(values, minlength=n_values, weights=np.bincount(
            rng.integers(0, count, count), minlength=count)[cluster_of])
            for values, cluster_of, count in classes)
        below = np.cumsum(real) - real  # real weight strictly below each distinct score
        aucs[i] = float((fake * (below + 0.5 * real)).sum() / (real.sum() * fake.sum()))
    tail = (1.0 - level) / 2.0 * 100.0
    return float(np.percentile(aucs, tail)), float(np.percentile(aucs, 100.0 - tail))


@dataclass(frozen=True)
class Metrics:
    """Detection quality on one set of scored examples."""

    n: int
    n_real: int
    n_fake: int
    auc: float | None
    average_precision: float | None
    tpr_at_1pct_fpr: float | None
    threshold_at_1pct_fpr: float | None
    abstained: int = 0
    note: str = ""
    auc_ci95: tuple[float, float] | None = None  # bootstrap, see auc_confidence_interval

    def to_dict(self) -> dict[str, Any]:
        def rounded(value: Any) -> Any:
            if isinstance(value, float):
                return round(value, 6)
            if isinstance(value, tuple):
                return [rounded(v) for v in value]
            return value

        return {k: rounded(v) for k, v in asdict(self).items()}


def compute_metrics(labels: Sequence[int], scores: Sequence[float], abstained: int = 0,
                    clusters: Sequence[int] | None = None) -> Metrics:
    """All metrics for one group; undefined ones are None with a note (e.g. no reals).

    ``clusters`` (one id per example) marks examples that belong together, such as the
    frames of one video, for the AUC's confidence interval.
    """
    y, s = _validate(labels, scores)
    n_fake = int(y.sum())
    n_real = len(y) - n_fake
    if not n_fake or not n_real:
        missing = "fake" if not n_fake else "real"
        return Metrics(len(y), n_real, n_fake, None, None, None, None, abstained,
                       note=f"no {missing} examples scored: metrics undefined")
    tpr, threshold = tpr_at_fpr(y, s, 0.01)
    note = "" if n_real >= 100 else f"only {n_real} real examples: 1% FPR is coarse"
    return Metrics(len(y), n_real, n_fake, roc_auc(y, s), average_precision(y, s), tpr,
                   threshold, abstained, note, auc_confidence_interval(y, s, clusters))


# --- labelled data -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelledFile:
    path: Path
    label: int  # REAL or FAKE


def load_labelled_dir(root: Path) -> list[LabelledFile]:
    """Files under ``root/real/`` and ``root/fake/`` (recursive, sorted)."""
    root = Path(root)
    found = []
    for name, label in (("real", REAL), ("fake", FAKE)):
        folder = root / name
        if folder.is_dir():
            found += [LabelledFile(p, label) for p in iter_files([folder])]
    if not found:
        raise DeepscreenError(f"{root}: expected files under real/ and fake/ subfolders")
    return found


def load_labelled_csv(path: Path) -> list[LabelledFile]:
    """Rows ``path,label`` (label real/fake or 0/1; a header row is allowed).

    Relative paths are taken relative to the CSV file's folder; ``$VAR`` in a path is
    replaced from the environment (``$DEEPSCREEN_DATA/synth-eval-q90/...``).
    """
    path = Path(path)
    try:
        rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    except (OSError, UnicodeDecodeError) as exc:
        raise DeepscreenError(f"cannot read {path}: {exc}") from exc
    found = []
    for number, row in enumerate(rows, 1):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        if len(row) < 2:
            raise DeepscreenError(f"{path}:{number}: expected 'path,label'")
        # $DEEPSCREEN_DATA-style variables let one committed CSV point into any data folder.
        file, word = os.path.expandvars(row[0].strip()), row[1].strip().lower()
        if number == 1 and word not in _LABEL_WORDS:
            continue  # a header
        if word not in _LABEL_WORDS:
            raise DeepscreenError(f"{path}:{number}: label {row[1]!r} is not real/fake or 0/1")
        file_path = Path(file)
        found.append(LabelledFile(file_path if file_path.is_absolute()
                                  else path.parent / file_path, _LABEL_WORDS[word]))
    if not found:
        raise DeepscreenError(f"{path}: no labelled rows")
    return found


# --- running -----------------------------------------------------------------------------------


@dataclass
class FileResult:
    """One labelled file after screening."""

    path: str
    label: int
    kind: str | None = None
    score: float | None = None
    abstained: str | None = None
    frame_scores: list[tuple[float, float]] = field(default_factory=list)  # (time_s, score)
    action: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["label"] = "fake" if self.label == FAKE else "real"
        data["frame_scores"] = [[t, round(s, 6)] for t, s in self.frame_scores]
        return data


def result_from_report(labelled: LabelledFile, report: Report | MediaError,
                       signal: str) -> FileResult:
    """Pick the signal's item score and per-frame scores out of a report."""
    result = FileResult(str(labelled.path), labelled.label)
    if isinstance(report, MediaError):
        result.error = str(report)
        return result
    result.kind, result.action = report.item.get("kind"), report.action
    if report.error:
        result.error = report.error.get("message")
    finding = report.finding(signal)
    if finding is None:
        result.abstained = f"signal {signal} did not run"
        return result
    result.score, result.abstained = finding.score, finding.abstained
    result.frame_scores = _frame_scores(finding.evidence, finding.score)
    return result


def _frame_scores(evidence: dict[str, Any], score: float | None) -> list[tuple[float, float]]:
    timeline = evidence.get("timeline")
    if isinstance(timeline, list):
        return [(float(p["time_s"]), float(p["score"])) for p in timeline
                if isinstance(p, dict) and isinstance(p.get("score"), int | float)]
    return [] if score is None else [(0.0, float(score))]


def evaluate_files(files: Sequence[LabelledFile], config: ScanConfig | None = None,
                   policy: Policy | None = None, signal: str = "faces", workers: int = 1,
                   on_result: Callable[[FileResult], None] | None = None
                   ) -> Iterator[FileResult]:
    """Screen every labelled file (in order) and yield its result."""
    by_path = {str(f.path): f for f in files}
    config = config or ScanConfig(signals=(signal,))
    for path, report in scan_paths([f.path for f in files], config, policy, workers=workers):
        result = result_from_report(by_path[str(path)], report, signal)
        if on_result is not None:
            on_result(result)
        yield result


def summarise(results: Iterable[FileResult]) -> dict[str, Metrics]:
    """Metrics per group: ``image``, ``video`` (item scores) and ``video-frames``."""
    groups: dict[str, tuple[list[int], list[float], list[int], list[int]]] = {}

    def add(group: str, label: int, score: float | None, cluster: int) -> None:
        labels, scores, clusters, abstained = groups.setdefault(group, ([], [], [], [0]))
        if score is None:
            abstained[0] += 1
        else:
            labels.append(label)
            scores.append(score)
            clusters.append(cluster)

    for number, r in enumerate(results):
        if r.kind not in ("image", "video"):
            continue  # errors and other media are reported per file, not scored
        add(r.kind, r.label, r.score, number)
        if r.kind == "video":
            for _, score in r.frame_scores:  # one video's frames resample together
                add("video-frames", r.label, score, number)
    return {name: compute_metrics(labels, scores, abstained[0], clusters)
            for name, (labels, scores, clusters, abstained) in groups.items()}
