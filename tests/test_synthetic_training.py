"""Training-side pieces of the ``synthetic`` detector (needs the ``train`` extra: torch)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")

from deepscreen.synthetic import npr_residual  # noqa: E402
from train.synthetic.autoencoders import TinyAutoencoderF2, UpsamplerAutoencoder  # noqa: E402
from train.synthetic.data import augment, residual_energy  # noqa: E402
from train.synthetic.export import export_onnx  # noqa: E402
from train.synthetic.generators import _aligned_crop, common_reencode, dev_pieces  # noqa: E402
from train.synthetic.model import CLASSES, NPRPatchNet  # noqa: E402
from train.synthetic.model import npr_residual as torch_npr  # noqa: E402


def test_the_torch_residual_is_the_numpy_reference() -> None:
    x = np.random.default_rng(0).random((2, 3, 64, 64)).astype(np.float32)
    assert np.allclose(torch_npr(torch.from_numpy(x)).numpy(), npr_residual(x), atol=1e-7)


def test_the_exported_onnx_gives_the_torch_logits(tmp_path: Path) -> None:
    import onnxruntime as ort

    torch.manual_seed(0)
    model = NPRPatchNet().eval()
    path = tmp_path / "m.onnx"
    export_onnx(model, path)
    x = torch.rand(5, 3, 64, 64)
    (onnx_logits,) = ort.InferenceSession(str(path)).run(["logits"], {"patches": x.numpy()})
    with torch.no_grad():
        assert np.allclose(onnx_logits, model(x).numpy(), atol=1e-4)
    assert onnx_logits.shape == (5, len(CLASSES))


def test_the_tiny_flux2_autoencoder_has_the_published_layer_layout() -> None:
    model = TinyAutoencoderF2()
    encoder, decoder = model.encoder.state_dict(), model.decoder.state_dict()
    # The names and shapes taef2_*.pth use (they load with strict=True in generators.py).
    assert encoder["0.weight"].shape == (64, 3, 3, 3) and encoder["14.weight"].shape == (32, 64, 3, 3)
    assert encoder["11.pool.1.weight"].shape == (256,)  # group norm of the channel-mixing branch
    assert decoder["1.weight"].shape == (64, 32, 3, 3) and decoder["19.weight"].shape == (3, 64, 3, 3)
    with torch.no_grad():
        assert model.reconstruct(torch.rand(1, 3, 64, 64)).shape == (1, 3, 64, 64)


@pytest.mark.parametrize("upsampler", ["nearest", "bilinear", "transposed"])
def test_upsampler_autoencoders_keep_the_size(upsampler: str) -> None:
    with torch.no_grad():
        assert UpsamplerAutoencoder(upsampler)(torch.rand(2, 3, 64, 64)).shape == (2, 3, 64, 64)


def test_aligned_crops_sit_on_the_8x8_grid_and_augmented_patches_are_64px() -> None:
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (300, 410, 3), dtype=np.uint8))
    for _ in range(10):
        crop = _aligned_crop(image, rng)
        assert crop.size[0] == crop.size[1] and crop.size[0] % 8 == 0 and 64 <= crop.size[0] <= 128
    patch = augment(np.asarray(image)[:128, :128], rng, fake=True, upscale_p=1.0)
    assert patch.shape == (64, 64, 3) and patch.dtype == np.uint8


def test_residual_energy_separates_a_smoothed_twin() -> None:
    sharp = np.random.default_rng(1).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    smooth = np.asarray(Image.fromarray(sharp).resize((64, 64)).resize((128, 128), Image.BILINEAR))
    assert residual_energy(smooth) < 0.5 * residual_energy(sharp)


def test_the_common_reencoding_drops_metadata_and_caps_the_size() -> None:
    image = Image.new("RGB", (2000, 1000), (120, 30, 200))
    exif = Image.Exif()
    exif[0x0131] = "SomeGenerator 1.0"  # Software
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", exif=exif)
    with Image.open(io.BytesIO(common_reencode(Image.open(io.BytesIO(buffer.getvalue()))))) as out:
        assert out.format == "JPEG" and out.size == (1024, 512) and not out.getexif()


def test_sample_grids_become_tiles_and_ordinary_images_stay_whole() -> None:
    assert len(dev_pieces(Image.new("RGB", (1024, 768)))) == 1
    tiles = dev_pieces(Image.new("RGB", (2048, 1536)))
    assert len(tiles) == 4 and all(t.size == (512, 512) for t in tiles)
