"""Write the development files as a ``path,label`` CSV for ``deepscreen eval --signal voice``.

The training report (``python -m train.voice.train``) scores the cached windows under every
condition; this CSV runs the same files, as they were published, through the product itself
(decoder, signal, shipped ONNX), so the two paths can be compared.

    python -m train.voice.devcsv /work/data/voice-dev.csv [--no-classical]
    deepscreen eval --signal voice --csv /work/data/voice-dev.csv --out scores.jsonl
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from train import manifest

from .dataset import class_of, voice_rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.voice.devcsv", description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--data-root", type=Path, default=manifest.DEFAULT_DATA_ROOT)
    parser.add_argument("--no-classical", action="store_true", help="leave espeak-ng/flite out")
    args = parser.parse_args(argv)
    rows = [r for r in voice_rows("dev-eval") if not (args.no_classical and r.set == "voice-classical-fake")]
    with open(args.out, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label"])
        for row in rows:
            writer.writerow([str(row.local_path(args.data_root)), "fake" if class_of(row.set) else "real"])
    print(f"{len(rows)} development files -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
