"""A PDF's embedded images as archive members (``doc.pdf!page3-img1.jpg``), read with pypdf.

Images are found where a viewer draws them from: each page's image XObjects, and those of
the form XObjects it draws (nested forms included, each form once). An image used on several
pages is screened once; the later uses are listed with the name of the first. A JPEG
(DCTDecode) image is screened as the JPEG bytes the PDF holds; any other (Flate, LZW, CCITT,
run-length, raw samples) is decoded by pypdf, within its own output limits (75 MB per stream),
and screened as a lossless PNG of those pixels, so its digests are those of that PNG. The
pixel limit is checked on the declared /Width and /Height before a stream is decompressed.

Not screened: inline images (BI ... EI in a content stream, small by design), images no
page draws, and vector drawings.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..errors import MediaError
from .archive_tree import ArchiveTree, Entry

if TYPE_CHECKING:
    from .item import Item

# pypdf warns (logging) about every repaired defect of a broken PDF; the outcome is ours
# to report, so those warnings would only bury the screening log.
logging.getLogger("pypdf").setLevel(logging.ERROR)

_MAX_FORM_DEPTH = 8
_JPEG_FILTERS = ("/DCTDecode", "/DCT")
_JPEG2000_FILTERS = ("/JPXDecode",)


class PdfImages:
    format = "pdf"

    def __init__(self, item: Item, tree: ArchiveTree) -> None:
        from pypdf import PdfReader

        self.item, self.tree = item, tree
        self.stream = io.BytesIO(_up_to_last_eof(item.read_bytes()))
        try:
            self.pdf = PdfReader(self.stream, strict=False)
            if self.pdf.is_encrypted and not self._decrypts():
                raise MediaError("encrypted", "the PDF is encrypted with a password: its images "
                                              "cannot be screened")
        except MediaError:
            self.stream.close()
            raise
        except Exception as exc:  # pypdf raises many types on hostile input
            self.stream.close()
            raise MediaError("decode-failed", f"cannot read the PDF: {type(exc).__name__}: {exc}"
                             ) from exc

    def _decrypts(self) -> bool:
        """Many PDFs are encrypted with an empty user password (only editing is locked)."""
        try:
            return bool(self.pdf.decrypt(""))
        except Exception:  # a missing AES backend, a malformed /Encrypt dictionary
            return False

    def entries(self) -> list[Entry]:
        limits = self.item.limits
        try:
            count = len(self.pdf.pages)
        except Exception as exc:
            raise MediaError("decode-failed", f"cannot read the PDF's pages: "
                                              f"{type(exc).__name__}: {exc}") from exc
        if count > limits.pdf_max_pages:
            raise MediaError("pdf-too-many-pages", f"the PDF has {count:,} pages, over the limit "
                                                   f"of {limits.pdf_max_pages:,} (pdf_max_pages)")
        entries: list[Entry] = []
        first_use: dict[Any, str] = {}
        left = limits.archive_max_members - self.tree.entries
        for number in range(1, count + 1):
            self.tree.check_time()
            try:
                page = self.pdf.pages[number - 1]
                images = list(_images(page.get("/Resources"), 0, set()))
            except MediaError:
                raise
            except Exception as exc:
                raise MediaError("decode-failed", f"cannot read page {number} of the PDF: "
                                                  f"{type(exc).__name__}: {exc}") from exc
            for index, image in enumerate(images, 1):
                name = f"page{number}-img{index}.{_extension(image)}"
                key = _identity(image)
                entries.append(Entry(name, "file", None, None, handle=image,
                                     same_as=first_use.get(key)))
                first_use.setdefault(key, name)
                if len(entries) > left:
                    raise MediaError("archive-too-many-members",
                                     f"the PDF holds more than the {left:,} images left of the "
                                     f"limit of {limits.archive_max_members:,} (archive_max_members)")
        return entries

    def read(self, entry: Entry) -> bytes:
        image = entry.handle
        limits = self.item.limits
        try:
            width, height = int(image.get("/Width", 0)), int(image.get("/Height", 0))
            if width <= 0 or height <= 0:
                raise MediaError("decode-failed", f"the image declares an empty size {width}x{height}")
            if width * height > limits.max_pixels:
                raise MediaError("too-many-pixels",
                                 f"the image declares {width}x{height} = {width * height:,} pixels, "
                                 f"over the limit of {limits.max_pixels:,} (a possible "
                                 f"decompression bomb)")
            if _last_filter(image) in _JPEG_FILTERS + _JPEG2000_FILTERS:
                data = bytes(image.get_data())  # filters before DCT decoded; DCT passed through
            else:
                buffer = io.BytesIO()
                image.decode_as_image().save(buffer, format="PNG", compress_level=1)
                data = buffer.getvalue()
        except MediaError:
            raise
        except Exception as exc:  # pypdf and Pillow raise many types on hostile input
            raise MediaError("decode-failed", f"cannot extract the image: "
                                              f"{type(exc).__name__}: {exc}") from exc
        if len(data) > limits.max_bytes:
            raise MediaError("too-large", f"the image is {len(data):,} bytes, over the limit of "
                                          f"{limits.max_bytes:,}")
        self.tree.take_bytes(len(data))
        return data

    def close(self) -> None:
        self.stream.close()


def _up_to_last_eof(data: bytes) -> bytes:
    """The PDF up to its last ``%%EOF`` marker (found in C, in microseconds).

    pypdf looks for the marker line by line backwards from the end of the file, which takes
    seconds per megabyte of trailing junk (found by bench/fuzz.py: 4 MB appended to a PDF
    took 2-14 s); what follows the last marker is no part of the document anyway.
    """
    end = data.rfind(b"%%EOF")
    if end < 0:
        raise MediaError("decode-failed", "the PDF has no %%EOF marker: it is truncated or "
                                          "not a PDF")
    return data[:end + 5] + b"\n" if end + 5 + 1024 < len(data) else data


def _images(resources: Any, depth: int, forms_seen: set[Any]) -> Iterator[Any]:
    """Image XObjects drawn from these resources, in resource order, forms followed."""
    resources = _resolved(resources)
    if not hasattr(resources, "get"):
        return
    xobjects = _resolved(resources.get("/XObject"))
    if not hasattr(xobjects, "items"):
        return
    for _, reference in xobjects.items():
        xobject = _resolved(reference)
        if not hasattr(xobject, "get"):
            continue
        subtype = xobject.get("/Subtype")
        if subtype == "/Image":
            yield xobject
        elif subtype == "/Form" and depth < _MAX_FORM_DEPTH:
            key = _identity(xobject)
            if key not in forms_seen:
                forms_seen.add(key)
                yield from _images(xobject.get("/Resources"), depth + 1, forms_seen)


def _resolved(value: Any) -> Any:
    return value.get_object() if hasattr(value, "get_object") else value


def _identity(obj: Any) -> Any:
    ref = getattr(obj, "indirect_reference", None)
    return (ref.idnum, ref.generation) if ref is not None else id(obj)


def _last_filter(image: Any) -> str | None:
    filters = _resolved(image.get("/Filter"))
    if isinstance(filters, list):
        filters = _resolved(filters[-1]) if filters else None
    return str(filters) if filters is not None else None


def _extension(image: Any) -> str:
    last = _last_filter(image)
    if last in _JPEG_FILTERS:
        return "jpg"
    if last in _JPEG2000_FILTERS:
        return "jp2"
    return "png"
