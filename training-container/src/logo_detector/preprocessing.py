"""The one preprocessing contract shared by training and serving.

An image becomes ITU-R BT.601 luma (grayscale, as the pipeline stores it), oriented by its EXIF tag the way the
pipeline's sharp ``rotate()`` auto-orients; the model sees that luma replicated to three channels, resized to
``data_shape`` x ``data_shape`` and normalized with the ImageNet mean and standard deviation.
"""
import io
import warnings
from typing import Optional, Tuple

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
BT601 = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# Larger images are refused rather than decoded (a decompression bomb costs memory before it costs time).
MAX_PIXELS = 50_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class ImageDecodeError(ValueError):
    """The bytes claim to be an image but cannot be decoded (truncated, corrupt or too large)."""


def sniff_image_type(data: bytes) -> Optional[str]:
    """``image/jpeg`` or ``image/png`` from the file signature, else None."""
    if data.startswith(JPEG_MAGIC):
        return "image/jpeg"
    if data.startswith(PNG_MAGIC):
        return "image/png"
    return None


def load_luma(data: bytes) -> npt.NDArray[np.uint8]:
    """Decodes JPEG or PNG bytes into an EXIF-oriented HxW uint8 luma array."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as stored:
                image = ImageOps.exif_transpose(stored)
                if image.mode == "L":
                    return np.asarray(image, dtype=np.uint8).copy()
                rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    except Exception as err:  # noqa: BLE001 - Pillow raises many types on hostile input; all mean "not decodable"
        raise ImageDecodeError(f"cannot decode the image: {err}") from None
    luma: npt.NDArray[np.uint8] = np.clip(np.rint(rgb @ BT601), 0, 255).astype(np.uint8)
    return luma


def gray3(luma: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Luma replicated to an HxWx3 uint8 image, the form the model's (RGB-trained) first layer expects."""
    return np.repeat(luma[:, :, np.newaxis], 3, axis=2)


def _interpolation(height: int, width: int, size: int) -> int:
    if size < height and size < width:
        return cv2.INTER_AREA
    if size > height and size > width:
        return cv2.INTER_CUBIC
    return cv2.INTER_LINEAR


def model_input(luma: npt.NDArray[np.uint8], data_shape: int) -> npt.NDArray[np.float32]:
    """The model's view of an image: a 3 x data_shape x data_shape float32 array, normalized.

    Resizes with area interpolation when shrinking and cubic when enlarging, as MXNet's automatic choice does.
    """
    height, width = luma.shape
    resized = cv2.resize(luma, (data_shape, data_shape), interpolation=_interpolation(height, width, data_shape))
    scaled = resized.astype(np.float32) / 255.0
    mean = np.asarray(MEAN, dtype=np.float32)[:, None, None]
    std = np.asarray(STD, dtype=np.float32)[:, None, None]
    normalized: npt.NDArray[np.float32] = (scaled[None, :, :] - mean) / std
    return normalized


def preprocess(data: bytes, data_shape: int) -> Tuple[npt.NDArray[np.float32], int, int]:
    """Bytes to (model input, oriented width, oriented height): the path both training validation and serving take."""
    luma = load_luma(data)
    return model_input(luma, data_shape), luma.shape[1], luma.shape[0]
