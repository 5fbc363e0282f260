"""Which frames a clip uses, decoding just those, and a torch Dataset of clips: VideoMAE's fine-tuning and test
protocols.

dense (UCF101, HMDB51): `frames` frames `rate` apart (VideoMAE fine-tunes on 16 x 4). Training starts the clip at a
random frame; testing takes `num_clips` clips whose starts spread evenly from the first frame to the last start that
fits (VideoMAE tests on 5 clips x 3 crops), or the middle start for a single clip.
segment (Diving48, TSN-style): the frame range is cut into `frames` equal segments and one frame taken from each, at
a random offset in training and at the middle when testing; several test clips spread their offsets evenly within
the segments.
A video shorter than a clip repeats its last frame, as VideoMAE pads it.
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, NamedTuple, Sequence

import av
import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from synth.errors import UserError

from .datasets import VideoItem, VideoList

TEST_CLIPS, TEST_CROPS = 5, 3  # VideoMAE's multi-view test for UCF101 and HMDB51
SEEK_AFTER = 64  # frames: a first wanted frame this far in is reached by seeking to the keyframe before it

# (num_frames, frames, rate, clip_index, num_clips, rng or None) -> int64 (frames,) frame numbers
Sampler = Callable[[int, int, int, int, int, "np.random.Generator | None"], np.ndarray]
SAMPLERS: dict[str, Sampler] = {}


def sampler(name: str) -> Callable[[Sampler], Sampler]:
    def wrap(fn: Sampler) -> Sampler:
        SAMPLERS[name] = fn
        return fn

    return wrap


@sampler("dense")
def dense_indices(num_frames: int, frames: int, rate: int, clip_index: int, num_clips: int,
                  rng: np.random.Generator | None) -> np.ndarray:
    room = max(num_frames - (frames - 1) * rate - 1, 0)  # the latest start at which the whole clip fits
    if rng is not None:
        start = int(rng.integers(room + 1))
    elif num_clips == 1:
        start = room // 2
    else:
        start = clip_index * room // (num_clips - 1)
    return np.minimum(start + rate * np.arange(frames), num_frames - 1)


@sampler("segment")
def segment_indices(num_frames: int, frames: int, rate: int, clip_index: int, num_clips: int,
                    rng: np.random.Generator | None) -> np.ndarray:
    offsets = rng.random(frames) if rng is not None else np.full(frames, (clip_index + 0.5) / num_clips)
    picks = ((np.arange(frames) + offsets) * (num_frames / frames)).astype(np.int64)
    return np.minimum(picks, num_frames - 1)


def check_sampling(mode: str, frames: int, rate: int) -> None:
    if mode not in SAMPLERS:
        raise UserError(f"sampling mode {mode!r}: unknown; choose one of {', '.join(SAMPLERS)}")
    if frames < 1 or rate < 1:
        raise UserError(f"frames={frames}, rate={rate}: both must be at least 1")


def sample_indices(num_frames: int, frames: int, *, mode: str = "dense", rate: int = 4, clip_index: int = 0,
                   num_clips: int = 1, rng: np.random.Generator | None = None) -> np.ndarray:
    """int64 (frames,) frame numbers in [0, num_frames), in time order, for one clip of a video.

    rng: a Generator draws a training clip at random; None gives test clip `clip_index` of `num_clips`.
    rate: frames between picks, for the dense mode.
    """
    check_sampling(mode, frames, rate)
    if num_frames < 1:
        raise ValueError(f"num_frames={num_frames}: a video needs at least one frame")
    if not 0 <= clip_index < num_clips:
        raise ValueError(f"clip_index={clip_index}: must lie in [0, num_clips={num_clips})")
    return SAMPLERS[mode](num_frames, frames, rate, clip_index, num_clips, rng)


# ------------------------------------------------------------------------------------------------------- decoding

class VideoDecodeError(Exception):
    """A video that cannot be opened or decoded (corrupt, truncated, not a video); datasets skip and count it."""


@contextmanager
def open_video(path: str | Path) -> Iterator[tuple[av.container.InputContainer, av.VideoStream]]:
    """The container and its first video stream, decoded on one thread (DataLoader workers give the
    parallelism); FFmpeg and file errors inside the block become VideoDecodeError."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoDecodeError(f"{path}: no video stream")
            stream = container.streams.video[0]
            stream.codec_context.thread_count = 1
            yield container, stream
    except (av.FFmpegError, OSError) as e:
        raise VideoDecodeError(f"{path}: {e}") from e


