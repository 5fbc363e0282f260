"""Dataset readers on tiny official trees: split sizes, labels, disjoint splits, each layout quirk and each error."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from fixtures import (DIVING48_VOCAB, class_clip, hmdb51_flag, make_diving48, make_hmdb51, make_ucf101,
                      ucf101_test_groups, write_video)

from eval.datasets import DATASETS, VideoList, load_split
from eval.sampling import SAMPLERS
from synth.errors import UserError

GROUP = re.compile(r"_g(\d+)_c\d+\.avi$")
UCF_CLASSES = ["ApplyEyeMakeup", "HandstandPushups", "YoYo"]
HMDB_CLASSES = ["brush_hair", "sword", "sword_exercise"]  # by class name: 'sword_exercise_test...' sorts first


def error_of(*args, **kwargs) -> str:
    """load_split's UserError message, checked to be one line."""
    with pytest.raises(UserError) as caught:
        load_split(*args, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    return message


def labels_match_folders(videos: VideoList) -> bool:
    return all(videos.classes[item.label].casefold() == item.path.parent.name.casefold() for item in videos.items)


@pytest.fixture(scope="module")
def ucf101(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_ucf101(tmp_path_factory.mktemp("ucf101"))


@pytest.fixture(scope="module")
def hmdb51(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_hmdb51(tmp_path_factory.mktemp("hmdb51"))


@pytest.fixture(scope="module")
def diving48(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_diving48(tmp_path_factory.mktemp("diving48"))


def copy(tree: Path, tmp_path: Path) -> Path:
    """A private copy for a test that changes the tree."""
    return Path(shutil.copytree(tree, tmp_path / tree.name))


# ----------------------------------------------------------------------------------------------------------- UCF101

@pytest.mark.parametrize("split", [1, 2, 3])
def test_ucf101_splits_hold_out_whole_groups(ucf101: Path, split: int):
    train, test = load_split("ucf101", ucf101, split, "train"), load_split("ucf101", ucf101, split, "test")
    assert train.classes == test.classes == UCF_CLASSES
    assert (len(train), len(test), train.missing, test.missing) == (12, 6, 0, 0)
    assert labels_match_folders(train) and labels_match_folders(test)
    groups = {name: {int(GROUP.search(i.path.name).group(1)) for i in v.items} for name, v in
              (("train", train), ("test", test))}
    assert groups["test"] == ucf101_test_groups(split, 3)
    assert not groups["train"] & groups["test"]


def test_ucf101_reads_the_handstand_file_name_quirk(ucf101: Path):
    videos = load_split("ucf101", ucf101, 1, "train")
    handstand = [i.path for i in videos.items if i.label == UCF_CLASSES.index("HandstandPushups")]
    assert len(handstand) == 4
    assert all(p.parent.name == "HandstandPushups" and p.name.startswith("v_HandStandPushups_") for p in handstand)


def test_ucf101_matches_folders_whose_case_differs_from_the_lists(ucf101: Path, tmp_path: Path):
    root = copy(ucf101, tmp_path)
    (root / "UCF-101" / "HandstandPushups").rename(root / "UCF-101" / "HANDSTANDPUSHUPS")
    videos = load_split("ucf101", root, 1, "test")
    assert (len(videos), videos.missing) == (6, 0)
    assert sum(i.path.parent.name == "HANDSTANDPUSHUPS" and i.path.is_file() for i in videos.items) == 2


def test_ucf101_root_may_be_the_video_folder(ucf101: Path, tmp_path: Path):
    assert (load_split("ucf101", ucf101 / "UCF-101", 2, "test").items
            == load_split("ucf101", ucf101, 2, "test").items)
    root = copy(ucf101, tmp_path)  # lists unzipped inside UCF-101/
    shutil.move(root / "ucfTrainTestlist", root / "UCF-101" / "ucfTrainTestlist")
    assert len(load_split("ucf101", root / "UCF-101", 2, "test")) == 6


def test_ucf101_reads_lists_with_any_line_ending_and_blank_lines(ucf101: Path, tmp_path: Path):
    root = copy(ucf101, tmp_path)
    listed = root / "ucfTrainTestlist" / "testlist01.txt"
    lines = listed.read_bytes().decode().split()
    listed.write_text("\n\n".join(f"{line}  " for line in lines) + "\n\n\n")
    assert ([(i.path.relative_to(root), i.label) for i in load_split("ucf101", root, 1, "test").items]
            == [(i.path.relative_to(ucf101), i.label) for i in load_split("ucf101", ucf101, 1, "test").items])


def test_ucf101_errors_name_the_file_and_the_fix(ucf101: Path, tmp_path: Path):
    assert "UCF-101" in error_of("ucf101", tmp_path / "nowhere")
    assert "split=4" in error_of("ucf101", ucf101, 4)
    root = copy(ucf101, tmp_path)
    lists = root / "ucfTrainTestlist"
    (lists / "trainlist02.txt").unlink()
    message = error_of("ucf101", root, 2, "train")
    assert f"{lists / 'trainlist02.txt'} not found" in message
    assert "UCF101TrainTestSplits-RecognitionTask.zip" in message
    with (lists / "testlist01.txt").open("a") as f:
        f.write("Juggling/v_Juggling_g01_c01.avi\r\n")
    message = error_of("ucf101", root, 1, "test")
    assert "testlist01.txt" in message and "'Juggling'" in message
    with (lists / "trainlist03.txt").open("a") as f:
        f.write("YoYo/v_YoYo_g01_c01.avi 1\r\n")
    assert "class id 1" in error_of("ucf101", root, 3, "train")


def test_ucf101_skips_and_counts_missing_videos(ucf101: Path, tmp_path: Path):
    root = copy(ucf101, tmp_path)
    (root / "UCF-101" / "YoYo" / "v_YoYo_g01_c01.avi").unlink()
    with pytest.warns(RuntimeWarning, match="1 of 6 listed videos are missing"):
        videos = load_split("ucf101", root, 1, "test")
    assert (len(videos), videos.missing) == (5, 1)
    shutil.rmtree(root / "UCF-101")
    message = error_of("ucf101", root, 1, "test")
    assert "testlist01.txt: none of its 6 videos exist" in message and "UCF101.rar" in message


# ----------------------------------------------------------------------------------------------------------- HMDB51

@pytest.mark.parametrize("split", [1, 2, 3])
def test_hmdb51_reads_the_train_and_test_ids(hmdb51: Path, split: int):
    train, test = load_split("hmdb51", hmdb51, split, "train"), load_split("hmdb51", hmdb51, split, "test")
    assert train.classes == test.classes == HMDB_CLASSES
    assert (len(train), len(test)) == (3 * 3, 3 * 2)  # per class: 3 train, 2 test, 1 unused
    assert labels_match_folders(train) and labels_match_folders(test)
    number = re.compile(r"_(\d+)\.avi$")
    for subset, flag in ((train, 1), (test, 2)):
        assert all(hmdb51_flag(int(number.search(i.path.name).group(1)), split, 6) == flag for i in subset.items)


def test_hmdb51_reads_video_names_with_odd_characters(hmdb51: Path):
    videos = load_split("hmdb51", hmdb51, 1, "train").items + load_split("hmdb51", hmdb51, 1, "test").items
    names = "".join(i.path.name for i in videos)
    assert all(ch in names for ch in "&()![]#") and all(i.path.is_file() for i in videos)


def test_hmdb51_videos_may_sit_in_root_or_beside_the_splits(tmp_path: Path):
    root = make_hmdb51(tmp_path / "flat", org_folder=False)
    assert len(load_split("hmdb51", root, 1, "test")) == 6
    nested = make_hmdb51(tmp_path / "nested")
    assert len(load_split("hmdb51", nested / "hmdb51_org", 2, "train")) == 9


def test_hmdb51_errors_name_the_file_and_the_fix(hmdb51: Path, tmp_path: Path):
    root = copy(hmdb51, tmp_path)
    split_file = root / "testTrainMulti_7030_splits" / "sword_test_split3.txt"
    split_file.write_text(split_file.read_text() + "odd_line_without_id.avi\r\n")
    assert "sword_test_split3.txt:8: expected '<video>.avi <0|1|2>'" in error_of("hmdb51", root, 3)
    shutil.rmtree(root / "testTrainMulti_7030_splits")
    message = error_of("hmdb51", root, 1)
    assert "testTrainMulti_7030_splits" in message and "test_train_splits.rar" in message


# --------------------------------------------------------------------------------------------------------- Diving48

def test_diving48_reads_the_annotations_and_vocabulary(diving48: Path):
    train, test = load_split("diving48", diving48, 1, "train"), load_split("diving48", diving48, 1, "test")
    assert train.classes == ["+".join(words) for words in DIVING48_VOCAB[:3]]
    assert (len(train), len(test)) == (9, 3)
    assert [i.label for i in test.items] == [0, 1, 2]
    assert all((i.start_frame, i.end_frame, i.path.suffix) == (0, 16, ".mp4") for i in train.items)
    assert not {i.path for i in train.items} & {i.path for i in test.items}


def test_diving48_reads_v1_names_and_numbers_classes_without_vocabulary(tmp_path: Path):
    root = make_diving48(tmp_path / "v1", version="V1", vocab=False)
    videos = load_split("diving48", root, 1, "test")
    assert (len(videos), videos.classes) == (3, [str(i) for i in range(48)])


def test_diving48_errors_name_the_file_and_the_fix(diving48: Path, tmp_path: Path):
    assert "split=2" in error_of("diving48", diving48, 2)
    root = copy(diving48, tmp_path)
    (root / "Diving48_V2_train.json").write_text('[{"vid_name": "x", "label": 7}]')
    assert "label 7, outside the 3 classes" in error_of("diving48", root)
    (root / "Diving48_V2_train.json").unlink()
    message = error_of("diving48", root)
    assert "Diving48_V2_train.json not found" in message and "svcl.ucsd.edu" in message


# ---------------------------------------------------------------------------------------------------- folder, csv

def test_folder_takes_classes_from_train_and_test(tmp_path: Path):
    for subset, cls, n in (("train", "jump", 2), ("train", "run", 1), ("test", "walk", 1)):
        for i in range(n):
            write_video(tmp_path / subset / cls / f"v{i}.avi", class_clip(0, 4))
    (tmp_path / "train" / "run" / ".hidden.avi").write_bytes(b"")
    train, test = load_split("folder", tmp_path, subset="train"), load_split("folder", tmp_path, subset="test")
    assert train.classes == test.classes == ["jump", "run", "walk"]
    assert [i.label for i in train.items] == [0, 0, 1] and [i.label for i in test.items] == [2]


def test_folder_without_splits_only_trains(tmp_path: Path):
    write_video(tmp_path / "jump" / "a.mp4", class_clip(0, 4))
    assert load_split("folder", tmp_path).classes == ["jump"]
    assert "test/<class>" in error_of("folder", tmp_path, subset="test")


def test_csv_reads_names_or_ids_relative_to_the_table(tmp_path: Path):
    for name in ("a.avi", "sub/b.avi", "c.avi"):
        write_video(tmp_path / name, class_clip(0, 4))
    (tmp_path / "train.csv").write_text("path,label\r\na.avi,run\r\nsub\\b.avi,jump\r\n\r\n")
    (tmp_path / "test.csv").write_text("c.avi,walk\nmissing.avi,run\n")
    train = load_split("csv", tmp_path)
    assert train.classes == ["jump", "run", "walk"] and [i.label for i in train.items] == [1, 0]
    with pytest.warns(RuntimeWarning, match="1 of 2"):
        test = load_split("csv", tmp_path, subset="test")
    assert ([i.path.name for i in test.items], test.missing) == (["c.avi"], 1)
    (tmp_path / "ids.csv").write_text("a.avi,2\nc.avi,0\n")
    ids = load_split("csv", tmp_path / "ids.csv", subset="test")
    assert ids.classes == ["0", "1", "2"] and [i.label for i in ids.items] == [2, 0]
    (tmp_path / "bad.csv").write_text("a.avi,1,extra\n")
    assert "bad.csv:1: expected 'path,label'" in error_of("csv", tmp_path / "bad.csv")


# ------------------------------------------------------------------------------------------------------- registry

def test_registry_names_every_reader_and_its_sampling():
    assert set(DATASETS) == {"ucf101", "hmdb51", "diving48", "folder", "csv"}
    assert {name: d.sampling for name, d in DATASETS.items() if d.sampling != "dense"} == {"diving48": "segment"}
    assert all(d.sampling in SAMPLERS for d in DATASETS.values())


def test_unknown_dataset_or_subset_is_a_user_error(ucf101: Path):
    assert "choose one of csv, diving48" in error_of("kinetics", ucf101)
    assert "subset 'val'" in error_of("ucf101", ucf101, 1, "val")
