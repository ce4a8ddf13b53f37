"""The one preprocessing shared by training and serving: the canonical transform, then the model's view of it.

The canonical transform turns an image's bytes into the gray pixels the model learns from and is served. Its
reference is the pipeline's preprocess Lambda (``lambda/preprocess/image.ts``, ``canonicalImage``, sharp); this
module implements the same steps with Pillow and is tested against the reference's output on a generated corpus
(``tests/test_parity.py``):

1. Check before decoding: JPEG, PNG or WebP by the file signature (the bytes decide, not a name or a media type),
   and at most ``MAX_PIXELS`` pixels by the header.
2. Decode (an animated WebP: its first frame). Embedded ICC profiles are ignored: pixel values are taken as sRGB.
3. Apply the EXIF orientation (tags 1 to 8; JPEG, PNG eXIf and WebP EXIF).
4. 16-bit samples become 8-bit by keeping their high byte (v >> 8, a scaling by 1/256).
5. Transparency is flattened onto white: v' = v*a + 255*(1 - a).
6. One gray conversion: ITU-R BT.601 luma of the encoded values, Y = round(0.299 R + 0.587 G + 0.114 B) (Pillow's
   16-bit fixed point). CMYK first becomes RGB without colour management, R = (255 - K) - round(C*(255 - K)/255).
7. One downsizing rule: with s = max(1, longest side / max_side), each side becomes max(1, round(side / s)).

Luma is linear in the encoded values, so flattening, gray conversion and resampling commute up to rounding: Pillow
converts first and sharp resamples first, and both give the same image (up to the resampling kernels: sharp's
shrink-on-load and Lanczos 3 against libjpeg's scaled decoding and area averaging here).

Decoding here is bounded: a JPEG is decoded at reduced size (libjpeg's 1/2, 1/4 or 1/8 scaling, "draft" mode) to
8-bit RGB and converted on that small image; everything else is reduced to one byte of gray per pixel as soon as it
is decoded, then area-averaged down by whole factors first. No float copy is ever made at full size, and the pixel
limit is checked from the header before anything is decoded.

The model then sees the canonical image stretched to ``data_shape`` x ``data_shape`` (area interpolation when
shrinking, cubic when enlarging), replicated to three channels and normalized with the ImageNet mean and std.
"""
import io
import logging
from dataclasses import dataclass
from typing import Optional, Tuple

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFile

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)

# The image contract, as contracts/images.ts states it for the TypeScript side (tests/test_parity.py compares them).
ACCEPTED_FORMATS = {"jpeg": ("JPEG", "image/jpeg"), "png": ("PNG", "image/png"), "webp": ("WebP", "image/webp")}
ACCEPTED_FORMATS_TEXT = "JPEG, PNG and WebP"
MAX_IMAGE_MEGAPIXELS = 16
MAX_PIXELS = MAX_IMAGE_MEGAPIXELS * 1_000_000
# The downsizing rule's longest side: the pipeline's default preprocessMaxSide, ample for a 512-pixel model input.
CANONICAL_MAX_SIDE = 1024
# Pillow's own bomb check stays as a backstop; the header check below refuses larger images before Pillow sees them.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

_PILLOW_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
_BMFF_BRANDS = {"heic": "HEIC", "heix": "HEIC", "hevc": "HEIC", "hevx": "HEIC", "heim": "HEIC", "heis": "HEIC",
                "mif1": "HEIF", "msf1": "HEIF", "avif": "AVIF", "avis": "AVIF"}
_HEIC_HINT = ("Convert it to JPEG first: on a Mac, sips -s format jpeg photo.heic --out photo.jpg; on Linux, "
              "heif-convert photo.heic photo.jpg. iPhones save JPEG when Settings > Camera > Formats is set to "
              "Most Compatible.")
# EXIF orientation tag -> the Pillow transpose that shows the image upright (as ImageOps.exif_transpose does).
_ORIENTATION = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
                5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
                8: Image.Transpose.ROTATE_90}

logger = logging.getLogger("logo_detector.preprocessing")


class ImageError(ValueError):
    """An image the sender must fix: ``status`` and ``code`` for an HTTP answer, a message written for the sender.

    ``detail`` holds what the decoder said, for the log only: it can carry library internals.
    """

    status = 400
    code = "invalid_image"

    def __init__(self, message: str, detail: str = ""):
        super().__init__(message)
        self.message, self.detail = message, detail


class UnsupportedFormatError(ImageError):
    """Not a JPEG, PNG or WebP by its first bytes."""

    status = 415
    code = "unsupported_image"


class ImageTooLargeError(ImageError):
    """More than ``MAX_PIXELS`` pixels by the header."""

    status = 413
    code = "image_too_large"


