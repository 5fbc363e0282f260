"""Tiny copies of the official UCF101, HMDB51 and Diving48 trees, with real video files, for tests of eval/ and of
fine-tuning.

Each builder writes under `root` and returns it, ready for `load_split(name, root, split, subset)`:

    from fixtures import make_ucf101         # pytest puts tests/eval on sys.path for the tests in it
    root = make_ucf101(tmp_path / "ucf101")  # 3 classes x 3 groups x 2 clips; split s tests on group s

Videos are `frames` frames of 32 x 24 pixels at 25 fps: a bar whose colour encodes the class and whose motion
direction alternates with it, so a model can tell classes apart. UCF101 and HMDB51 videos are MPEG-4 Part 2 in AVI
tagged XVID, as distributed; Diving48's are H.264 in MP4. Labels follow the readers' class order, so the content of
label k is class_clip(k, ...).

The text files follow the official formats and their quirks: CRLF line endings and a trailing blank line;
HandstandPushups/v_HandStandPushups_gXX_cYY.avi (the case mismatch of the real UCF101); trailing spaces (HMDB51);
video names with &, (, ), !, [, ] and # (HMDB51); class names that prefix each other (HMDB51's sword and
sword_exercise, whose split files sort the other way round).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

import av
import cv2
import numpy as np

FPS = 25
HEIGHT, WIDTH = 24, 32

# Real class names, the first `classes` of which a builder uses.
UCF101_CLASSES = ("ApplyEyeMakeup", "HandstandPushups", "YoYo", "Archery", "Basketball", "Drumming", "Fencing",
                  "GolfSwing")
UCF101_FILE_NAMES = {"HandstandPushups": "HandStandPushups"}  # the class as its video file names spell it
HMDB51_CLASSES = ("brush_hair", "sword_exercise", "sword", "kick_ball", "kick", "climb_stairs", "climb", "cartwheel")
HMDB51_PREFIXES = ("April_09", "(Rad)Schlag_die_Bank!", "Bubble_Gum_&_Co", "[HD]_Trailer]", "#20_Rhythm",
                   "Veoh_Alpha_Dog_1")
DIVING48_VOCAB = (("Back", "15som", "05Twis", "FREE"), ("Back", "15som", "15Twis", "FREE"),
                  ("Back", "15som", "25Twis", "FREE"), ("Back", "15som", "NoTwis", "PIKE"),
                  ("Back", "15som", "NoTwis", "TUCK"), ("Back", "25som", "15Twis", "PIKE"))
DIVING48_SOURCES = ("-mmq0PT-u8k", "_8Vy3dlHg2w", "2x00lRzlTVQ")  # YouTube ids, as in the real vid_names

_CODECS = {".avi": ("mpeg4", "XVID"), ".mp4": ("libx264", None)}  # suffix -> (encoder, fourcc)


def class_clip(label: int, frames: int = 16, variant: int = 0) -> np.ndarray:
    """uint8 (frames, 24, 32, 3) RGB: a bar in the class's colour on grey, moving right for even labels and left
    for odd ones; variant shifts where it starts, so the videos of a class differ."""
    colour = cv2.cvtColor(np.uint8([[[(label * 37) % 180, 220, 230]]]), cv2.COLOR_HSV2RGB)[0, 0]
    clip = np.full((frames, HEIGHT, WIDTH, 3), 32, np.uint8)
    step = 2 if label % 2 == 0 else -2
    for t in range(frames):
        x = (5 * variant + step * t) % (WIDTH - 6)
        clip[t, :, x:x + 6] = colour
    return clip


def write_video(path: Path, clip: np.ndarray, fps: int = FPS) -> Path:
    """Encode uint8 (T, H, W, 3) RGB (H and W even) in the format of the path's suffix: .avi MPEG-4 Part 2 tagged
    XVID, .mp4 H.264."""
    codec, tag = _CODECS[path.suffix.lower()]
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = clip.shape[2], clip.shape[1], "yuv420p"
        stream.codec_context.thread_count = 1
        if tag:
            stream.codec_context.codec_tag = tag
        for frame in clip:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))
    return path


def first(names: tuple, count: int) -> tuple:
    """The first `count` names of a pool, or ValueError when it holds fewer."""
    if not 1 <= count <= len(names):
        raise ValueError(f"classes={count}: this fixture knows {len(names)} class names")
    return names[:count]


def write_lines(path: Path, lines: Iterable[str], newline: str = "\r\n") -> Path:
    """Each line ended by `newline`, then one blank line, as the official list files end."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("".join(line + newline for line in lines) + newline).encode())
    return path


def ucf101_test_groups(split: int, groups: int) -> set[int]:
    """The groups split s of make_ucf101 tests on: the groups cut into three runs, split s taking run s (the real
    splits hold out groups 1-7, 8-14 and 15-21 of 25)."""
    run = groups // 3
    return set(range((split - 1) * run + 1, split * run + 1))


