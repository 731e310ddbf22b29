"""The face data sets this project gathers from public repositories: what, where, terms, roles.

Each :class:`Source` names the repository and commit a set comes from, which files of it are
faces, how files group by person (so a person's photos never straddle roles), the terms the
data is under and the share of each role. ``train.face_data`` extracts, checks and splits them
and writes ``train/data-manifest.csv``; ``train/DATA.md`` describes the result.

Role shares are taken by person: a group (one identity, or one collection hour where the
source records no identity) goes whole to one role, chosen from a hash of its name, so the
split is stable when files are added. A source whose terms only allow evaluation, or that is
kept out of training to measure generalisation, is ``dev-eval`` whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

ROLE_ORDER = ("train", "calibration", "dev-eval")


@dataclass(frozen=True)
class Source:
    set: str  # manifest set name, faces-...
    repo: str  # OWNER/NAME on GitHub
    commit: str  # the 40-hex commit the files are read at
    include: tuple[str, ...]  # regular expressions over repository paths (any may match)
    licence: str  # the data's terms in a few words (the manifest's licence column)
    population: str  # who and what is in it (for the model card)
    shares: dict[str, float]  # role -> fraction of groups; sums to 1
    group: str | None = None  # regex whose first group names a file's person (None: one group)
    group_note: str = "identity"  # what a group is (identity, collection hour, ...)
    exclude: tuple[str, ...] = ()
    label: str = "real"  # real or fake
    kind: str = ""  # for fakes: the manipulation (one-shot-swap, reenactment, ...)
    limit: int | None = None  # keep at most this many files (a stable hash-ordered sample)
    notes: tuple[str, ...] = field(default_factory=tuple)
    terms: str = ""  # the terms in full, as the source states them (train/DATA.md)

    def __post_init__(self) -> None:
        if set(self.shares) - set(ROLE_ORDER) or abs(sum(self.shares.values()) - 1.0) > 1e-9:
            raise ValueError(f"{self.set}: shares must be roles summing to 1, got {self.shares}")
        if len(self.shares) > 1 and self.group is None:
            raise ValueError(f"{self.set}: a split source needs a group pattern (by person)")

    def selects(self, path: str) -> bool:
        return (any(re.search(p, path) for p in self.include)
                and not any(re.search(p, path) for p in self.exclude))

    def group_of(self, path: str) -> str:
        if self.group is None:
            return self.set
        match = re.search(self.group, path)
        if match is None:
            raise ValueError(f"{self.set}: {path} does not match the group pattern {self.group!r}")
        return match.group(1).lower()


_DEV = {"dev-eval": 1.0}
_SPLIT = {"train": 0.7, "calibration": 0.15, "dev-eval": 0.15}

SOURCES: tuple[Source, ...] = (
    Source(
        set="faces-cmd-rmfd", repo="chandrikadeb7/Face-Mask-Detection",
        licence="MIT repository; RMFD web photos (photographers keep rights)",
        commit="7e500749401bad4bb338790fbdb89b58e41ef2d9",
        include=(r"^dataset/without_mask/\d+_\d+_[a-z]+_\d+\.jpg$",),
        group=r"^dataset/without_mask/\d+_\d+_([a-z]+)_\d+\.jpg$", shares=_SPLIT,
        terms="repository MIT (code and dataset folder); the unmasked faces come from RMFD "
              "(Real-World Masked Face Dataset, X-zhangyang) web photos of public figures, whose "
              "photographers keep their rights",
        population="East Asian actors and singers, tight web crops about 120-160 px, mixed JPEG "
                   "quality, frontal to three-quarter",
    ),
    Source(
        set="faces-cmd-web", repo="chandrikadeb7/Face-Mask-Detection",
        licence="MIT repository; web photos (photographers keep rights): eval only",
        commit="7e500749401bad4bb338790fbdb89b58e41ef2d9",
        include=(r"^dataset/without_mask/\d+\.jpg$",), shares=_DEV,
        terms="repository MIT; images gathered from Bing image search and Kaggle sets, "
              "photographers keep their rights: evaluation only",
        population="web and phone photos of ordinary people, South Asian, White, Black and "
                   "Latino, children to elderly, 150-450 px",
        notes=("identities unknown, so the whole source is development evaluation",),
    ),
    Source(
        set="faces-utkface", repo="Mohanish-5744/Major_Ensemble_Gender",
        licence="UTKFace: non-commercial research only",
        commit="2f8aa4a5932c395d465f4f58d864b6a17a1b03f6",
        include=(r"^crop_part1/\d+_\d_\d_\d{17}\.jpg\.chip\.jpg$",),
        group=r"_(\d{10})\d{7}\.jpg\.chip\.jpg$", group_note="collection hour",
        shares=_SPLIT,
        terms="UTKFace (Zhang, Song, Qi 2017) crop_part1 as committed in this repository: "
              "non-commercial research use only; image copyright stays with the original owners",
        population="aligned 200x200 crops, ages 1-116, filename race label: White 54%, Black 4%, "
                   "Asian 16%, Indian 15%, other 11%",
        notes=("UTKFace records no identity: files are grouped by the hour of their collection "
               "timestamp, so photos taken together stay in one role",),
    ),
    Source(
        set="faces-london", repo="debruine/webmorphR.stim",
        licence="CC BY 4.0 (Face Research Lab London Set)",
        commit="fa8b78fda2d659bb74ce62fcd99c4407551d2a77",
        include=(r"^inst/(neutral|smiling)_front/\d{3}_0[38]\.jpg$",),
        group=r"/(\d{3})_0[38]\.jpg$", shares=_SPLIT,
        terms="CC BY 4.0: DeBruine, L. & Jones, B. (2017) Face Research Lab London Set, "
              "doi:10.6084/m9.figshare.5047666 (signed consent for research and publication)",
        population="102 adults photographed in London 2012, neutral and smiling, 1350x1350 "
                   "studio, self-reported African, East Asian, West Asian and White",
    ),
    Source(
        set="faces-canada", repo="debruine/webmorphR.stim",
        licence="CC BY 4.0 (DeBruine & Jones 2017 Canada set)",
        commit="fa8b78fda2d659bb74ce62fcd99c4407551d2a77",
        include=(r"^inst/canada/\d{3}[fm]\.jpg$",), group=r"/(\d{3})[fm]\.jpg$", shares=_SPLIT,
        terms="CC BY 4.0: DeBruine, L. & Jones, B. (2017) Young Adult White Faces with "
              "Manipulated Versions, doi:10.6084/m9.figshare.4220517 (originals only)",
        population="40 White university students in Ontario, studio, pupil-aligned, 1350x1350 as committed",
    ),
    Source(
        set="faces-3dsk", repo="debruine/webmorphR.stim",
        licence="CC BY on 3D.sk derivatives for educational use: eval only",
        commit="fa8b78fda2d659bb74ce62fcd99c4407551d2a77",
        include=(r"^inst/3dsk/(fe)?male/[a-z0-9]+\.jpg$",), shares=_DEV,
        terms="CC BY (DeBruine & Jones 2020, doi:10.17605/OSF.IO/A3947) on derivatives of "
              "3D.sk photos licensed for educational use: evaluation only",
        population="50 White men and 50 White women aged 18-35, studio, high resolution",
    ),
    Source(
        set="faces-deepface", repo="serengil/deepface",
        licence="MIT repository; press photos (photographers keep rights): eval only",
        commit="243209fd7b46ecdecf72665cc25219f6e8181f25",
        include=(r"^tests/unit/dataset/img\d+\.jpg$", r"^tests/unit/dataset/couple\.jpg$"),
        shares=_DEV,
        terms="repository MIT; the test photos are press and web photos of public figures "
              "whose photographers keep their rights: evaluation only",
        population="news, red-carpet and web photos of public figures, several per person, "
                   "400-4000 px, several ethnicities",
    ),
    Source(
        set="faces-humans", repo="logicdeveloperTR/Manually-Created-Face-Recognition-Model",
        licence="no licence; Kaggle Human Faces web scrape: eval only",
        commit="5f6ff72faec3faa90f4c25a2a9716148f9b4e571",
        include=(r"(?i)^Humans/[^/]+\.(jpe?g|png)$",), shares=_DEV, limit=2500,
        terms="no licence in the repository; the images are the Kaggle 'Human Faces' set "
              "(ashwingupta3012), web-scraped portraits whose photographers keep their rights: "
              "evaluation only",
        population="web, stock and editorial portraits, every age from children to the very old, "
                   "many ethnicities, colour and black-and-white, all resized to 160x160 "
                   "(aspect not kept)",
        notes=("the Kaggle page says a few GAN-generated faces are mixed in: files whose "
               "landmarks sit at the FFHQ alignment (where StyleGAN faces sit) are dropped",),
    ),
    Source(
        set="faces-liveportrait-video", repo="KwaiVGI/LivePortrait",
        commit="abcf7204dd31b6e36afce92e4aff2fbb2afe75d8",
        include=(r"^assets/examples/driving/d[12578]\.mp4$",), shares=_DEV,
        licence="MIT repository; real driving clips: eval only",
        terms="repository MIT (code and example assets); the clips' original source is not "
              "stated, so they are used for evaluation only. These five driving clips were "
              "removed from the repository after this commit (the other clips are the shared "
              "video-real set)",
        population="five real people filmed frontally in a studio, 480-512 px square, 0.5-9 s",
    ),
)

# Manipulated faces published by the tools themselves, with the real pictures they pair with.
# A smoke test of modern swaps beside the FaceForensics++ crops (development evaluation only).
_DFL = ("iperov/DeepFaceLab", "46fc2397c582b9fc375a023418257924112e292b")
_SIMSWAP = ("neuralchen/SimSwap", "bd7b7686a17f41dd11cfcd5d82f7e4c5eb94b780")
_GHOST = ("ai-forever/ghost", "ea23cce2543a5933a22cbe98bb2973b8550a3ba1")
_DFL_TERMS = ("repository GPL-3.0 (code); the README's example frames are stills of public "
              "videos and of deepfakes made with the tool: evaluation only")
_SIMSWAP_TERMS = ("repository CC BY-NC 4.0 (non-commercial): evaluation only; the photos are of "
                  "public figures whose photographers keep their rights")
_GHOST_TERMS = ("repository Apache-2.0 (code and examples); the photos are of public figures "
                "whose photographers keep their rights: evaluation only")

TOOL_SOURCES: tuple[Source, ...] = (
    Source(
        set="faces-swap-dfl", repo=_DFL[0], commit=_DFL[1], label="fake",
        licence="GPL-3.0 repository; film and deepfake stills: eval only",
        kind="DeepFaceLab autoencoder swaps: face and head replacement, de-ageing, lip edits",
        include=(r"^doc/(deage_0_2|head_replace_[012]_2|political_speech[23]|replace_the_face)"
                 r"\.jpg$",), shares=_DEV, terms=_DFL_TERMS,
        population="film and speech stills of public figures, 380-1920 px, one collage of 12 swaps",
    ),
    Source(
        set="faces-dfl-real", repo=_DFL[0], commit=_DFL[1],
        licence="GPL-3.0 repository; film and deepfake stills: eval only",
        include=(r"^doc/(deage_0_1|head_replace_[012]_1)\.jpg$",), shares=_DEV,
        terms=_DFL_TERMS, population="the original frames the README shows beside the swaps",
    ),
    Source(
        set="faces-swap-simswap", repo=_SIMSWAP[0], commit=_SIMSWAP[1], label="fake",
        licence="CC BY-NC 4.0: eval only",
        kind="SimSwap one-shot identity swap (whole-image results)",
        include=(r"^output/result\.jpg$", r"^docs/img/result_whole_swap_multispecific_512\.jpg$"),
        shares=_DEV, terms=_SIMSWAP_TERMS, population="video frames, 1080p-1712p, 1-3 faces",
    ),
    Source(
        set="faces-simswap-real", repo=_SIMSWAP[0], commit=_SIMSWAP[1],
        licence="CC BY-NC 4.0: eval only",
        include=(r"^crop_224/[a-z0-9_]+\.jpg$", r"^demo_file/multi_people\.jpg$",
                 r"^docs/img/id/(anni|chenglong|zhoujielun|zhuyin|wuyifan)\.(jpg|png)$"),
        shares=_DEV, terms=_SIMSWAP_TERMS,
        population="224 px tight face crops of public figures (the tool's identity inputs), "
                   "and the real frame its multi-face swap starts from",
    ),
    Source(
        set="faces-swap-ghost", repo=_GHOST[0], commit=_GHOST[1], label="fake",
        licence="Apache-2.0 repository; photos of public figures: eval only",
        kind="GHOST (SberSwap) one-shot identity swap", include=(r"^examples/results/result\.png$",),
        shares=_DEV, terms=_GHOST_TERMS, population="one full-resolution swap result",
    ),
    Source(
        set="faces-ghost-real", repo=_GHOST[0], commit=_GHOST[1],
        licence="Apache-2.0 repository; photos of public figures: eval only",
        include=(r"^examples/images/(beckham|elon_musk|mark|murakami)\.jpg$",
                 r"^examples/images/training/(source|target)\d\.png$"),
        shares=_DEV, terms=_GHOST_TERMS,
        population="the tool's example inputs: web photos and 224 px crops of public figures",
    ),
)


ALL_SOURCES = SOURCES + TOOL_SOURCES


def by_set() -> dict[str, Source]:
    return {source.set: source for source in ALL_SOURCES}