class ImageDecodeError(ImageError):
    """The bytes start like an accepted format but cannot be decoded: truncated, corrupt or an unreadable header."""


def sniff_image_format(data: bytes) -> Tuple[Optional[str], Optional[str]]:
    """(accepted format, other format's name) from the file signature: ("png", None), (None, "GIF") or (None, None)."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg", None
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png", None
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp", None
    other = None
    if data.startswith(b"GIF8"):
        other = "GIF"
    elif data.startswith((b"II*\x00", b"MM\x00*")):
        other = "TIFF"
    elif len(data) >= 12 and data[4:8] == b"ftyp" and data[8:12].decode("latin-1") in _BMFF_BRANDS:
        other = _BMFF_BRANDS[data[8:12].decode("latin-1")]
    elif data.startswith((b"\xff\x0a", b"\x00\x00\x00\x0cJXL ")):
        other = "JPEG XL"
    elif data.startswith(b"\x00\x00\x00\x0cjP  "):
        other = "JPEG 2000"
    elif data.startswith(b"BM") and len(data) >= 18 and data[14] in (12, 40, 52, 56, 108, 124):
        other = "BMP"
    elif data.startswith(b"8BPS"):
        other = "PSD"
    elif data.startswith(b"%PDF-"):
        other = "PDF"
    return None, other


def sniff_image_type(data: bytes) -> Optional[str]:
    """The media type of an accepted format (``image/jpeg``, ``image/png``, ``image/webp``) from its signature."""
    accepted, _ = sniff_image_format(data)
    return ACCEPTED_FORMATS[accepted][1] if accepted else None


def unsupported_format_message(other: Optional[str]) -> str:
    """The one message that refuses another format, at every door (as contracts/images.ts words it)."""
    if other is None:
        return (f"The file is not a {ACCEPTED_FORMATS_TEXT.replace(' and ', ' or ')} image (judged by its first bytes, "
                f"whatever its name or Content-Type says). Accepted formats are {ACCEPTED_FORMATS_TEXT}.")
    hint = _HEIC_HINT if other in ("HEIC", "HEIF", "AVIF") else "Convert it to JPEG or PNG first."
    return f"The image is {other}; accepted formats are {ACCEPTED_FORMATS_TEXT}. {hint}"


def megapixels(width: int, height: int) -> str:
    """Megapixels with one decimal, rounded half up in integers (as the TypeScript side prints them)."""
    tenths = (width * height + 50_000) // 100_000
    return f"{tenths // 10}.{tenths % 10}"


def too_large_message(width: int, height: int) -> str:
    """The one message that refuses an image over the pixel limit, at every door."""
    return (f"Image too large: {megapixels(width, height)} MP ({width}x{height} pixels), limit {MAX_IMAGE_MEGAPIXELS} "
            "MP. Downsize it and try again: the model sees 512x512 pixels, so 1024 pixels on the longest side loses "
            "nothing.")


def _jpeg_size(b: bytes) -> Optional[Tuple[int, int]]:
    i = 2
    while i + 1 < len(b):
        if b[i] != 0xFF:
            return None
        marker = b[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        i += 2
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:
            continue
        if marker in (0xD9, 0xDA) or i + 2 > len(b):
            return None
        length = int.from_bytes(b[i:i + 2], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if i + 7 > len(b):
                return None
            return int.from_bytes(b[i + 5:i + 7], "big"), int.from_bytes(b[i + 3:i + 5], "big")
        if length < 2:
            return None
        i += length
    return None


def _png_size(b: bytes) -> Optional[Tuple[int, int]]:
    if len(b) < 24 or b[12:16] != b"IHDR":
        return None
    return int.from_bytes(b[16:20], "big"), int.from_bytes(b[20:24], "big")


def _webp_size(b: bytes) -> Optional[Tuple[int, int]]:
    if len(b) < 30:
        return None
    chunk = b[12:16]
    if chunk == b"VP8 " and b[23:26] == b"\x9d\x01\x2a":
        return int.from_bytes(b[26:28], "little") & 0x3FFF, int.from_bytes(b[28:30], "little") & 0x3FFF
    if chunk == b"VP8L" and b[20] == 0x2F:
        bits = int.from_bytes(b[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        return int.from_bytes(b[24:27], "little") + 1, int.from_bytes(b[27:30], "little") + 1
    return None


@dataclass(frozen=True)
class ImageHeader:
    """An accepted image's format and stored size (before EXIF orientation), read without decoding a pixel."""

    format: str
    width: int
    height: int