def count_frames(path: str | Path) -> int:
    """Frames in the first video stream: the container's count (AVI index, MP4 sample table), else its packets
    counted without decoding."""
    with open_video(path) as (container, stream):
        if stream.frames > 0:
            return stream.frames
        return sum(1 for packet in container.demux(stream) if packet.size)


def numbered_frames(container: av.container.InputContainer, stream: av.VideoStream,
                    first: int) -> Iterator[tuple[int, av.VideoFrame]]:
    """Decoded frames with their frame numbers, beginning at or before frame `first`.

    Far into the video, a seek to the keyframe before `first` skips decoding the frames ahead of it, and frames are
    numbered by timestamp (constant frame rate, as in these datasets). Near the start, or when a seek lands past
    `first` or gives no timestamps, frames are decoded from the start and counted.
    """
    rate, base = stream.average_rate, stream.time_base
    if first >= SEEK_AFTER and rate and base:
        origin = stream.start_time or 0
        container.seek(origin + int(first / (rate * base)), stream=stream)
        frames = container.decode(stream)
        frame = next(frames, None)
        index = None if frame is None or frame.pts is None else round((frame.pts - origin) * base * rate)
        if index is not None and index <= first:
            yield index, frame
            for frame in frames:
                index = index + 1 if frame.pts is None else round((frame.pts - origin) * base * rate)
                yield index, frame
            return
        container.seek(origin, stream=stream)
    yield from enumerate(container.decode(stream))


def resize_short_side(frame: np.ndarray, size: int | None) -> np.ndarray:
    """(H, W, 3) -> the short side `size` pixels, aspect kept (area filter to shrink, bilinear to enlarge)."""
    h, w = frame.shape[:2]
    if size is None or min(h, w) == size:
        return frame
    scale = size / min(h, w)
    width, height = (max(1, round(w * scale)), size) if h <= w else (size, max(1, round(h * scale)))
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def decode_frames(path: str | Path, indices: Sequence[int] | np.ndarray, size: int | None = None) -> np.ndarray:
    """uint8 (len(indices), H, W, 3) RGB frames at the given frame numbers (any order, repeats allowed), the short
    side resized to `size` pixels (None keeps it).

    A number past the last decodable frame gets the last frame (VideoMAE pads short videos so), which also covers
    containers that count more frames than they hold. Raises VideoDecodeError.
    """
    indices = np.asarray(indices, dtype=np.int64)
    wanted = np.unique(indices)
    if wanted.size == 0 or wanted[0] < 0:
        raise ValueError(f"frame indices {indices.tolist()}: need at least one, and none negative")
    keep = set(wanted.tolist())
    got: dict[int, np.ndarray] = {}
    with open_video(path) as (container, stream):
        for index, frame in numbered_frames(container, stream, int(wanted[0])):
            if index in keep:
                got[index] = resize_short_side(frame.to_ndarray(format="rgb24"), size)
            if index >= wanted[-1]:
                break
    if not got:
        raise VideoDecodeError(f"{path}: no frame could be decoded")
    numbers = np.array(sorted(got))
    nearest = numbers[np.maximum(np.searchsorted(numbers, indices, side="right") - 1, 0)]  # at or before
    return np.stack([got[n] for n in nearest.tolist()])


def frame_range(item: VideoItem, num_frames: int) -> tuple[int, int]:
    """[start, end) of the frames to sample from: the item's range clipped to the decoded video, or the whole video
    when the range misses it (annotations made on another encode of the same clip)."""
    end = num_frames if item.end_frame is None else min(item.end_frame, num_frames)
    start = max(item.start_frame, 0)
    return (start, end) if start < end else (0, num_frames)


def crop_square(video: np.ndarray, size: int, position: float) -> np.ndarray:
    """(T, H, W, 3) with short side `size` -> (T, size, size, 3): the window at `position` along the long side
    (0: left or top, 1: right or bottom)."""
    _, h, w, _ = video.shape
    offset = int(position * (max(h, w) - size))
    return video[:, offset:offset + size] if h > w else video[:, :, offset:offset + size]


# -------------------------------------------------------------------------------------------------- the dataset

class ClipBatch(NamedTuple):
    """video: uint8 (B, T, size, size, 3) RGB; label: int64 (B,); index: int64 (B,), each clip's video in the
    VideoList (a video's test views share it, to average their scores); skipped: items of this batch whose video
    failed to decode."""

    video: torch.Tensor
    label: torch.Tensor
    index: torch.Tensor
    skipped: int


