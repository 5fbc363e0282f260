"""Frame sampling patterns, decoding (shapes, padding, seeking, corrupt files), the clip dataset's views and skips."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import torch
from fixtures import class_clip, make_ucf101, write_video
from torch.utils.data import DataLoader

from eval.datasets import VideoItem, VideoList, load_split
from eval.sampling import (ClipDataset, VideoDecodeError, count_frames, crop_square, decode_frames, frame_range,
                           numbered_frames, sample_indices)
from synth.errors import UserError


@pytest.fixture(scope="module")
def ucf101(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_ucf101(tmp_path_factory.mktemp("ucf101"))


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """16 frames of 32 x 24, AVI."""
    return write_video(tmp_path_factory.mktemp("video") / "clip.avi", class_clip(1, 16))


def decode_all(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


# ------------------------------------------------------------------------------------------------------- sampling

def test_dense_training_clips_keep_the_stride_and_vary_their_start():
    rng = np.random.default_rng(0)
    clips = [sample_indices(100, 16, rate=4, rng=rng) for _ in range(20)]
    assert all((np.diff(c) == 4).all() and c[0] >= 0 and c[-1] <= 99 for c in clips)
    assert len({int(c[0]) for c in clips}) > 5


def test_dense_test_clips_spread_from_first_to_last_frame():
    starts = [sample_indices(100, 16, rate=4, clip_index=k, num_clips=5)[0] for k in range(5)]
    assert starts == [0, 9, 19, 29, 39]  # the last clip, 39 + 15 * 4, ends on frame 99
    assert sample_indices(100, 16, rate=4)[0] == 19  # one clip: the middle


def test_short_videos_repeat_their_last_frame():
    assert sample_indices(10, 6, rate=4).tolist() == [0, 4, 8, 9, 9, 9]
    assert sample_indices(3, 5, mode="segment").tolist() == [0, 0, 1, 2, 2]


def test_segment_sampling_takes_one_frame_per_segment():
    bounds = np.arange(9) * 12  # 8 segments of 12 frames
    rng = np.random.default_rng(1)
    for clip in [sample_indices(96, 8, mode="segment", rng=rng) for _ in range(10)]:
        assert ((bounds[:-1] <= clip) & (clip < bounds[1:])).all()
    assert (sample_indices(96, 8, mode="segment") == bounds[:-1] + 6).all()  # centres
    views = [sample_indices(96, 8, mode="segment", clip_index=k, num_clips=2) for k in range(2)]
    assert (views[0] == bounds[:-1] + 3).all() and (views[1] == bounds[:-1] + 9).all()
    assert sample_indices(100, 8, mode="segment").tolist() == [6, 18, 31, 43, 56, 68, 81, 93]  # 12.5 frames each


def test_sampling_is_reproducible_and_checks_its_mode():
    draw = [sample_indices(50, 8, mode="segment", rng=np.random.default_rng(7)) for _ in range(2)]
    assert (draw[0] == draw[1]).all()
    with pytest.raises(UserError, match="choose one of dense, segment"):
        sample_indices(50, 8, mode="uniform")


def test_frame_range_clips_annotations_to_the_video():
    assert frame_range(VideoItem(Path("v"), 0, 4, 12), 16) == (4, 12)
    assert frame_range(VideoItem(Path("v"), 0, 4, 99), 16) == (4, 16)
    assert frame_range(VideoItem(Path("v"), 0, 20, 30), 16) == (0, 16)


# ------------------------------------------------------------------------------------------------------- decoding

def test_decode_returns_the_asked_frames_resized(video: Path):
    frames = decode_frames(video, [3, 1, 3], size=12)
    assert (frames.shape, frames.dtype) == ((3, 12, 16, 3), np.uint8)
    assert (frames[0] == frames[2]).all() and not (frames[0] == frames[1]).all()
    assert (decode_frames(video, [5]) == decode_all(video)[5]).all()
    assert count_frames(video) == 16


def test_decode_pads_past_the_end_with_the_last_frame(video: Path):
    frames = decode_frames(video, [15, 20, 40])
    assert all((f == decode_all(video)[15]).all() for f in frames)


@pytest.mark.parametrize("suffix", [".avi", ".mp4"])
def test_seeking_finds_the_same_frames_as_decoding_from_the_start(tmp_path: Path, suffix: str):
    clip = class_clip(2, 150)
    clip[:, :4, :4] = np.arange(150, dtype=np.uint8)[:, None, None, None]  # a frame counter in the corner
    path = write_video(tmp_path / f"long{suffix}", clip)
    wanted = [70, 100, 101, 149]
    assert (decode_frames(path, wanted) == decode_all(path)[wanted]).all()
    with av.open(str(path)) as container:
        first, _ = next(numbered_frames(container, container.streams.video[0], 100))
    assert 0 < first <= 100  # started at a keyframe near frame 100, not at frame 0


def test_undecodable_files_raise_video_decode_error(tmp_path: Path):
    garbage = tmp_path / "garbage.avi"
    garbage.write_bytes(b"RIFF not really a video " * 64)
    for call in (lambda: count_frames(garbage), lambda: decode_frames(garbage, [0]),
                 lambda: decode_frames(tmp_path / "absent.mp4", [0])):
        with pytest.raises(VideoDecodeError):
            call()


# -------------------------------------------------------------------------------------------------------- dataset

def test_training_items_are_square_uint8_clips(ucf101: Path):
    videos = load_split("ucf101", ucf101, 1, "train")
    data = ClipDataset(videos, frames=8, rate=2, size=16, train=True)
    clip, label, index = data[5]
    assert len(data) == 12 and (clip.shape, clip.dtype) == ((8, 16, 16, 3), torch.uint8)
    assert (label, index) == (videos.items[5].label, 5)
    with pytest.raises(UserError, match="views are for testing"):
        ClipDataset(videos, num_clips=5, train=True)


def test_test_views_cover_clips_and_crops_of_each_video(ucf101: Path):
    videos = load_split("ucf101", ucf101, 1, "test")
    data = ClipDataset(videos, frames=4, rate=1, size=16, num_clips=5, num_crops=3, train=False)
    batch = data.collate([data[i] for i in range(len(data))])
    assert len(data) == 6 * 15 and batch.video.shape == (90, 4, 16, 16, 3)
    assert batch.index.tolist() == [i // 15 for i in range(90)]
    assert batch.label.tolist() == [videos.items[i // 15].label for i in range(90)]
    first = batch.video[:15].view(5, 3, 4, 16, 16, 3)  # (clips, crops, T, H, W, 3) of video 0
    assert not torch.equal(first[0, 0], first[0, 2])  # left and right crops of the 21 x 16 frames
    assert not torch.equal(first[0, 1], first[4, 1])  # first and last clips
    assert torch.equal(first[1, 1], torch.from_numpy(crop_square(decode_frames(
        videos.items[0].path, [3, 4, 5, 6], 16), 16, 0.5)))  # clip 1 of 5 starts at 12 // 4


def test_segment_items_sample_within_the_annotated_range(video: Path):
    data = ClipDataset(VideoList([VideoItem(video, 0, 4, 12)], ["a"]), frames=4, mode="segment", size=24,
                       train=False)
    expected = crop_square(decode_frames(video, [5, 7, 9, 11], 24), 24, 0.5)
    assert torch.equal(data[0][0], torch.from_numpy(expected))


def test_undecodable_videos_are_skipped_and_counted(video: Path, tmp_path: Path):
    garbage = tmp_path / "v_Broken_g01_c01.avi"
    garbage.write_bytes(bytes(range(256)) * 8)
    videos = VideoList([VideoItem(video, 0), VideoItem(garbage, 1), VideoItem(video, 2)], ["a", "b", "c"])
    data = ClipDataset(videos, frames=4, size=16, train=True)
    with pytest.warns(RuntimeWarning, match="v_Broken_g01_c01.avi"):
        batches = list(DataLoader(data, batch_size=2, collate_fn=data.collate))
    assert [b.skipped for b in batches] == [1, 0]
    assert torch.cat([b.label for b in batches]).tolist() == [0, 2]
    empty = data.collate([None])
    assert (empty.video.shape, empty.skipped) == ((0, 4, 16, 16, 3), 1)