def read_image_header(data: bytes) -> Optional[ImageHeader]:
    """The format and stored size of an accepted image from its header alone; None when unreadable or not accepted."""
    accepted, _ = sniff_image_format(data)
    if accepted is None:
        return None
    size = {"jpeg": _jpeg_size, "png": _png_size, "webp": _webp_size}[accepted](data)
    if size is None or size[0] < 1 or size[1] < 1:
        return None
    return ImageHeader(accepted, size[0], size[1])


def check_image_header(data: bytes) -> ImageHeader:
    """The checks every door makes before decoding: an accepted format, a readable header, the pixel limit.

    Raises ``UnsupportedFormatError``, ``ImageDecodeError`` (unreadable header) or ``ImageTooLargeError``.
    """
    accepted, other = sniff_image_format(data)
    if accepted is None:
        raise UnsupportedFormatError(unsupported_format_message(other))
    header = read_image_header(data)
    if header is None:
        raise ImageDecodeError(f"The {ACCEPTED_FORMATS[accepted][0]} header is truncated or malformed: no image size "
                               "can be read from it.")
    if header.width * header.height > MAX_PIXELS:
        raise ImageTooLargeError(too_large_message(header.width, header.height))
    return header


def fitted_size(width: int, height: int, max_side: int) -> Tuple[int, int]:
    """The downsizing rule: longest side at most ``max_side``, aspect kept, never enlarged, no side below 1."""
    shrink = max(1.0, max(width, height) / max_side)
    return max(1, int(width / shrink + 0.5)), max(1, int(height / shrink + 0.5))


def _flattened(gray: Image.Image, alpha: Image.Image) -> Image.Image:
    white = Image.new("L", gray.size, 255)
    white.paste(gray, (0, 0), alpha)
    return white


def _palette_gray(image: Image.Image) -> Image.Image:
    """A palette image read through its palette remapped to gray: each entry's luma flattened by its tRNS alpha."""
    palette = np.zeros((256, 3), dtype=np.int64)
    entries = np.asarray(image.getpalette("RGB") or [], dtype=np.int64).reshape(-1, 3)[:256]
    palette[: len(entries)] = entries
    alpha = np.full(256, 255, dtype=np.int64)
    transparency = image.info.get("transparency")
    if isinstance(transparency, int) and 0 <= transparency < 256:
        alpha[transparency] = 0
    elif isinstance(transparency, bytes):
        alpha[: len(transparency)] = np.frombuffer(transparency[:256], dtype=np.uint8)
    luma = (palette[:, 0] * 19595 + palette[:, 1] * 38470 + palette[:, 2] * 7471 + 0x8000) >> 16
    table = (luma * alpha + 255 * (255 - alpha) + 127) // 255
    remapped = image.copy()
    remapped.info.pop("transparency", None)
    # An entry (t, t, t) has luma exactly t (the weights sum to 65536), so the conversion reads the table.
    remapped.putpalette(np.repeat(table, 3).astype(np.uint8).tobytes(), "RGB")
    return remapped.convert("L")


