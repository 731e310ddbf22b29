"""The ``generator`` signal: metadata written by AI image tools, on files made in each test."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from deepscreen.config import ScanConfig
from deepscreen.findings import Finding
from deepscreen.generators import PROMPT_LIMIT, read_declarations
from deepscreen.generators.sources import decode_user_comment
from deepscreen.media import decode, open_media
from deepscreen.scan import Scanner
from deepscreen.signals.generator import GeneratorSignal

INFOTEXT = (
    "photo of a duck, <lora:duckStyle_v2:0.8>\n"
    "Negative prompt: monochrome\n"
    "Steps: 15, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 5, Seed: 235284042, "
    'Size: 512x400, Model hash: c0d1994c73, Model: realisticVisionV20, '
    'Lora hashes: "duckStyle_v2: 0123abcd4567", Version: v1.9.4'
)

COMFY_PROMPT = {
    "3": {"class_type": "KSampler", "inputs": {
        "seed": 42, "steps": 20, "cfg": 7.5, "sampler_name": "euler", "scheduler": "normal",
        "denoise": 1.0, "model": ["10", 0], "positive": ["11", 0], "negative": ["7", 0],
        "latent_image": ["5", 0]}},
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd_xl_base.safetensors"}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a lighthouse at dusk",
                                                      "clip": ["10", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["10", 1]}},
    "10": {"class_type": "LoraLoader", "inputs": {
        "lora_name": "film_grain.safetensors", "strength_model": 0.6, "strength_clip": 1.0,
        "model": ["4", 0], "clip": ["4", 1]}},
    "11": {"class_type": "ConditioningSetArea", "inputs": {"conditioning": ["6", 0]}},
}


# --- fixtures: files written the way each tool writes them ------------------------------------

def plain_image(mode: str = "RGB", size: tuple[int, int] = (64, 48)) -> Image.Image:
    rng = np.random.default_rng(3)
    channels = len(mode)
    pixels = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    if mode == "RGBA":
        pixels[:, :, 3] = 255
    return Image.fromarray(pixels, mode)


def png_with_text(chunks: dict[str, str], itxt: bool = False,
                  image: Image.Image | None = None) -> bytes:
    info = PngInfo()
    for key, value in chunks.items():
        if itxt:
            info.add_itxt(key, value)
        else:
            info.add_text(key, value)
    buffer = io.BytesIO()
    (image or plain_image()).save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


def jpeg_with_exif(user_comment: bytes | None = None, **tags: str) -> bytes:
    exif = Image.Exif()
    names = {"Software": 0x0131, "ImageDescription": 0x010E, "Make": 0x010F}
    for name, value in tags.items():
        exif[names[name]] = value
    if user_comment is not None:
        exif.get_ifd(0x8769)[0x9286] = user_comment
    buffer = io.BytesIO()
    plain_image().save(buffer, "JPEG", exif=exif, quality=90)
    return buffer.getvalue()


def hide_stealth(image: Image.Image, payload: bytes, signature: str) -> Image.Image:
    """Write a stealth record the way the A1111 stealth-pnginfo extension does."""
    header = signature.encode() + (len(payload) * 8).to_bytes(4, "big")
    bits = np.unpackbits(np.frombuffer(header + payload, dtype=np.uint8))
    pixels = np.array(image)
    if signature.startswith("stealth_png"):
        plane = pixels[:, :, 3].T.copy()  # column-major: down each column in turn
        flat = plane.reshape(-1)
        flat[:len(bits)] = (flat[:len(bits)] & 0xFE) | bits
        pixels[:, :, 3] = plane.T
    else:
        planes = pixels[:, :, :3].transpose(1, 0, 2).copy()
        flat = planes.reshape(-1)
        flat[:len(bits)] = (flat[:len(bits)] & 0xFE) | bits
        pixels[:, :, :3] = planes.transpose(1, 0, 2)
    return Image.fromarray(pixels, image.mode)


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def screen(data: bytes) -> Finding:
    item = open_media(data)
    decode(item)
    assert item.decode_error is None, item.decode_error
    return GeneratorSignal(ScanConfig()).inspect(item)


def only_declaration(finding: Finding) -> dict:
    (declaration,) = finding.evidence["declarations"]
    return declaration


# --- AUTOMATIC1111 ---------------------------------------------------------------------------

@pytest.mark.parametrize("itxt", [False, True])
def test_a1111_png_parameters(itxt: bool) -> None:
    finding = screen(png_with_text({"parameters": INFOTEXT}, itxt=itxt))
    assert finding.labels == ("ai-declared", "generator:automatic1111")
    assert finding.score is None and finding.abstained is None
    declaration = only_declaration(finding)
    assert declaration["keys"] == ["parameters"]
    assert declaration["prompt"] == "photo of a duck, <lora:duckStyle_v2:0.8>"
    assert declaration["settings"] == {
        "steps": 15, "sampler": "DPM++ 2M", "scheduler": "Karras", "cfg_scale": 5,
        "seed": 235284042, "size": "512x400", "version": "v1.9.4"}
    assert declaration["models"] == [
        {"role": "checkpoint", "name": "realisticVisionV20", "hash": "c0d1994c73"},
        {"role": "lora", "name": "duckStyle_v2", "hash": "0123abcd4567", "weight": 0.8}]


@pytest.mark.parametrize("encoded", [
    b"UNICODE\x00" + INFOTEXT.encode("utf-16-be"),  # what A1111 writes (through piexif)
    b"UNICODE\x00" + INFOTEXT.encode("utf-16-le"),
    b"ASCII\x00\x00\x00" + INFOTEXT.encode("ascii"),
])
def test_a1111_jpeg_exif_user_comment(encoded: bytes) -> None:
    finding = screen(jpeg_with_exif(user_comment=encoded))
    assert "generator:automatic1111" in finding.labels
    declaration = only_declaration(finding)
    assert declaration["keys"] == ["exif:UserComment"]
    assert declaration["settings"]["seed"] == 235284042


def test_user_comment_prefixes() -> None:
    assert decode_user_comment(b"UNICODE\x00" + "Schön".encode("utf-16-be")) == "Schön"
    assert decode_user_comment(b"\x00" * 8 + b"plain") == "plain"


def test_camera_user_comment_is_not_a_declaration() -> None:
    finding = screen(jpeg_with_exif(user_comment=b"ASCII\x00\x00\x00holiday in Crete"))
    assert finding.abstained == "no generator metadata" and finding.labels == ()


@pytest.mark.parametrize("signature", ["stealth_pngcomp", "stealth_pnginfo",
                                       "stealth_rgbcomp", "stealth_rgbinfo"])
def test_a1111_stealth_lsb_metadata(signature: str) -> None:
    payload = INFOTEXT.encode()
    if signature.endswith("comp"):
        payload = gzip.compress(payload)
    mode = "RGBA" if signature.startswith("stealth_png") else "RGB"
    finding = screen(png_bytes(hide_stealth(plain_image(mode), payload, signature)))
    assert finding.labels == ("ai-declared", "generator:automatic1111")
    declaration = only_declaration(finding)
    assert declaration["keys"] == [f"lsb:{signature}"]
    assert declaration["settings"]["seed"] == 235284042
    assert declaration["models"][0]["name"] == "realisticVisionV20"


def test_stealth_with_corrupt_gzip_reports_the_problem() -> None:
    image = hide_stealth(plain_image("RGBA"), b"\x1f\x8b\x08\x00not really gzip",
                         "stealth_pngcomp")
    finding = screen(png_bytes(image))
    assert "generator:automatic1111" in finding.labels
    assert "not valid gzip" in only_declaration(finding)["problems"][0]


def test_stealth_with_impossible_length_reports_the_problem() -> None:
    image = hide_stealth(plain_image("RGBA"), b"x" * 10, "stealth_pnginfo")
    pixels = np.array(image)
    # Set every bit of the 32-bit length field (stream bits 120..151) to 1.
    plane = pixels[:, :, 3].T.reshape(-1).copy()
    plane[120:152] |= 1
    pixels[:, :, 3] = plane.reshape(pixels.shape[1], pixels.shape[0]).T
    finding = screen(png_bytes(Image.fromarray(pixels, "RGBA")))
    assert "exceeds" in only_declaration(finding)["problems"][0]


# --- ComfyUI ---------------------------------------------------------------------------------

def test_comfyui_prompt_graph() -> None:
    finding = screen(png_with_text({"prompt": json.dumps(COMFY_PROMPT),
                                    "workflow": json.dumps({"nodes": []})}))
    assert finding.labels == ("ai-declared", "generator:comfyui")
    declaration = only_declaration(finding)
    assert declaration["keys"] == ["prompt", "workflow"]
    # The prompt is the text linked to the sampler's positive input, through the area node.
    assert declaration["prompt"] == "a lighthouse at dusk"
    assert declaration["models"] == [
        {"role": "checkpoint", "name": "sd_xl_base.safetensors"},
        {"role": "lora", "name": "film_grain.safetensors", "weight": 0.6}]
    assert declaration["settings"] == {"seed": 42, "steps": 20, "cfg_scale": 7.5,
                                       "sampler": "euler", "scheduler": "normal", "denoise": 1.0}


def test_comfyui_workflow_only() -> None:
    workflow = {"nodes": [{"type": "UNETLoader", "widgets_values": ["flux1-dev.safetensors"]},
                          {"type": "KSampler", "widgets_values": [1, "fixed", 20]}]}
    declaration = only_declaration(screen(png_with_text({"workflow": json.dumps(workflow)})))
    assert declaration["models"] == [{"role": "diffusion-model",
                                      "name": "flux1-dev.safetensors"}]


def test_comfyui_bad_json_still_declares_with_the_problem() -> None:
    finding = screen(png_with_text({"prompt": '{"3": {"class_type": "KSampler", ',
                                    "workflow": "{not json"}))
    assert "generator:comfyui" in finding.labels
    problems = only_declaration(finding)["problems"]
    assert len(problems) == 2 and all("invalid JSON" in p for p in problems)


def test_a_plain_prompt_text_chunk_is_not_claimed_for_comfyui() -> None:
    finding = screen(png_with_text({"prompt": "my holiday snaps"}))
    assert finding.labels == ()


# --- InvokeAI, NovelAI, Fooocus --------------------------------------------------------------

def test_invokeai_metadata() -> None:
    metadata = {"positive_prompt": "an owl", "seed": 7, "steps": 30, "cfg_scale": 6.5,
                "scheduler": "euler", "model": {"model_name": "juggernautXL", "hash": "blake3:ab"}}
    declaration = only_declaration(screen(png_with_text(
        {"invokeai_metadata": json.dumps(metadata)})))
    assert declaration["tool"] == "invokeai" and declaration["prompt"] == "an owl"
    assert declaration["models"] == [{"role": "checkpoint", "name": "juggernautXL",
                                      "hash": "blake3:ab"}]


def test_invokeai_dream_command_line() -> None:
    declaration = only_declaration(screen(png_with_text(
        {"Dream": '"a red fox in snow" -s 50 -S 2980747362 -W 512 -H 768 -C 5 -A k_lms'})))
    assert declaration["prompt"] == "a red fox in snow"
    assert declaration["settings"] == {"steps": 50, "seed": 2980747362, "width": 512,
                                       "height": 768, "cfg_scale": 5, "sampler": "k_lms"}


def test_novelai_text_fields() -> None:
    finding = screen(png_with_text({
        "Software": "NovelAI", "Description": "cat, space", "Source": "Stable Diffusion 1D44365E",
        "Comment": json.dumps({"steps": 28, "sampler": "k_euler", "seed": 9, "scale": 11})}))
    # "Stable Diffusion" in NovelAI's Source field is its model, not a second tool.
    assert finding.labels == ("ai-declared", "generator:novelai")
    declaration = only_declaration(finding)
    assert declaration["settings"] == {"seed": 9, "steps": 28, "sampler": "k_euler",
                                       "cfg_scale": 11}


def test_novelai_stealth_json_record() -> None:
    record = {"Software": "NovelAI", "Description": "a castle", "Source": "NovelAI Diffusion V3",
              "Comment": json.dumps({"seed": 5, "steps": 28})}
    image = hide_stealth(plain_image("RGBA"), gzip.compress(json.dumps(record).encode()),
                         "stealth_pngcomp")
    declaration = only_declaration(screen(png_bytes(image)))
    assert declaration["tool"] == "novelai" and declaration["keys"] == ["lsb:stealth_pngcomp"]
    assert declaration["settings"] == {"seed": 5, "steps": 28}


def test_fooocus_json_parameters() -> None:
    parameters = {"prompt": "a goldfish", "base_model": "juggernautXL_v8",
                  "base_model_hash": "aeb7e9e689", "loras": [["detail.safetensors", 0.5]],
                  "seed": "695", "steps": 30, "version": "Fooocus v2.4.3"}
    finding = screen(png_with_text({"parameters": json.dumps(parameters),
                                    "fooocus_scheme": "fooocus"}))
    assert finding.labels == ("ai-declared", "generator:fooocus")
    assert only_declaration(finding)["models"][1] == {"role": "lora",
                                                      "name": "detail.safetensors", "weight": 0.5}


def test_fooocus_a1111_scheme() -> None:
    finding = screen(png_with_text({"parameters": INFOTEXT + ", Version: Fooocus v2.5.0",
                                    "fooocus_scheme": "a1111"}))
    assert finding.labels == ("ai-declared", "generator:fooocus")


def test_swarmui_json_parameters() -> None:
    parameters = {"sui_image_params": {"prompt": "a red kite", "model": "juggernautXL",
                                       "seed": 12, "steps": 25, "cfgscale": 6.5},
                  "sui_models": [{"name": "juggernautXL", "param": "model", "hash": "0xab12"}]}
    finding = screen(png_with_text({"parameters": json.dumps(parameters)}))
    assert finding.labels == ("ai-declared", "generator:swarmui")
    declaration = only_declaration(finding)
    assert declaration["models"] == [{"role": "checkpoint", "name": "juggernautXL",
                                      "hash": "0xab12"}]
    assert declaration["settings"] == {"seed": 12, "steps": 25, "cfg_scale": 6.5}


# --- generators known by name ----------------------------------------------------------------

def test_exif_software_names_a_generator() -> None:
    finding = screen(jpeg_with_exif(Software="Midjourney",
                                    ImageDescription="a cat --v 6 (made with midjourney)"))
    assert finding.labels == ("ai-declared", "generator:midjourney")
    assert only_declaration(finding)["keys"] == ["exif:Software", "exif:ImageDescription"]


def test_xmp_creator_tool_names_a_generator() -> None:
    xmp = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description '
           'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="DALL·E 3"/>'
           "</rdf:RDF></x:xmpmeta>")
    finding = screen(png_with_text({"XML:com.adobe.xmp": xmp}, itxt=True))
    assert finding.labels == ("ai-declared", "generator:dall-e")


def test_ordinary_software_tag_is_not_a_declaration() -> None:
    finding = screen(jpeg_with_exif(Software="Adobe Photoshop 25.0", Make="Canon"))
    assert finding.abstained == "no generator metadata"


# --- prompts, bad input, the pipeline --------------------------------------------------------

def test_long_prompt_is_truncated() -> None:
    text = "word " * 500 + "\nSteps: 20, Sampler: Euler, Seed: 1"
    prompt = only_declaration(screen(png_with_text({"parameters": text})))["prompt"]
    assert len(prompt) == PROMPT_LIMIT and prompt.endswith("…")


def test_image_without_metadata_abstains() -> None:
    finding = screen(png_bytes(plain_image("RGBA")))
    assert finding.score is None and finding.abstained == "no generator metadata"
    assert "proves nothing" in finding.evidence["caveat"]


def test_corrupt_exif_is_reported_not_raised() -> None:
    buffer = io.BytesIO()
    # An EXIF IFD pointer to offset 0xFFFFFF: past the end of the block.
    corrupt = (b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x01\x00\x69\x87\x04\x00\x01\x00"
               b"\x00\x00\xff\xff\xff\x00")
    plain_image().save(buffer, "JPEG", exif=corrupt)
    finding = screen(buffer.getvalue())
    assert finding.abstained == "no generator metadata"
    assert any("Corrupt EXIF" in problem for problem in finding.evidence["problems"])


def test_truncated_png_with_metadata_does_not_crash() -> None:
    data = png_with_text({"parameters": INFOTEXT}, image=plain_image(size=(300, 300)))
    item = open_media(data[: len(data) - 400])
    decode(item)
    finding = GeneratorSignal(ScanConfig()).inspect(item)
    assert isinstance(finding, Finding)


def test_scanner_labels_declared_image(home: Path) -> None:
    with Scanner(ScanConfig(signals=("generator",))) as scanner:
        report = scanner.scan(png_with_text({"parameters": INFOTEXT}))
    assert report.verdict.action == "label"


def test_read_declarations_api() -> None:
    image = Image.open(io.BytesIO(png_with_text({"parameters": INFOTEXT})))
    assert read_declarations(image).tools == ["automatic1111"]


# --- real files from sd-parsers and ComfyUI_examples -----------------------------------------

EXPECTED_TOOL = {
    "AUTOMATIC1111": "automatic1111",
    "ComfyUI": "comfyui",
    "Fooocus": "fooocus",
    "InvokeAI": "invokeai",
    "NovelAI": "novelai",
}


def test_every_real_sample_names_its_tool(shared_data: Path) -> None:
    folder = shared_data / "provenance" / "generator-metadata"
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    assert len(files) >= 18
    for path in files:
        expected = EXPECTED_TOOL[path.name.split("_")[0]]
        item = open_media(path)
        decode(item)
        finding = GeneratorSignal(ScanConfig()).inspect(item)
        assert finding.labels == ("ai-declared", f"generator:{expected}"), path.name
        json.dumps(finding.to_dict())  # evidence must serialise into a report
        for declaration in finding.evidence["declarations"]:
            assert "problems" not in declaration, (path.name, declaration["problems"])
            assert len(declaration.get("prompt", "")) <= PROMPT_LIMIT


def test_bad_real_images_do_not_crash(shared_data: Path) -> None:
    with Scanner(ScanConfig(signals=("generator",))) as scanner:
        for path in sorted((shared_data / "provenance" / "bad-images").iterdir()):
            report = scanner.scan(path)
            (finding,) = [f for f in report.findings if f.signal == "generator"]
            assert "signal-error" not in finding.labels, path.name
