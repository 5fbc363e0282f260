"""Decode untrusted image bytes into RGB uint8: real photographs, odd modes, corrupt files."""
from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps

from ..errors import BadImage

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")

# Pillow warns above 89M pixels and errors above 179M. We refuse anything above 64 megapixels (e.g. 8000x8000):
# larger inputs are almost always decompression bombs or scans nobody wants as a 224px video.
MAX_PIXELS = 64_000_000

# Images whose shorter side is below this are refused as unusable thumbnails/icons (they are resized up otherwise).
MIN_SIDE = 8


def decode_image(data: bytes, source_id: str, *, min_side: int) -> np.ndarray:
    """Decode encoded image bytes to a C-contiguous (H, W, 3) uint8 array.

    Applies the EXIF orientation (phones store rotated pixels), converts grayscale, RGBA (over white), palette,
    CMYK and 16-bit images to 8-bit RGB, and resizes images whose shorter side is below `min_side` up to it.
    Large photographs are decoded at reduced size where the format allows it (JPEG draft mode), since frames
    are rendered at `min_side`-ish resolution anyway. Raises BadImage for anything unusable.
    """
    if not data:
        raise BadImage(source_id, "empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            if img.width * img.height > MAX_PIXELS:
                raise BadImage(source_id, f"{img.width}x{img.height} exceeds {MAX_PIXELS} pixels (decompression bomb?)")
            if img.format == "JPEG":
                img.draft("RGB", (2 * min_side, 2 * min_side))
            img.load()
            img = ImageOps.exif_transpose(img)
            rgb = _to_rgb(img)
    except BadImage:
        raise
    except Image.UnidentifiedImageError:
        raise BadImage(source_id, "not a recognised image format (corrupt or not an image)") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise BadImage(source_id, f"cannot decode image ({type(e).__name__}: {e})") from None
    if min(rgb.shape[:2]) < MIN_SIDE:
        raise BadImage(source_id, f"image is {rgb.shape[1]}x{rgb.shape[0]}, smaller than {MIN_SIDE} px")
    return _upscale_to(rgb, min_side)


def _to_rgb(img: Image.Image) -> np.ndarray:
    """Any Pillow mode -> (H, W, 3) uint8. 16-bit and float modes are scaled by their actual range."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        gray = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


def _upscale_to(rgb: np.ndarray, min_side: int) -> np.ndarray:
    """Resize up (bicubic) so the shorter side is at least min_side; never down."""
    import cv2

    h, w = rgb.shape[:2]
    if min(h, w) >= min_side:
        return rgb
    scale = min_side / min(h, w)
    size = (max(min_side, round(w * scale)), max(min_side, round(h * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_CUBIC)
