"""Image sources by name: built-in generators, folders, tar files and named datasets with source cards."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from ..errors import UserError
from .base import ImageSource, SourceImage
from .cards import SourceCard, find_card, load_cards

__all__ = ["ImageSource", "SourceImage", "SourceCard", "open_source", "BUILTINS", "DATA_ROOT_ENV"]

DATA_ROOT_ENV = "PSEUDOMOTION_DATA_ROOT"


def _fractal(min_side: int, **params: Any) -> ImageSource:
    from .fractaldb import FractalDBSource

    return FractalDBSource(**params)


def _procedural(min_side: int, **params: Any) -> ImageSource:
    from .procedural import ProceduralSource

    if isinstance(params.get("families"), str):
        params["families"] = tuple(params["families"].split("+"))
    return ProceduralSource(**params)


BUILTINS: dict[str, Callable[..., ImageSource]] = {"fractal": _fractal, "procedural": _procedural}


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """'fractal:categories=10,instances=4' -> ('fractal', {'categories': 10, 'instances': 4})."""
    name, _, opts = spec.partition(":")
    params: dict[str, Any] = {}
    for item in filter(None, opts.split(",")):
        key, eq, value = item.partition("=")
        if not eq:
            raise UserError(f"--images {spec}: option '{item}' must be key=value, e.g. {name}:size=256")
        params[key.strip()] = _number_or_text(value.strip())
    return name, params


def _number_or_text(value: str) -> Any:
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def data_root(explicit: str | None) -> Path:
    return Path(explicit or os.environ.get(DATA_ROOT_ENV) or "data").expanduser()


def open_source(spec: str, *, data_root_dir: str | None = None, min_side: int = 224,
                labels: bool = False) -> ImageSource:
    """Resolve --images: a built-in generator, a named dataset (source card), a folder, or tar files."""
    name, params = parse_spec(spec)
    if name in BUILTINS:
        try:
            return BUILTINS[name](min_side, **params)
        except TypeError as e:
            raise UserError(f"--images {spec}: {e}; see `synth sources` for the options") from None
    card = find_card(name)
    if card is not None:
        return card.open(data_root(data_root_dir), min_side=min_side)
    return _open_path(spec, min_side=min_side, labels=labels)


def _open_path(spec: str, *, min_side: int, labels: bool) -> ImageSource:
    from .folder import FolderSource
    from .tarfiles import TarSource

    path = Path(spec).expanduser()
    if path.is_dir() and not any(path.glob("*.tar")):
        return FolderSource(path, labels=labels, min_side=min_side)
    if path.is_dir() or any(ch in spec for ch in "*?{") or path.suffix == ".tar":
        return TarSource(spec, min_side=min_side)
    names = ", ".join([*BUILTINS, *(c.name for c in load_cards())])
    raise UserError(f"--images {spec}: no such folder, tar file or source; give a folder of images, tar files, "
                    f"or one of: {names}")
