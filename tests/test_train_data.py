"""Training data: digits, image folders, .npz files and batch augmentation."""
import numpy as np
import pytest
import torch

from app.train.data import BatchPrep, DataError, channel_stats, load_dataset

Image = pytest.importorskip("PIL.Image")


def make_folder(root, classes=("cat", "dog", "owl"), per_class=5, size=(20, 14)):
    rng = np.random.default_rng(0)
    for k, name in enumerate(classes):
        d = root / name
        d.mkdir(parents=True)
        for i in range(per_class):
            a = (rng.random((size[1], size[0], 3)) * 80 + k * 80).astype(np.uint8)
            ext = (".png", ".jpg", ".bmp")[i % 3]
            Image.fromarray(a).save(d / f"{i}{ext}")
    return root


def test_digits_resized_to_the_input_with_a_stratified_split():
    ds = load_dataset("digits", (3, 32, 32), val_fraction=0.2, seed=0)
    assert ds.sample_shape == (3, 32, 32) and ds.num_classes == 10
    assert len(ds.train) + len(ds.val) == 1797 and len(ds.val) == 360
    assert ds.train.x.dtype == torch.float32 and 0 <= ds.train.x.min() and ds.train.x.max() <= 1
    assert torch.equal(ds.train.x[:, 0], ds.train.x[:, 2])  # grey replicated
    counts = torch.bincount(ds.val.y, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37  # every class, in proportion
    small = load_dataset("digits", (1, 8, 8))
    assert small.sample_shape == (1, 8, 8)
    assert len(ds.mean) == 3 and all(s > 0 for s in ds.std)


def test_digits_need_an_image_input():
    with pytest.raises(DataError, match=r"\[64\]"):
        load_dataset("digits", (64,))


def test_image_folder_skips_junk_and_counts_it(tmp_path):
    root = make_folder(tmp_path / "imgs")
    (root / "cat" / "notes.txt").write_text("not an image")
    (root / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (root / "loose.png").write_bytes(b"")  # files beside the class folders are ignored
    ds = load_dataset(str(root), (3, 16, 16), val_fraction=0.4)
    assert ds.classes == ["cat", "dog", "owl"]
    assert ds.sample_shape == (3, 16, 16) and ds.train.x.dtype == torch.uint8
    assert len(ds.train) + len(ds.val) == 15
    assert any("skipped 2 file(s)" in m for m in ds.messages)
    # class k was drawn brighter: the resized pixels keep that order
    means = [ds.train.x[ds.train.y == k].float().mean() for k in range(3)]
    assert means[0] < means[1] < means[2]
    grey = load_dataset(str(root), (1, 8, 8), val_fraction=0.4)
    assert grey.sample_shape == (1, 8, 8)


def test_image_folder_with_separate_validation_folder(tmp_path):
    train = make_folder(tmp_path / "train")
    val = make_folder(tmp_path / "val", per_class=2)
    ds = load_dataset(str(train), (3, 8, 8), val_source=str(val))
    assert len(ds.train) == 15 and len(ds.val) == 6
    other = make_folder(tmp_path / "other", classes=("cat", "dog"))
    with pytest.raises(DataError, match="class folders"):
        load_dataset(str(train), (3, 8, 8), val_source=str(other))


def test_empty_class_folder_and_empty_folder_are_clear_errors(tmp_path):
    root = make_folder(tmp_path / "imgs")
    (root / "zebra").mkdir()
    (root / "zebra" / "readme.txt").write_text("todo")
    with pytest.raises(DataError, match="'zebra'.*no readable images"):
        load_dataset(str(root), (3, 8, 8))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no class folders"):
        load_dataset(str(empty), (3, 8, 8))
    junk = tmp_path / "junk"
    (junk / "a").mkdir(parents=True)
    (junk / "a" / "x.png").write_text("nope")
    with pytest.raises(DataError, match="no readable images"):
        load_dataset(str(junk), (3, 8, 8))
    with pytest.raises(DataError, match="no such file"):
        load_dataset(str(tmp_path / "missing"), (3, 8, 8))


def test_npz_layouts(tmp_path):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 10)
    nchw = rng.random((40, 3, 6, 5)).astype(np.float32)
    np.savez(tmp_path / "a.npz", x=nchw, y=y)
    ds = load_dataset(str(tmp_path / "a.npz"), (3, 6, 5))
    assert ds.sample_shape == (3, 6, 5) and ds.num_classes == 4
    np.savez(tmp_path / "b.npz", x=(nchw.transpose(0, 2, 3, 1) * 255).astype(np.uint8), y=y,
             classes=np.array(["a", "b", "c", "d"]))
    ds = load_dataset(str(tmp_path / "b.npz"), (3, 6, 5))
    assert ds.train.x.dtype == torch.uint8 and ds.classes == ["a", "b", "c", "d"]
    np.savez(tmp_path / "flat.npz", x=rng.random((40, 12)), y=y)
    assert load_dataset(str(tmp_path / "flat.npz"), (12,)).sample_shape == (12,)


def test_npz_errors_name_both_shapes_and_never_unpickle(tmp_path):
    y = np.arange(10) % 2
    np.savez(tmp_path / "wrong.npz", x=np.zeros((10, 3, 8, 8), np.float32), y=y)
    with pytest.raises(DataError) as e:
        load_dataset(str(tmp_path / "wrong.npz"), (3, 32, 32))
    assert "[3, 8, 8]" in str(e.value) and "[3, 32, 32]" in str(e.value)
    np.savez(tmp_path / "obj.npz", x=np.array([object()] * 10, dtype=object), y=y)
    with pytest.raises(DataError, match="pickle"):
        load_dataset(str(tmp_path / "obj.npz"), (3, 8, 8))
    np.savez(tmp_path / "noy.npz", x=np.zeros((10, 3, 8, 8), np.float32))
    with pytest.raises(DataError, match="x and y"):
        load_dataset(str(tmp_path / "noy.npz"), (3, 8, 8))
    np.savez(tmp_path / "neg.npz", x=np.zeros((10, 3, 8, 8), np.float32), y=y - 1)
    with pytest.raises(DataError, match="0 or more"):
        load_dataset(str(tmp_path / "neg.npz"), (3, 8, 8))
    np.savez(tmp_path / "nan.npz", x=np.full((10, 3, 8, 8), np.nan, np.float32), y=y)
    with pytest.raises(DataError, match="NaN"):
        load_dataset(str(tmp_path / "nan.npz"), (3, 8, 8))
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a readable"):
        load_dataset(str(tmp_path / "bad.npz"), (3, 8, 8))
    (tmp_path / "data.csv").write_text("1,2")
    with pytest.raises(DataError, match="digits"):
        load_dataset(str(tmp_path / "data.csv"), (3, 8, 8))


def test_batch_augmentation_crops_flips_and_normalises():
    ds = load_dataset("digits", (1, 16, 16))
    torch.manual_seed(0)
    prep = BatchPrep(ds, torch.device("cpu"), normalize=True, augment=True, flip=True)
    x = ds.train.x[:256]
    out = prep(x, train=True)
    assert out.shape == x.shape
    plain = BatchPrep(ds, torch.device("cpu"), normalize=False, augment=True, flip=False,
                      crop_padding=2)
    shifted = plain(x, train=True)
    # each crop is the image moved by at most 2 pixels, zero-filled: total ink is kept or cut
    assert (shifted.sum((1, 2, 3)) <= x.sum((1, 2, 3)) + 1e-4).all()
    assert not torch.equal(shifted, x)
    # the same batch is left alone at evaluation
    assert torch.equal(plain(x, train=False), x)
    norm = BatchPrep(ds, torch.device("cpu"), normalize=True)(ds.train.x, train=False)
    assert abs(float(norm.mean())) < 1e-3 and abs(float(norm.std()) - 1) < 1e-2
    flip_only = BatchPrep(ds, torch.device("cpu"), normalize=False, augment=True, flip=True,
                          crop_padding=0)
    f = flip_only(x, train=True)
    same = (f == x).flatten(1).all(1)
    mirrored = (f == x.flip(3)).flatten(1).all(1)
    assert (same | mirrored).all() and mirrored.any() and same.any()


def test_uint8_stats_are_in_unit_range():
    x = torch.full((4, 3, 2, 2), 255, dtype=torch.uint8)
    mean, std = channel_stats(x)
    assert mean == [1.0, 1.0, 1.0] and std == [1.0, 1.0, 1.0]  # zero std becomes 1
