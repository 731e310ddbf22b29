"""Real and synthetic speech from public repositories, sorted into manifest sets.

Each set holds one class (its name ends in ``-real`` or ``-fake``) from one source, with one
role. Sources were chosen so that the development sets share no system with training:

- ``SpeechResearch/speechresearch.github.io`` (Microsoft's TTS demo pages): ground-truth
  recordings (LJSpeech, VCTK, LibriTTS) and FastSpeech 1/2, AdaSpeech 1-4, Tacotron 2,
  TransformerTTS, MultiSpeech, LightSpeech, PriorGrad, vocoder re-synthesis (PWG, HiFi-GAN,
  WaveGlow, MelGAN, Griffin-Lim) for training. Its NaturalSpeech 2/3 pages (zero-shot TTS:
  NaturalSpeech 2/3, VALL-E, YourTTS, VoiceBox, StyleTTS 2, HierSpeech++, Mega-TTS, UniAudio,
  neural codecs) are held out for development, with their ground truth and prompts.
  Singing, noisy/enhanced speech and pages whose columns cannot be told apart from file
  names alone are left out.
- ``neonbjb/tortoise-tts`` (Apache-2.0): Tortoise output (an autoregressive + diffusion
  family seen nowhere in training) and its real reference voices: development only.
- ``resemble-ai/Resemblyzer`` (Apache-2.0; LibriSpeech CC BY 4.0): 251 train-clean-100
  speakers for training; 10 test-other speakers, and real/cloned interview segments of one
  public figure, for development.
- ``Jakobovski/free-spoken-digit-dataset`` (CC BY-SA 4.0): spoken digits by 6 speakers,
  8 kHz; joined into digit strings by ``generators`` (4 speakers train, 2 development).

``python -m train.voice.sources`` extracts the files from the local git mirrors into
``DATA_ROOT/SET/PATH`` and writes their rows with :func:`train.manifest.replace_set`.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from train import manifest

AUDIO = re.compile(r"\.(wav|mp3|flac)$", re.IGNORECASE)


@dataclass(frozen=True)
class Repo:
    name: str
    commit: str
    licence: str


SPEECHRESEARCH = Repo("SpeechResearch/speechresearch.github.io", "cf44b305452e8f13b02dbe44d41120bf56042f1f",
                      "no licence file (public demo page); recordings from LJSpeech (public domain), "
                      "VCTK (CC BY 4.0), LibriTTS/LibriSpeech (CC BY 4.0)")
TORTOISE = Repo("neonbjb/tortoise-tts", "8a2563ecabe93c4fb626f876dd0c52c966edef2f", "Apache-2.0")
RESEMBLYZER = Repo("resemble-ai/Resemblyzer", "15d828edebe06bc72b9cabc8ef8ca5ab2cb457ce",
                   "Apache-2.0; LibriSpeech CC BY 4.0")
# The same repository's interview clips are cut from a public video: third-party copyright,
# used here only to measure, never to train.
RESEMBLYZER_INTERVIEW = Repo(RESEMBLYZER.name, RESEMBLYZER.commit,
                             "Apache-2.0 repository; clips of a public interview video (third-party "
                             "copyright), development evaluation only")
FSDD = Repo("Jakobovski/free-spoken-digit-dataset", "26eb9aaf76e81b692f806f9140c2d2777410d7a1",
            "CC BY-SA 4.0")

# SpeechResearch pages that are not plain read speech, or whose real and synthetic files
# cannot be told apart by their names.
_SR_SKIP = re.compile(r"^audio/(denoispeech|deepsinger|telemelody|popmag|songmass|binauralgrad|lrspeech|"
                      r"prompttts2|200|super|unsuper|uwspeech|adaspeech3/Transfer|adaspeech2/Analyses|"
                      r"adaspeech2/Lj|adaspeech/14 review2|mpbert)/|^naturalspeech2/audio/(singing|se)/|"
                      r"^naturalspeech3/audio/attr/")
# A folder or file name that marks a real recording (ground truth, reference or prompt).
_REAL_FOLDER = {"gt", "recording", "real", "ref", "prompt", "source", "gt_recording_2", "gnenralsentence"}
_REAL_STEM = re.compile(r"^(gt\d*|recording_\d+|reference|ref\d*|src|\d+_prompt|out\d+_gt|\d+_gt|"
                        r"[\w-]*\d+-\d+-\d+)$", re.IGNORECASE)
# Folders holding a mix whose non-real column is ambiguous (AdaSpeech 2 'recording' is an
# adaptation condition, not a recording).
_SR_AMBIGUOUS = re.compile(r"^audio/adaspeech2/(228F|245M)/recording/")


def speechresearch_class(path: str) -> str | None:
    """'real', 'fake' or None (left out) for a file of the SpeechResearch demo pages."""
    if not path.startswith(("audio/", "naturalspeech2/", "naturalspeech3/")):
        return None  # the other pages (PopMAG, ...) are music
    if _SR_SKIP.search(path) or _SR_AMBIGUOUS.search(path):
        return None
    parts = PurePosixPath(path).parts
    folders = {p.lower() for p in parts[:-1]}
    stem = PurePosixPath(path).stem
    if folders & _REAL_FOLDER or _REAL_STEM.match(stem):
        # recon/gt holds LibriSpeech names; elsewhere a LibriSpeech-like name is a codec output.
        if _REAL_STEM.match(stem) and "-" in stem and "gt" not in folders:
            return "fake"
        return "real"
    return "fake"


def speechresearch_system(path: str) -> str:
    """The system (demo page and column) a SpeechResearch file belongs to, for per-source tables."""
    parts = PurePosixPath(path).parts
    if parts[0] == "audio":
        parts = parts[1:]
    return "/".join(p for p in parts[:-1] if p != "audio")[:60] or parts[0]


CALIBRATION_PERCENT = 15


def calibration_key(set_name: str, path: str) -> str:
    """The recording a file stands for: a vocoder's output counts as its source recording, so a
    re-synthesised calibration file never trains the model while its original calibrates it."""
    if set_name in ("voice-world-fake", "voice-griffinlim-fake"):
        return path.split("/", 1)[1].removesuffix(".wav")
    return path


def role_for(set_name: str, path: str, role: str) -> str:
    """``calibration`` for a fixed 15% of a training set's recordings (threshold, early stop)."""
    if role != "train" or set_name in ("voice-fsdd-digits",):
        return role
    return "calibration" if zlib.crc32(calibration_key(set_name, path).encode()) % 100 < CALIBRATION_PERCENT \
        else role


