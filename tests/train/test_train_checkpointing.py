"""Checkpoints are atomic, load without unpickling code, and export directly to .rrwkv."""
import os

import pytest

torch = pytest.importorskip("torch")

from rrwkv_rt.train import checkpointing  # noqa: E402


def test_atomic_save_replaces_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "ckpt.pt"
    checkpointing.atomic_save({"a": torch.arange(3)}, path)
    checkpointing.atomic_save({"a": torch.arange(5)}, path)
    assert torch.load(path, weights_only=True)["a"].tolist() == [0, 1, 2, 3, 4]
    assert os.listdir(tmp_path) == ["ckpt.pt"]
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~_umask()


def _umask():
    m = os.umask(0)
    os.umask(m)
    return m


def test_failure_mid_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    checkpointing.atomic_save({"a": torch.arange(3)}, path)
    before = path.read_bytes()

    def broken_save(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        checkpointing.atomic_save({"a": torch.arange(7)}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.pt"]  # the temporary file is gone too

    # and a first save that fails leaves nothing at all
    with pytest.raises(OSError):
        checkpointing.atomic_save({"a": 1}, tmp_path / "new.pt")
    assert os.listdir(tmp_path) == ["ckpt.pt"]


def test_interrupted_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    checkpointing.atomic_save({"a": 1}, path)

    def interrupted(obj, f, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        checkpointing.atomic_save({"a": 2}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True) == {"a": 1} and os.listdir(tmp_path) == ["ckpt.pt"]


def test_load_rejects_what_is_not_a_training_checkpoint(tmp_path):
    torch.save({"emb.weight": torch.zeros(2, 2)}, tmp_path / "sd.pth")
    with pytest.raises(ValueError, match="--init-from"):
        checkpointing.load(tmp_path / "sd.pth")
    (tmp_path / "junk.pt").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="cannot read"):
        checkpointing.load(tmp_path / "junk.pt")
    with pytest.raises(FileNotFoundError):
        checkpointing.load(tmp_path / "missing.pt")
