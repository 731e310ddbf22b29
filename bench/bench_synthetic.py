"""Development evaluation of the ``synthetic`` detector: per source and per condition.

Every development image (sources disjoint from training, see train/synthetic/sources.py)
is decoded, cut into tiles if it is a sample grid, and put through each condition:

- ``q90``: the common re-encoding (metadata dropped, <= 1024 px, JPEG quality 90);
- ``q95``, ``q75``, ``q60``: the same at other JPEG qualities;
- ``down75``, ``down50``: down-scaled to 75% / 50% (Lanczos), then JPEG q90.

For each condition: the AUC of each generated source against all development reals, the
share of each source flagged at the model's threshold, and the AUC of the groups the issue
names (StyleGAN faces vs real faces; diffusion images vs all reals).

    python bench/bench_synthetic.py                    # NPR model shipped in src/deepscreen/models
    python bench/bench_synthetic.py --model-dir DIR --spectral --json out.json
    python bench/bench_synthetic.py --write            # also rewrite its BENCHMARKS.md section

Needs the data of train/data-manifest.csv under $DEEPSCREEN_DATA (python -m train.manifest rebuild).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deepscreen.evaluate import roc_auc
from deepscreen.synthetic import SyntheticDetector, SyntheticModel
from train import manifest
from train.synthetic.generators import DEV_SETS, common_reencode, dev_pieces

CONDITIONS: dict[str, tuple[float, int]] = {
    "q90": (1.0, 90),
    "q95": (1.0, 95),
    "q75": (1.0, 75),
    "q60": (1.0, 60),
    "down75": (0.75, 90),
    "down50": (0.5, 90),
}
# Groups the targets name. "unseen" excludes the one generator seen in training.
GROUPS = {
    "stylegan-faces-vs-real-faces": (("synth-dev-stylegan3",), ("synth-dev-utk-real", "synth-dev-video")),
    "diffusion-vs-all-reals": (
        ("synth-dev-sd1", "synth-dev-sd2", "synth-dev-comfyui", "synth-dev-ml72:ai"),
        None,
    ),
    "gan-vs-all-reals": (("synth-dev-stylegan3", "synth-dev-dcgan"), None),
    "unseen-generators-vs-all-reals": (
        (
            "synth-dev-stylegan3",
            "synth-dev-dcgan",
            "synth-dev-sd1",
            "synth-dev-sd2",
            "synth-dev-comfyui",
            "synth-dev-ml72:ai",
        ),
        None,
    ),
}


def load_dev(data_root: Path) -> list[tuple[str, int, Image.Image]]:
    """(source, label, decoded RGB piece) for every development image."""
    items = []
    for set_name, label in DEV_SETS.items():
        for path in manifest.files_of(set_name, data_root, role="dev-eval"):
            fake = label == "fake" or (label == "by-folder" and "/ai/" in str(path))
            source = set_name + (
                ":ai" if fake and label == "by-folder" else ":real" if label == "by-folder" else ""
            )
            with Image.open(path) as im:
                for piece in dev_pieces(im.convert("RGB")):
                    items.append((source, int(fake), piece))
    return items


def apply_condition(image: Image.Image, scale: float, quality: int) -> np.ndarray:
    if scale != 1.0:
        image = image.resize(
            (max(1, round(image.width * scale)), max(1, round(image.height * scale))),
            Image.Resampling.LANCZOS,
        )
    with Image.open(io.BytesIO(common_reencode(image, quality))) as im:
        return np.asarray(im.convert("RGB"))


def evaluate(
    score: Callable[[np.ndarray], float | None],
    threshold: float,
    items: list[tuple[str, int, Image.Image]],
    conditions: list[str],
) -> dict[str, dict[str, object]]:
    results: dict[str, dict[str, object]] = {}
    for condition in conditions:
        scale, quality = CONDITIONS[condition]
        rows = []
        for source, label, image in items:
            value = score(apply_condition(image, scale, quality))
            rows.append((source, label, value))
        results[condition] = summarise(rows, threshold)
    return results


def summarise(rows: list[tuple[str, int, float | None]], threshold: float) -> dict[str, object]:
    scored = [(s, y, v) for s, y, v in rows if v is not None]
    reals = [v for s, y, v in scored if y == 0]
    out: dict[str, object] = {
        "abstained": len(rows) - len(scored),
        "n_real": len(reals),
        "real_flagged": round(float(np.mean(np.asarray(reals) >= threshold)), 4),
    }
    per_source: dict[str, dict[str, object]] = {}
    for source in sorted({s for s, _, _ in scored}):
        values = [v for s, _, v in scored if s == source]
        label = next(y for s, y, _ in scored if s == source)
        entry: dict[str, object] = {
            "n": len(values),
            "flagged": round(float(np.mean(np.asarray(values) >= threshold)), 4),
            "median_score": round(float(np.median(values)), 4),
        }
        if label == 1:
            entry["auc_vs_all_reals"] = round(
                roc_auc([0] * len(reals) + [1] * len(values), reals + values), 4
            )
        per_source[source] = entry
    out["sources"] = per_source
    groups = {}
    for name, (fakes, real_sources) in GROUPS.items():
        fake_values = [v for s, y, v in scored if y == 1 and s in fakes]
        real_values = (
            reals if real_sources is None else [v for s, y, v in scored if y == 0 and s in real_sources]
        )
        if fake_values and real_values:
            groups[name] = {
                "auc": round(
                    roc_auc([0] * len(real_values) + [1] * len(fake_values), real_values + fake_values), 4
                ),
                "n_fake": len(fake_values),
                "n_real": len(real_values),
                "fake_flagged": round(float(np.mean(np.asarray(fake_values) >= threshold)), 4),
            }
    out["groups"] = groups
    everything = [v for _, y, v in scored]
    out["auc_all"] = round(roc_auc([y for _, y, _ in scored], everything), 4)
    return out


def _cell(results: dict[str, dict[str, object]], condition: str, *keys: str) -> object:
    """results[condition][keys...], or None where a source was not scored (all abstained)."""
    value: object = results[condition]
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def markdown(name: str, results: dict[str, dict[str, object]]) -> str:
    conditions = list(results)
    lines = [
        f"**{name}**",
        "",
        "| source / group | " + " | ".join(conditions) + " |",
        "|---|" + "---|" * len(conditions),
    ]

    def fmt(value: object, pattern: str) -> str:
        return "-" if not isinstance(value, int | float) else format(value, pattern)

    first = results[conditions[0]]
    for group in first["groups"]:  # type: ignore[union-attr]
        cells = [fmt(_cell(results, c, "groups", group, "auc"), ".3f") for c in conditions]
        lines.append(f"| AUC {group} | " + " | ".join(cells) + " |")
    lines.append(
        "| AUC all | " + " | ".join(fmt(_cell(results, c, "auc_all"), ".3f") for c in conditions) + " |"
    )
    lines.append(
        "| reals flagged (all) | "
        + " | ".join(fmt(_cell(results, c, "real_flagged"), ".1%") for c in conditions)
        + " |"
    )
    for source, entry in first["sources"].items():  # type: ignore[union-attr]
        if "auc_vs_all_reals" in entry:
            cells = [
                f"{fmt(_cell(results, c, 'sources', source, 'auc_vs_all_reals'), '.3f')} / "
                f"{fmt(_cell(results, c, 'sources', source, 'flagged'), '.0%')}"
                for c in conditions
            ]
            lines.append(f"| {source} (n={entry['n']}): AUC / flagged | " + " | ".join(cells) + " |")
        else:
            cells = [fmt(_cell(results, c, "sources", source, "flagged"), ".1%") for c in conditions]
            lines.append(f"| {source} (n={entry['n']}, real): flagged | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-root", type=Path, default=manifest.DEFAULT_DATA_ROOT)
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument(
        "--spectral", action="store_true", help="also the spectral baseline (trains it first)"
    )
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--write", action="store_true", help="rewrite the BENCHMARKS.md section")
    parser.add_argument(
        "--conditions", default=",".join(CONDITIONS), help="comma-separated subset of: %(default)s"
    )
    args = parser.parse_args(argv)
    started = time.time()
    conditions = [c for c in args.conditions.split(",") if c]
    unknown = set(conditions) - set(CONDITIONS)
    if unknown:
        parser.error(f"unknown condition(s) {sorted(unknown)}; known: {', '.join(CONDITIONS)}")
    items = load_dev(args.data_root)
    model = SyntheticModel(args.model_dir)
    detector = SyntheticDetector(model)

    def npr_score(rgb: np.ndarray) -> float | None:
        return detector.score(rgb).score if min(rgb.shape[:2]) >= detector.min_side else None

    report = {"npr": evaluate(npr_score, model.info.threshold, items, conditions)}
    if args.spectral:
        from train.synthetic.spectral import train_spectral

        spectral = train_spectral(args.data_root)
        cal = [
            spectral.score(np.asarray(Image.open(io.BytesIO(common_reencode(Image.open(p)))).convert("RGB")))
            for s in ("synth-coco128", "synth-facemask-real", "synth-aaf-real")
            for p in manifest.files_of(s, args.data_root, role="calibration")
        ]
        threshold = float(np.quantile(cal, 0.99))

        def spectral_score(rgb: np.ndarray) -> float | None:
            return spectral.score(rgb) if min(rgb.shape[:2]) >= 64 else None

        report["spectral"] = evaluate(spectral_score, threshold, items, conditions)
        report["spectral_threshold"] = threshold  # type: ignore[assignment]
    if args.json:  # first: the tables below are only a view of it
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    thresholds = {"npr": model.info.threshold, "spectral": report.get("spectral_threshold")}
    text = "\n\n".join(
        markdown(f"{name} (threshold {thresholds[name]:.3f})", result)  # type: ignore[arg-type]
        for name, result in report.items()
        if name in thresholds
    )
    print(text)
    print(f"\n{len(items)} development images, {time.time() - started:.0f} s", file=sys.stderr)
    if args.write:
        from bench.benchmarks_file import write_section

        write_section(
            "## Generated-image detection quality (synthetic, issue #19)",
            "## Generated-image detection quality (synthetic, issue #19)\n\n"
            f"Command: `python bench/bench_synthetic.py{' --spectral' if args.spectral else ''}` "
            f"({len(items)} development images, sources disjoint from training; each cell "
            "AUC against all development reals / share flagged at the threshold).\n\n" + text + "\n",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
