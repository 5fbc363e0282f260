"""Images inside tar files (PASS ships as tars; WebDataset shards of images work too)."""
from __future__ import annotations

import glob
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError
from .base import SourceImage, sha256_hex
from .folder import is_hidden
from .imagefile import IMAGE_EXTENSIONS, decode_image


@dataclass(frozen=True)
class Member:
    tar: int  # index into TarSource.tars
    name: str
    offset: int  # byte offset of the member's data in the tar file
    size: int


def expand_tar_spec(spec: str) -> list[Path]:
    """A .tar path, a glob, a brace pattern (a-{000..009}.tar) or a folder with .tar files below it -> sorted paths."""
    from braceexpand import braceexpand

    path = Path(spec).expanduser()
    if path.is_dir():
        found = sorted(path.rglob("*.tar"))
    else:
        found = sorted({Path(p) for pat in braceexpand(str(path)) for p in glob.glob(pat)})
    if not found:
        raise UserError(f"{spec}: no tar files found; pass a .tar file, a glob like 'dir/*.tar' or a folder of tars")
    return found


def index_tar(path: Path, number: int) -> list[Member]:
    """Read the tar headers (seeking past data) and list its image members."""
    try:
        with tarfile.open(path, "r:") as tar:
            return [Member(number, m.name, m.offset_data, m.size) for m in tar
                    if m.isfile() and m.name.lower().endswith(IMAGE_EXTENSIONS)
                    and not is_hidden(Path(m.name).name)]
    except (tarfile.TarError, OSError) as e:
        raise UserError(f"{path}: not a readable tar file ({e}); re-download it or leave it out of the pattern") from None


class TarSource:
    """Every image member of the given tar files, in (file, member) order; read by seek, never extracted."""

    name = "tar"

    def __init__(self, spec: str, *, min_side: int = 224, card: dict[str, Any] | None = None):
        self.tars = [p.resolve() for p in expand_tar_spec(spec)]
        self.members = [m for i, p in enumerate(self.tars) for m in index_tar(p, i)]
        if not self.members:
            raise UserError(f"{spec}: the tar files hold no images ({', '.join(IMAGE_EXTENSIONS)})")
        self.spec = spec
        self.min_side = min_side
        self.card = card  # licence and citation of a named dataset, for the manifest

    def __len__(self) -> int:
        return len(self.members)

    def source_id(self, index: int) -> str:
        m = self.members[index]
        return f"{self.tars[m.tar].name}/{m.name}"

    def read_bytes(self, index: int) -> bytes:
        m = self.members[index]
        with open(self.tars[m.tar], "rb") as f:
            f.seek(m.offset)
            return f.read(m.size)

    def load(self, index: int) -> SourceImage:
        data = self.read_bytes(index)
        sid = self.source_id(index)
        return SourceImage(rgb=decode_image(data, sid, min_side=self.min_side), source_id=sid,
                           content_hash=sha256_hex(data))

    def fingerprint(self) -> str:
        parts = [f"{self.source_id(i)}\0{sha256_hex(self.read_bytes(i))}" for i in range(len(self))]
        return sha256_hex("tar-v1", *parts)

    def describe(self) -> dict[str, Any]:
        return {"kind": "tar", "files": [str(p) for p in self.tars], "images": len(self), "card": self.card}
