"""Training and serving preprocess alike: BT.601 luma, EXIF orientation, three equal channels, resize, normalize."""
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from logo_detector.backend_gluoncv import DetectionDataset, ValTransform
from logo_detector.manifest import Box, Sample
from logo_detector.preprocessing import (MEAN, STD, ImageDecodeError, load_luma, model_input, model_pixels, preprocess,
                                         sniff_image_type)


def encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def colour_image(width=300, height=200) -> Image.Image:
    rng = np.random.default_rng(3)
    return Image.fromarray(rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8), "RGB")


def test_luma_is_itu_r_bt601():
    pixels = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [200, 100, 50]]], dtype=np.uint8)
    luma = load_luma(encode(Image.fromarray(pixels, "RGB"), "PNG"))
    assert luma.tolist() == [[76, 150, 29, 124]]


def test_exif_orientation_turns_the_image_like_sharps_auto_orient():
    pixels = np.zeros((20, 40), dtype=np.uint8)
    pixels[:, :10] = 255  # a bright band on the left of the stored pixels
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    luma = load_luma(encode(Image.fromarray(pixels, "L").convert("RGB"), "JPEG", exif=exif, quality=100))
    assert luma.shape == (40, 20)
    assert luma[:10].mean() > 200 and luma[-10:].mean() < 50  # the left band is now on top


@pytest.mark.parametrize("size", [(300, 200), (100, 600), (256, 256)])
def test_training_validation_and_serving_see_identical_arrays(tmp_path: Path, size):
    width, height = size
    data = encode(colour_image(width, height), "JPEG", quality=90)
    path = tmp_path / "image.jpg"
    path.write_bytes(data)
    sample = Sample(path, width, height, (Box(0, 10, 10, 50, 60),))

    training_tensor, label = ValTransform(256)(*DetectionDataset([sample])[0])
    serving_tensor, served_width, served_height = preprocess(data, 256)

    assert (served_width, served_height) == (width, height)
    np.testing.assert_array_equal(training_tensor.asnumpy(), serving_tensor)
    assert serving_tensor.shape == (3, 256, 256) and serving_tensor.dtype == np.float32
    np.testing.assert_allclose(label.asnumpy()[0, :4], [10 * 256 / width, 10 * 256 / height,
                                                        50 * 256 / width, 60 * 256 / height], rtol=1e-6)


def test_model_input_is_grey_in_every_channel_and_imagenet_normalized():
    tensor, _, _ = preprocess(encode(colour_image(), "PNG"), 128)
    std, mean = np.asarray(STD, dtype=np.float32)[:, None, None], np.asarray(MEAN, dtype=np.float32)[:, None, None]
    pixels = tensor * std + mean
    np.testing.assert_allclose(pixels[0], pixels[1], atol=1e-5)
    np.testing.assert_allclose(pixels[1], pixels[2], atol=1e-5)
    assert 0.0 <= pixels.min() and pixels.max() <= 1.0


@pytest.mark.parametrize("shape", [(200, 300), (600, 100), (2, 3)])
def test_model_input_is_bit_for_bit_the_normalization_arithmetic_on_the_resized_pixels(shape):
    luma = np.random.default_rng(5).integers(0, 256, size=shape, dtype=np.uint8)
    luma.flat[:256] = np.arange(256)[: luma.size]  # every gray level that fits
    scaled = model_pixels(luma, 128).astype(np.float32) / np.float32(255.0)
    mean, std = np.asarray(MEAN, dtype=np.float32)[:, None, None], np.asarray(STD, dtype=np.float32)[:, None, None]
    expected = (scaled[None, :, :] - mean) / std

    tensor = model_input(luma, 128)

    assert tensor.dtype == np.float32 and tensor.shape == (3, 128, 128)
    np.testing.assert_array_equal(tensor, expected)


def test_image_type_comes_from_magic_bytes():
    assert sniff_image_type(encode(colour_image(), "JPEG")) == "image/jpeg"
    assert sniff_image_type(encode(colour_image(), "PNG")) == "image/png"
    assert sniff_image_type(encode(colour_image(), "GIF")) is None


def test_a_truncated_image_is_a_decode_error():
    with pytest.raises(ImageDecodeError):
        load_luma(encode(colour_image(), "JPEG")[:200])
