"""Folder and tar sources on the image files people really have: odd modes, EXIF rotation, junk, bombs."""
from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synth.errors import BadImage, UserError
from synth.sources import open_source
from synth.sources.folder import FolderSource
from synth.sources.imagefile import decode_image
from synth.sources.tarfiles import TarSource


def encoded(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("mode, fmt", [("L", "PNG"), ("RGBA", "PNG"), ("P", "PNG"), ("CMYK", "JPEG"),
                                       ("I;16", "PNG"), ("RGB", "WEBP"), ("RGB", "BMP"), ("RGB", "TIFF"),
                                       ("LA", "PNG"), ("1", "PNG")])
def test_every_mode_becomes_rgb_uint8(mode: str, fmt: str) -> None:
    base = Image.new("RGB", (40, 30), (200, 100, 50)).convert(mode) if mode != "I;16" else \
        Image.fromarray(np.full((30, 40), 40000, np.uint16))
    rgb = decode_image(encoded(base, fmt), "x", min_side=16)
    assert rgb.dtype == np.uint8 and rgb.shape == (30, 40, 3) and rgb.flags.c_contiguous
    if mode == "I;16":
        assert abs(int(rgb[0, 0, 0]) - round(40000 / 65535 * 255)) <= 1  # scaled, not clipped to white


def test_rgba_is_composited_over_white() -> None:
    transparent = Image.new("RGBA", (20, 20), (255, 0, 0, 0))
    assert decode_image(encoded(transparent, "PNG"), "x", min_side=8)[0, 0].tolist() == [255, 255, 255]


def test_exif_orientation_is_applied() -> None:
    img = Image.new("RGB", (60, 20), (10, 200, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    rgb = decode_image(encoded(img, "JPEG", exif=exif.tobytes()), "phone.jpg", min_side=8)
    assert rgb.shape[:2] == (60, 20)


def test_tiny_images_are_resized_up_and_specks_refused() -> None:
    assert decode_image(encoded(Image.new("RGB", (20, 10)), "PNG"), "x", min_side=64).shape == (64, 128, 3)
    with pytest.raises(BadImage, match="smaller than"):
        decode_image(encoded(Image.new("RGB", (4, 4)), "PNG"), "x", min_side=64)


def test_decompression_bomb_is_refused_without_decoding() -> None:
    bomb = encoded(Image.new("1", (9000, 9000)), "PNG")  # tiny file, 81 megapixels
    with pytest.raises(BadImage, match="exceeds"):
        decode_image(bomb, "bomb.png", min_side=16)


@pytest.mark.parametrize("data", [b"", b"GIF89a-but-not", b"\x89PNG\r\n\x1a\n" + b"\0" * 20])
def test_junk_raises_bad_image_naming_the_file(data: bytes) -> None:
    with pytest.raises(BadImage, match="junk.png"):
        decode_image(data, "junk.png", min_side=16)


def test_folder_order_is_stable_and_skips_hidden_and_non_images(tmp_path: Path) -> None:
    for rel in ["b/2.JPG", "a/1.png", "a/.hidden.png", "._a.png", "notes.txt", ".git/x.png", "c/3.webp"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (20, 20)).save(tmp_path / rel, "PNG") if rel.endswith("png") else \
            (tmp_path / rel).write_bytes(encoded(Image.new("RGB", (20, 20)), "JPEG"))
    src = FolderSource(tmp_path, labels=True, min_side=16)
    assert src.paths == ["a/1.png", "b/2.JPG", "c/3.webp"]
    assert [src.load(i).label for i in range(3)] == [0, 1, 2] and src.classes == ["a", "b", "c"]


def test_folder_fingerprint_changes_when_an_image_changes(tmp_path: Path) -> None:
    for i in range(3):
        Image.new("RGB", (20, 20), (i, 0, 0)).save(tmp_path / f"{i}.png")
    before = FolderSource(tmp_path).fingerprint()
    assert FolderSource(tmp_path).fingerprint() == before
    Image.new("RGB", (20, 20), (9, 9, 9)).save(tmp_path / "1.png")
    assert FolderSource(tmp_path).fingerprint() != before


def test_tar_source_reads_members_by_offset(tmp_path: Path) -> None:
    for t in range(2):
        with tarfile.open(tmp_path / f"part-{t}.tar", "w") as tar:
            for i in range(3):
                data = encoded(Image.new("RGB", (24, 24), (t * 100, i * 50, 0)), "PNG")
                info = tarfile.TarInfo(f"{t}/{i}.png")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    src = open_source(str(tmp_path / "part-{0..1}.tar"), min_side=16)
    assert isinstance(src, TarSource) and len(src) == 6
    img = src.load(4)
    assert img.source_id == "part-1.tar/1/1.png" and img.rgb[0, 0].tolist() == [100, 50, 0]
    assert isinstance(open_source(str(tmp_path), min_side=16), TarSource)  # a folder of tars


def test_missing_paths_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no images found"):
        FolderSource(tmp_path)
    with pytest.raises(UserError, match="no tar files"):
        TarSource(str(tmp_path / "*.tar"))


def test_pass_card_reads_tars_below_the_folder_or_unpacked_images(tmp_path: Path) -> None:
    nested = tmp_path / "root" / "pass" / "PASS_dataset"
    nested.mkdir(parents=True)
    with tarfile.open(nested / "0.tar", "w") as tar:
        data = encoded(Image.new("RGB", (24, 24)), "JPEG")
        info = tarfile.TarInfo("0/000001.jpg")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    src = open_source("pass", data_root_dir=str(tmp_path / "root"), min_side=16)
    assert isinstance(src, TarSource) and len(src) == 1 and src.describe()["card"]["name"] == "pass"
    (nested / "0.tar").unlink()
    Image.new("RGB", (24, 24)).save(nested / "x.jpg")
    assert isinstance(open_source("pass", data_root_dir=str(tmp_path / "root"), min_side=16), FolderSource)