Clip = tuple[torch.Tensor, int, int]  # (uint8 (T, size, size, 3), label, video index)


class ClipDataset(Dataset):
    """A VideoList as uint8 clips (frames, size, size, 3), one item per view.

    Training: one random clip per video and a random square window along its long side; the device augmentation
    (train/augment.py) crops and flips within it. Testing: each video expands to num_clips x num_crops views (item
    i is view i % views of video i // views, clips outer, crops inner), the crops spread from one end of the long
    side to the other (VideoMAE's 3 crops) or centred when there is one; a worker decodes the frames of all of a
    video's clips once and serves its views from them.

    frames, rate, mode: see sample_indices. size: the short side is resized to `size` pixels, then cropped square.
    A video that fails to decode warns and its items are None: pass `collate` as the DataLoader's collate_fn to
    drop them and count them in ClipBatch.skipped.
    """

    def __init__(self, video_list: VideoList, frames: int = 16, rate: int = 4, mode: str = "dense", size: int = 224,
                 num_clips: int = 1, num_crops: int = 1, *, train: bool):
        check_sampling(mode, frames, rate)
        if min(size, num_clips, num_crops) < 1:
            raise UserError(f"size={size}, num_clips={num_clips}, num_crops={num_crops}: each must be at least 1")
        if train and num_clips * num_crops > 1:
            raise UserError(f"num_clips={num_clips}, num_crops={num_crops}: several views are for testing; "
                            f"train with 1 and 1")
        self.video_list, self.frames, self.rate, self.mode, self.size = video_list, frames, rate, mode, size
        self.num_clips, self.num_crops, self.train = num_clips, num_crops, train
        self.views = num_clips * num_crops
        self._counts: dict[Path, int] = {}
        self._cached: tuple[int, list[np.ndarray] | None] | None = None  # (video, its test clips), per worker

    def __len__(self) -> int:
        return len(self.video_list.items) * self.views

    def __getitem__(self, i: int) -> Clip | None:
        video, view = divmod(i, self.views)
        clip, crop = divmod(view, self.num_crops)
        item = self.video_list.items[video]
        if self.train:
            # torch's generator is seeded per DataLoader worker and epoch, so clips differ across both.
            rng = np.random.default_rng(int(torch.randint(2**62, ())))
            clips, position = self.decode_clips(item, rng), rng.random()
        else:
            if self._cached is None or self._cached[0] != video:
                self._cached = (video, self.decode_clips(item, None))
            clips = self._cached[1]
            position = crop / (self.num_crops - 1) if self.num_crops > 1 else 0.5
        if clips is None:
            return None
        return torch.from_numpy(np.ascontiguousarray(crop_square(clips[clip], self.size, position))), item.label, video

    def decode_clips(self, item: VideoItem, rng: np.random.Generator | None) -> list[np.ndarray] | None:
        """uint8 (frames, H, W, 3) per clip, short side `size`: one random clip (rng) or every test clip, decoded
        in one pass; None, with a warning, when the video cannot be decoded."""
        try:
            start, end = frame_range(item, self.num_frames(item.path))
            clips = [start + sample_indices(end - start, self.frames, mode=self.mode, rate=self.rate, clip_index=c,
                                            num_clips=self.num_clips, rng=rng) for c in range(self.num_clips)]
            union = np.unique(np.concatenate(clips))
            frames = decode_frames(item.path, union, self.size)
        except VideoDecodeError as e:
            warnings.warn(f"skipping an undecodable video: {e}", RuntimeWarning)
            return None
        return [frames[np.searchsorted(union, clip)] for clip in clips]

    def num_frames(self, path: Path) -> int:
        """count_frames, remembered per worker (each epoch asks again)."""
        if path not in self._counts:
            self._counts[path] = count_frames(path)
        if self._counts[path] < 1:
            raise VideoDecodeError(f"{path}: no frames")
        return self._counts[path]

    def collate(self, batch: list[Clip | None]) -> ClipBatch:
        kept = [b for b in batch if b is not None]
        video = (torch.stack([b[0] for b in kept]) if kept
                 else torch.empty((0, self.frames, self.size, self.size, 3), dtype=torch.uint8))
        return ClipBatch(video, torch.tensor([b[1] for b in kept], dtype=torch.long),
                         torch.tensor([b[2] for b in kept], dtype=torch.long), len(batch) - len(kept))