def assign_calibration(rows: list[manifest.Row]) -> list[manifest.Row]:
    return [manifest.Row(r.set, role_for(r.set, r.path, "train" if r.role == "calibration" else r.role),
                         r.source, r.commit, r.path, r.sha256, r.licence) for r in rows]


def _is_heldout_speechresearch(path: str) -> bool:
    return path.startswith(("naturalspeech2/", "naturalspeech3/"))


@dataclass(frozen=True)
class SetSpec:
    name: str
    role: str
    repo: Repo
    select: Callable[[str], bool]


def _sr(cls: str, heldout: bool) -> Callable[[str], bool]:
    return lambda p: (speechresearch_class(p) == cls and _is_heldout_speechresearch(p) == heldout)


def _fsdd_speaker(path: str) -> str:
    return PurePosixPath(path).stem.split("_")[1]


FSDD_TRAIN_SPEAKERS = ("george", "jackson", "nicolas", "theo")
FSDD_DEV_SPEAKERS = ("lucas", "yweweler")

SETS: tuple[SetSpec, ...] = (
    SetSpec("voice-sr-real", "train", SPEECHRESEARCH, _sr("real", False)),
    SetSpec("voice-sr-fake", "train", SPEECHRESEARCH, _sr("fake", False)),
    SetSpec("voice-ns-real", "dev-eval", SPEECHRESEARCH, _sr("real", True)),
    SetSpec("voice-ns-fake", "dev-eval", SPEECHRESEARCH, _sr("fake", True)),
    SetSpec("voice-tortoise-fake", "dev-eval", TORTOISE, lambda p: p.startswith("examples/")),
    SetSpec("voice-tortoise-real", "dev-eval", TORTOISE, lambda p: p.startswith("tortoise/voices/")),
    SetSpec("voice-libri-real", "train", RESEMBLYZER,
            lambda p: p.startswith("audio_data/librispeech_train-clean-100/")),
    SetSpec("voice-libritest-real", "dev-eval", RESEMBLYZER,
            lambda p: p.startswith("audio_data/librispeech_test-other/")),
    SetSpec("voice-interview-real", "dev-eval", RESEMBLYZER_INTERVIEW,
            lambda p: p.startswith("audio_data/donald_trump/real/")),
    SetSpec("voice-interview-fake", "dev-eval", RESEMBLYZER_INTERVIEW,
            lambda p: p.startswith("audio_data/donald_trump/fake/")),
    SetSpec("voice-fsdd-digits", "train", FSDD,
            lambda p: p.startswith("recordings/") and _fsdd_speaker(p) in FSDD_TRAIN_SPEAKERS),
    SetSpec("voice-fsdd-digits-dev", "dev-eval", FSDD,
            lambda p: p.startswith("recordings/") and _fsdd_speaker(p) in FSDD_DEV_SPEAKERS),
)


