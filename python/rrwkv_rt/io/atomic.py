"""Atomic file writes, shared by model files, state files and training checkpoints.

The data goes to an unnamed file in the destination's folder (Linux ``O_TMPFILE``; elsewhere a
hidden temporary name), is fsync'ed, optionally checked, then linked or renamed into place and
the folder fsync'ed: a crash leaves the old file or the new one, never half of one. With an
unnamed file even a SIGKILL mid-write leaves nothing behind.
"""
from __future__ import annotations

import os
import secrets
import tempfile
from contextlib import contextmanager
from typing import BinaryIO, Callable, Iterator

_PROC_FD = "/proc/self/fd"


@contextmanager
def atomic_write(path: str | os.PathLike, *, overwrite: bool = True,
                 check: Callable[[str], None] | None = None) -> Iterator[BinaryIO]:
    """Yield a binary file that becomes ``path`` when the block ends without an exception.

    With ``overwrite=False`` an existing ``path`` is never replaced, even one that appeared while
    writing: the final step is a hard link, which fails with FileExistsError. ``check``, if
    given, is called with a path that reads the finished data before it is put in place; if it
    raises, nothing is written.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):  # else the error would name the hidden temporary file
        raise FileNotFoundError(f"cannot write {path!r}: the folder {os.path.dirname(path) or folder!r} does not "
                                "exist; create it first")
    fd, tmp = _open_unnamed(folder), None
    if fd is None:
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; these are ordinary data files
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
            if tmp is None:
                source = f"{_PROC_FD}/{f.fileno()}"
                if check is not None:
                    check(source)
                _put_in_place(source, path, overwrite, folder)
        if tmp is not None:
            if check is not None:
                check(tmp)
            if overwrite:
                os.replace(tmp, path)
            else:
                os.link(tmp, path)
                os.unlink(tmp)
            tmp = None
    except BaseException:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)


def _open_unnamed(folder: str) -> int | None:
    """A write descriptor of a new unnamed file in `folder`, or None where that is unsupported."""
    if not hasattr(os, "O_TMPFILE") or not os.path.isdir(_PROC_FD):
        return None
    try:  # the mode is subject to the umask, like any new file's
        return os.open(folder, os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o666)
    except OSError:  # e.g. a file system without O_TMPFILE support
        return None


def _put_in_place(source: str, path: str, overwrite: bool, folder: str) -> None:
    """Give the unnamed file behind `source` (/proc/self/fd/N) the name `path`: a hard link that
    fails if `path` exists, or (overwrite) a link under a fresh name renamed over `path`."""
    # linkat(AT_SYMLINK_FOLLOW) follows the /proc link to the unnamed file; CPython passes that
    # flag only when a dir_fd is given (plain link() would fail with EXDEV).
    dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if not overwrite:
            os.link(source, os.path.basename(path), dst_dir_fd=dir_fd, follow_symlinks=True)
            return
        staged = f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp"
        os.link(source, staged, dst_dir_fd=dir_fd, follow_symlinks=True)
        try:
            os.replace(staged, os.path.basename(path), src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            os.unlink(staged, dir_fd=dir_fd)
            raise
    finally:
        os.close(dir_fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(folder: str) -> None:
    """Make the rename itself durable (not possible everywhere, hence best effort)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