def _gray(image: Image.Image) -> Image.Image:
    """One byte of flattened BT.601 luma per pixel (mode L), from whatever mode the decoder produced."""
    mode = image.mode
    if mode == "L":
        return image
    if mode in ("1", "RGB"):
        return image.convert("L")
    if mode.startswith("I;16") or mode == "I":
        high = np.clip(np.asarray(image) >> 8, 0, 255).astype(np.uint8)
        return Image.fromarray(high, "L")
    if mode == "P":
        return _palette_gray(image)
    if mode == "CMYK":
        return image.convert("RGB").convert("L")
    if mode not in ("LA", "RGBA"):
        image = image.convert("RGBA")
    return _flattened(image.convert("L"), image.getchannel("A"))


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation tag (1 when absent or invalid); XMP and other metadata are not consulted."""
    exif_bytes = image.info.get("exif")
    if not isinstance(exif_bytes, bytes) or not exif_bytes:
        return 1
    exif = Image.Exif()
    try:
        exif.load(exif_bytes)
    except Exception:  # noqa: BLE001 - a malformed EXIF block means no orientation, as libvips reads it
        return 1
    value = exif.get(0x0112, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


@dataclass(frozen=True)
class CanonicalImage:
    """The canonical image: HxW uint8 gray, and the size of the image as sent once upright (the boxes' frame)."""

    luma: npt.NDArray[np.uint8]
    width: int
    height: int


def canonical_image(data: bytes, max_side: int = CANONICAL_MAX_SIDE) -> CanonicalImage:
    """The canonical transform (this module's docstring) of an image's bytes, downsized to ``max_side``.

    Raises an ``ImageError``: ``UnsupportedFormatError``, ``ImageTooLargeError`` or ``ImageDecodeError``.
    """
    header = check_image_header(data)
    # GluonCV turns Pillow's "load truncated images" on for the whole process when imported; a cut-off file must
    # stay an error here whatever else was imported.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with Image.open(io.BytesIO(data), formats=[_PILLOW_FORMATS[header.format]]) as image:
            if header.format == "jpeg":
                # libjpeg decodes at 1/2, 1/4 or 1/8 scale while staying at least the target size. It decodes to
                # 8-bit RGB, not to the JPEG's own luma plane: that plane differs from the luma of the decoded
                # colours wherever decoding clips a saturated colour (by up to 9 levels on the parity corpus, whose
                # test allows 2), and sharp converts the decoded colours.
                image.draft(None, fitted_size(header.width, header.height, max_side))
            image.load()
            orientation = _orientation(image)
            gray = _gray(image)
            size = fitted_size(gray.width, gray.height, max_side)
            if size != gray.size:
                # As libvips does: a box reduction by whole factors first, then Lanczos 3 for the remaining fraction.
                gray = gray.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)
            if orientation in _ORIENTATION:
                gray = gray.transpose(_ORIENTATION[orientation])
            luma = np.array(gray, dtype=np.uint8)
    except ImageError:
        raise
    except Exception as err:  # noqa: BLE001 - Pillow raises many types on hostile input; all mean "not decodable"
        raise ImageDecodeError(f"The {ACCEPTED_FORMATS[header.format][0]} image cannot be decoded: it is truncated "
                               "or corrupt.", detail=f"{type(err).__name__}: {err}") from None
    sent_width, sent_height = (header.height, header.width) if orientation >= 5 else (header.width, header.height)
    return CanonicalImage(luma, sent_width, sent_height)


def load_luma(data: bytes) -> npt.NDArray[np.uint8]:
    """The canonical image's HxW uint8 gray pixels: what the training reader takes from a stored image."""
    return canonical_image(data).luma


def gray3(luma: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Luma replicated to an HxWx3 uint8 image, the form the model's (RGB-trained) first layer expects."""
    return np.repeat(luma[:, :, np.newaxis], 3, axis=2)


def _interpolation(height: int, width: int, size: int) -> int:
    if size < height and size < width:
        return cv2.INTER_AREA
    if size > height and size > width:
        return cv2.INTER_CUBIC
    return cv2.INTER_LINEAR


def model_pixels(luma: npt.NDArray[np.uint8], data_shape: int) -> npt.NDArray[np.uint8]:
    """The model's view before normalization: the canonical image stretched to data_shape x data_shape, uint8.

    Resizes with area interpolation when shrinking and cubic when enlarging, as MXNet's automatic choice does.
    """
    height, width = luma.shape
    resized = cv2.resize(luma, (data_shape, data_shape), interpolation=_interpolation(height, width, data_shape))
    return np.asarray(resized, dtype=np.uint8)


def normalization_table() -> npt.NDArray[np.float32]:
    """Per channel, the normalized value of each gray level: a 3 x 256 float32 table, (v / 255 - mean) / std.

    Computed in float32 in the same order as the arithmetic would be on an image, so a lookup gives the same bits.
    """
    levels = np.arange(256, dtype=np.float32) / np.float32(255.0)
    mean = np.asarray(MEAN, dtype=np.float32)[:, None]
    std = np.asarray(STD, dtype=np.float32)[:, None]
    table: npt.NDArray[np.float32] = (levels[None, :] - mean) / std
    return table


# One row per channel, each shaped as cv2.LUT wants it (1 x 256).
_NORMALIZED = [np.ascontiguousarray(row).reshape(1, 256) for row in normalization_table()]


def model_input(luma: npt.NDArray[np.uint8], data_shape: int) -> npt.NDArray[np.float32]:
    """The model's view of an image: a 3 x data_shape x data_shape float32 array, normalized.

    Each channel is a table lookup of the uint8 pixels (``normalization_table``): the float arithmetic on a whole
    image cost a request several milliseconds and three temporary float copies; the lookup gives identical values.
    """
    pixels = model_pixels(luma, data_shape)
    normalized = np.empty((3, *pixels.shape), dtype=np.float32)
    for channel, table in enumerate(_NORMALIZED):
        normalized[channel] = cv2.LUT(pixels, table)
    return normalized


def preprocess(data: bytes, data_shape: int) -> Tuple[npt.NDArray[np.float32], int, int]:
    """Bytes to (model input, upright width, upright height): the path both training validation and serving take."""
    canonical = canonical_image(data)
    return model_input(canonical.luma, data_shape), canonical.width, canonical.height