def make_ucf101(root: Path, classes: int = 3, groups: int = 3, clips: int = 2, frames: int = 16) -> Path:
    """ROOT/UCF-101/<Class>/v_<Class>_gXX_cYY.avi and ROOT/ucfTrainTestlist/ (classInd.txt, trainlist0{1,2,3}.txt,
    testlist0{1,2,3}.txt) for the first `classes` of UCF101_CLASSES (HandstandPushups from 2 on), numbered in
    alphabetical order like the real classInd.txt, with `groups` (at least 3) groups of `clips` clips each.
    Split s tests on ucf101_test_groups(s, groups) and trains on the other groups."""
    if groups < 3:
        raise ValueError(f"groups={groups}: three splits need at least 3 groups")
    names = sorted(first(UCF101_CLASSES, classes), key=str.casefold)
    lists = root / "ucfTrainTestlist"
    write_lines(lists / "classInd.txt", [f"{i} {name}" for i, name in enumerate(names, 1)])
    entries = []  # (label, group, path relative to UCF-101/)
    for label, name in enumerate(names):
        for group in range(1, groups + 1):
            for c in range(1, clips + 1):
                relative = f"{name}/v_{UCF101_FILE_NAMES.get(name, name)}_g{group:02d}_c{c:02d}.avi"
                write_video(root / "UCF-101" / relative, class_clip(label, frames, group * clips + c))
                entries.append((label, group, relative))
    for split in (1, 2, 3):
        test = ucf101_test_groups(split, groups)
        write_lines(lists / f"trainlist0{split}.txt", [f"{rel} {label + 1}" for label, g, rel in entries
                                                        if g not in test])
        write_lines(lists / f"testlist0{split}.txt", [rel for _, g, rel in entries if g in test])
    return root


def hmdb51_flag(video: int, split: int, videos: int) -> int:
    """The id make_hmdb51 gives video i of a class in split s: a third of the videos test (2), the last of the
    rotation is unused (0), the rest train (1); the rotation moves by a third per split."""
    third = videos // 3
    position = (video - (split - 1) * third) % videos
    return 2 if position < third else 0 if position == videos - 1 else 1


def make_hmdb51(root: Path, classes: int = 3, videos: int = 6, frames: int = 16, org_folder: bool = True) -> Path:
    """ROOT/hmdb51_org/<class>/<video>.avi (ROOT/<class>/ when org_folder is False) and
    ROOT/testTrainMulti_7030_splits/<class>_test_split{1,2,3}.txt for the first `classes` of HMDB51_CLASSES (the
    defaults include sword and sword_exercise), `videos` (at least 3) videos each, flagged by hmdb51_flag. Lines
    read '<video>.avi <id> ' with CRLF, as the real files do."""
    if videos < 3:
        raise ValueError(f"videos={videos}: need at least 3 per class for train, test and unused")
    base = root / "hmdb51_org" if org_folder else root
    for label, name in enumerate(sorted(first(HMDB51_CLASSES, classes))):
        files = [f"{HMDB51_PREFIXES[i % len(HMDB51_PREFIXES)]}_{name}_f_cm_np1_le_med_{i}.avi" for i in range(videos)]
        for i, file in enumerate(files):
            write_video(base / name / file, class_clip(label, frames, i))
        for split in (1, 2, 3):
            write_lines(root / "testTrainMulti_7030_splits" / f"{name}_test_split{split}.txt",
                        [f"{file} {hmdb51_flag(i, split, videos)} " for i, file in enumerate(files)])
    return root


def make_diving48(root: Path, classes: int = 3, videos: int = 4, frames: int = 16, version: str = "V2",
                  vocab: bool = True) -> Path:
    """ROOT/rgb/<vid_name>.mp4 with ROOT/Diving48_V2_{train,test}.json (Diving48_{train,test}.json for version
    'V1') and, with vocab, ROOT/Diving48_vocab.json naming `classes` classes (without it the reader names the 48
    by number). Each class has `videos` videos, the last of them in the test set; entries carry start_frame 0 and
    end_frame `frames`."""
    names = first(DIVING48_VOCAB, classes) if vocab else ()
    subsets: dict[str, list[dict]] = {"train": [], "test": []}
    for label in range(classes):
        for v in range(videos):
            k = label * videos + v
            name = f"{DIVING48_SOURCES[k % len(DIVING48_SOURCES)]}_{k:05d}"
            write_video(root / "rgb" / f"{name}.mp4", class_clip(label, frames, v))
            subsets["test" if v == videos - 1 else "train"].append(
                {"vid_name": name, "label": label, "start_frame": 0, "end_frame": frames})
    prefix = "Diving48_V2" if version == "V2" else "Diving48"
    for subset, entries in subsets.items():
        (root / f"{prefix}_{subset}.json").write_text(json.dumps(entries))
    if vocab:
        (root / "Diving48_vocab.json").write_text(json.dumps([list(words) for words in names]))
    return root
