"""`synth`: render, verify, inspect and preview pseudo-motion datasets. The CLI only parses and wires.

Exit codes: 0 success, 1 a failed check (verify), 2 a usage or input error (one line on stderr, no traceback).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable

from . import __version__
from .config import from_dict, load_yaml, merge
from .errors import UserError
from .motion import TRANSFORMS

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    COMMANDS[fn.__name__.removeprefix("cmd_")] = fn
    return fn


def parse_transforms(text: str) -> dict[str, float]:
    """'zoom,affine' or 'zoom=2,affine=1' -> {name: weight}."""
    weights = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        name, _, weight = item.partition("=")
        if name not in TRANSFORMS:
            raise UserError(f"--transforms: unknown transform '{name}'; choose from {', '.join(TRANSFORMS)}")
        try:
            weights[name] = float(weight) if weight else 1.0
        except ValueError:
            raise UserError(f"--transforms: weight '{weight}' of {name} is not a number") from None
    return weights


def render_overrides(a: argparse.Namespace) -> dict[str, Any]:
    """CLI flags as a partial config (None = not given, so recipe values stay)."""
    return {
        "images": a.images, "labels": a.labels, "num_videos": a.num_videos, "frames": a.frames, "size": a.size,
        "fps": a.fps, "shard_size": a.shard_size, "seed": a.seed, "name": a.name, "on_bad_image": a.on_bad_image,
        "motion": {"transforms": parse_transforms(a.transforms) if a.transforms else None, "mixup": a.mixup},
        "codec": {"format": a.format, "backend": a.codec_backend, "crf": a.crf, "preset": a.preset},
    }


@command
def cmd_render(a: argparse.Namespace) -> int:
    from .runner import render
    from .sources import open_source

    data = merge(load_yaml(a.recipe) if a.recipe else {}, render_overrides(a))
    if not data.get("images"):
        raise UserError("--images is required (a folder, tar files, fractal, procedural, or a named source)")
    cfg = from_dict(data).validate()
    source = open_source(cfg.images, data_root_dir=a.data_root, min_side=cfg.size, labels=cfg.labels)
    manifest = render(cfg, source, a.out, workers=a.workers, ray_address=a.ray_address,
                      overwrite=a.overwrite, progress=a.progress)
    t = manifest["totals"]
    r = manifest["render"]
    print(f"wrote {t['samples']} clips in {t['shards']} shards ({t['bytes'] / 1e6:.1f} MB) to {a.out} "
          f"[{r['rendered_shards']} rendered, {r['resumed_shards']} already complete, {r['seconds']:.1f} s]"
          + (f"; skipped {len(manifest['skipped_inputs'])} unusable input images (listed in manifest.json)"
             if manifest["skipped_inputs"] else ""))
    return 0


@command
def cmd_reproduce(a: argparse.Namespace) -> int:
    from .manifest import open_dataset
    from .runner import render
    from .sources import open_source

    folder, manifest = open_dataset(a.dataset)
    cfg = from_dict({**manifest["config"], **({"images": a.images} if a.images else {})}).validate()
    source = open_source(cfg.images, data_root_dir=a.data_root, min_side=cfg.size, labels=cfg.labels)
    expected = manifest["source"]["fingerprint"]
    if source.fingerprint() != expected:
        raise UserError(f"--images {cfg.images}: these images differ from the ones {folder} was rendered from "
                        f"(fingerprint {source.fingerprint()[:16]} vs {expected[:16]}); point --images at the same images")
    fresh = render(cfg, source, a.out, workers=a.workers, ray_address=a.ray_address, progress=a.progress)
    differ = [s["path"] for s, f in zip(manifest["shards"], fresh["shards"])
              if folder.sha256(s["path"]) != f["sha256"] or s["sha256"] != f["sha256"]]
    for path in differ:
        print(f"{path}: differs from the original")
    print(f"{a.out}: {'FAILED, ' + str(len(differ)) + ' shard(s) differ' if differ else 'byte-identical to ' + str(folder)}")
    return 1 if differ else 0


@command
def cmd_verify(a: argparse.Namespace) -> int:
    from .manifest import verify

    problems = verify(a.dir, deep=not a.quick)
    for p in problems:
        print(p)
    print(f"{a.dir}: {'FAILED, ' + str(len(problems)) + ' problem(s)' if problems else 'OK'}")
    return 1 if problems else 0


@command
def cmd_info(a: argparse.Namespace) -> int:
    from .manifest import open_dataset

    _, m = open_dataset(a.dir)
    if a.json:
        print(json.dumps(m, indent=2, sort_keys=True))
        return 0
    c, t, s = m["config"], m["totals"], m["source"]
    lines = [
        f"dataset   {m['name']} (pseudomotion {m['version']})",
        f"clips     {t['samples']} in {t['shards']} shards, {t['bytes'] / 1e6:.1f} MB",
        f"video     {c['frames']} x {c['size']}x{c['size']} @ {c['fps']} fps, {c['codec']['format']}",
        f"motion    {', '.join(f'{k}={v:g}' for k, v in c['motion']['transforms'].items())}; "
        f"mixup {'on' if c['motion']['mixup'] else 'off'}; seed {c['seed']}",
        f"source    {s.get('kind')} '{c['images']}', {s.get('images')} images, fingerprint {s['fingerprint'][:16]}",
    ]
    for key in ("license", "citation"):
        value = (s.get("card") or {}).get(key) or s.get(key)
        if value:
            lines.append(f"{key:<9} {value}")
    lines.append(f"skipped   {len(m['skipped_inputs'])} unusable input images")
    print("\n".join(lines))
    return 0


@command
def cmd_preview(a: argparse.Namespace) -> int:
    from .preview import write_preview

    png, gif = write_preview(a.dir, Path(a.out), count=a.count)
    print(f"wrote {png} and {gif}")
    return 0


@command
def cmd_sources(a: argparse.Namespace) -> int:
    from .sources import BUILTINS, DATA_ROOT_ENV, data_root
    from .sources.cards import load_cards

    root = data_root(a.data_root)
    print("built-in (offline): " + ", ".join(BUILTINS) + "   e.g. --images fractal:categories=10,instances=4")
    for card in load_cards():
        where = root / card.directory
        state = "present" if where.is_dir() else "not present"
        print(f"{card.name:<10} {card.title}; {state} at {where} (${DATA_ROOT_ENV} or --data-root); {card.license}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="synth", description=__doc__.split("\n")[0])
    p.add_argument("--version", action="version", version=f"pseudomotion {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("render", help="render pseudo-motion clips from still images into WebDataset shards")
    r.add_argument("--images", help="folder, tar file/glob, built-in (fractal, procedural) or named source")
    r.add_argument("--out", required=True,
                   help="output folder or fsspec URL such as s3://bucket/prefix/ (created; re-running resumes)")
    r.add_argument("--recipe", help="YAML config; flags override its fields")
    r.add_argument("--data-root", help="where named sources live (default $PSEUDOMOTION_DATA_ROOT or ./data)")
    r.add_argument("--labels", action="store_true", default=None, help="label = first sub-folder of a folder source")
    r.add_argument("--num-videos", type=int, help="clips to render (default: one per source image)")
    r.add_argument("--frames", type=int, help="frames per clip (default 16)")
    r.add_argument("--size", type=int, help="frame side in pixels (default 224)")
    r.add_argument("--fps", type=int, help="frame rate written into the MP4 (default 8)")
    r.add_argument("--shard-size", type=int, help="clips per shard (default 500)")
    r.add_argument("--seed", type=int, help="dataset seed (default 0)")
    r.add_argument("--name", help="shard file prefix (default pseudomotion)")
    r.add_argument("--workers", type=int, help="Ray workers (default: all cores); 0 renders in-process without Ray")
    r.add_argument("--ray-address", help="an existing Ray cluster, e.g. auto or ray://host:10001")
    r.add_argument("--format", choices=["mp4", "jpg", "recipe"],
                   help="H.264 MP4 (default), JPEG frames, or recipe: source images + parameters, rendered by the reader")
    r.add_argument("--codec-backend", choices=["pyav", "ffmpeg"], help="in-process PyAV (default) or system ffmpeg")
    r.add_argument("--crf", type=int, help="H.264 quality, 0 (lossless) .. 51 (default 20)")
    r.add_argument("--preset", help="x264 preset (default ultrafast)")
    r.add_argument("--transforms", help=f"comma list with optional weights, e.g. zoom=2,affine; from {', '.join(TRANSFORMS)}")
    r.add_argument("--mixup", action=argparse.BooleanOptionalAction, default=None, help="frame-wise Mixup (default on)")
    r.add_argument("--on-bad-image", choices=["skip", "fail"], help="skip and list unusable images (default) or stop")
    r.add_argument("--overwrite", action="store_true", help="delete a previous render in --out and start over")
    r.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar (default: on a terminal)")

    rp = sub.add_parser("reproduce", help="re-render a dataset from its manifest and check every shard is identical")
    rp.add_argument("dataset", help="dataset folder or its manifest.json")
    rp.add_argument("--out", required=True, help="where to re-render (folder or URL)")
    rp.add_argument("--images", help="the source images, if they moved since (their fingerprint must match)")
    rp.add_argument("--data-root")
    rp.add_argument("--workers", type=int)
    rp.add_argument("--ray-address")
    rp.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)

    v = sub.add_parser("verify", help="check every shard against the manifest (exit 1 on any mismatch)")
    v.add_argument("dir", help="dataset folder or URL (s3://bucket/prefix/), or its manifest.json")
    v.add_argument("--quick", action="store_true", help="sizes and checksums only, do not count samples")
    i = sub.add_parser("info", help="summarise a dataset")
    i.add_argument("dir", help="dataset folder or URL, or its manifest.json")
    i.add_argument("--json", action="store_true", help="print the whole manifest")
    pv = sub.add_parser("preview", help="write a PNG contact sheet and an animated GIF of a few clips")
    pv.add_argument("dir", help="dataset folder or URL")
    pv.add_argument("--out", required=True, help="PNG path; the GIF is written beside it")
    pv.add_argument("--count", type=int, default=6, help="clips to show (default 6)")
    s = sub.add_parser("sources", help="list built-in and named image sources")
    s.add_argument("--data-root")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except UserError as e:
        print(f"synth {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