def _git_dir(repo: Repo, mirror: Path) -> Path:
    local = mirror / repo.name.replace("/", "+")
    for candidate in (local / "repo", local):
        if (candidate / "HEAD").exists():
            return candidate
    raise FileNotFoundError(f"no mirror of {repo.name} under {mirror} (fetch it first)")


def list_audio(repo: Repo, mirror: Path) -> list[str]:
    out = subprocess.run(["git", f"--git-dir={_git_dir(repo, mirror)}", "ls-tree", "-r", "--name-only", "-z",
                          repo.commit], capture_output=True, check=True).stdout.decode()
    return sorted(p for p in out.split("\0") if p and AUDIO.search(p))


def gather(spec: SetSpec, mirror: Path, data_root: Path) -> list[manifest.Row]:
    """Extract the set's files from the mirror and return their manifest rows."""
    git_dir = _git_dir(spec.repo, mirror)
    chosen = [p for p in list_audio(spec.repo, mirror) if spec.select(p)]
    root = data_root / spec.name
    files = []
    for path in chosen:
        target = root / path
        blob = subprocess.run(["git", f"--git-dir={git_dir}", "show", f"{spec.repo.commit}:{path}"],
                              capture_output=True, check=True).stdout
        if len(blob) < 200 or blob.startswith(b"version https://git-lfs"):
            continue  # an LFS pointer or an empty placeholder, not audio
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(blob)
        files.append(target)
    return manifest.rows_for_files(spec.name, spec.role, f"github:{spec.repo.name}", spec.repo.commit,
                                   root, files, spec.repo.licence)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.voice.sources", description=__doc__.split("\n")[0])
    parser.add_argument("--mirror", type=Path, default=manifest.DEFAULT_MIRROR)
    parser.add_argument("--data-root", type=Path, default=manifest.DEFAULT_DATA_ROOT)
    parser.add_argument("--set", action="append", dest="sets")
    parser.add_argument("--roles-only", action="store_true",
                        help="extract nothing; re-apply the calibration split to every voice row")
    args = parser.parse_args(argv)
    if args.roles_only:
        rows = manifest.read()
        manifest.write([*assign_calibration([r for r in rows if r.set.startswith("voice-")]),
                        *[r for r in rows if not r.set.startswith("voice-")]])
        counts = Counter((r.set, r.role) for r in manifest.read() if r.set.startswith("voice-"))
        for (name, role), n in sorted(counts.items()):
            print(f"{name:26s} {role:11s} {n:5d}")
        return 0
    for spec in SETS:
        if args.sets and spec.name not in args.sets:
            continue
        rows = assign_calibration(gather(spec, args.mirror, args.data_root))
        manifest.replace_set(spec.name, rows)
        print(f"{spec.name:24s} {spec.role:9s} {len(rows):5d} files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
