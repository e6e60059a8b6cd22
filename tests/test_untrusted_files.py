"""Hostile inputs through the Python entry points (the adversarial review's findings): each is a
specific exception with a message, never a crash, a hang, a traceback from the CLI or a file
left behind."""
import os
import signal
import struct
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest

import rrwkv_rt
from rrwkv_rt import FormatError, ModelConfig, _core
from rrwkv_rt.io.format import write_model

CFG = ModelConfig("rwkv4", n_layer=1, n_embd=4, vocab_size=300, ffn_dim=8)


def tensors(cfg=CFG):
    rng = np.random.default_rng(0)
    return {name: (rng.standard_normal(shape).astype(np.float32), "f32")
            for name, shape, _ in _core.runtime_layout(cfg.to_dict())}


def fix_header_crc(data: bytearray) -> bytearray:
    """Recompute the header checksum (bytes 16 .. 64 + header_size), as an attacker would."""
    header_size = struct.unpack_from("<Q", data, 24)[0]
    struct.pack_into("<I", data, 12, zlib.crc32(bytes(data[16:64 + header_size])))
    return data


@pytest.fixture
def model_path(tmp_path):
    path = tmp_path / "m.rrwkv"
    write_model(path, CFG, tensors(), metadata={"note": "\xff\xfe"})  # str "\xff\xfe" is c3 bf c3 be in UTF-8
    return path


def test_non_utf8_text_is_a_format_error_with_its_offset(model_path, tmp_path):
    data = bytearray(model_path.read_bytes())
    at = data.index("\xff\xfe".encode())
    data[at:at + 4] = b"\xff\xfe\xff\xfe"  # same length, invalid UTF-8
    bad = tmp_path / "bad.rrwkv"
    bad.write_bytes(fix_header_crc(data))
    with pytest.raises(FormatError, match=r"bad\.rrwkv.*header field 'meta\.note' at byte \d+ is not valid UTF-8"):
        rrwkv_rt.ModelFile(bad)
    assert rrwkv_rt.ModelFile(model_path).fields["meta.note"] == "\xff\xfe"


def test_tensor_offset_past_the_end(model_path, tmp_path):
    data = bytearray(model_path.read_bytes())
    name = b"ln_out.bias"
    at = data.index(struct.pack("<I", len(name)) + name) + 4 + len(name) + 2 + 8  # after dtype, ndim, one dim
    for offset in (len(data) + 64, len(data) * 3 // 64 * 64, 2**64 - 64):
        struct.pack_into("<Q", data, at, offset)
        bad = tmp_path / "bad.rrwkv"
        bad.write_bytes(fix_header_crc(data))
        with pytest.raises(FormatError, match=f"tensor 'ln_out.bias' spans bytes {offset} "):
            rrwkv_rt.ModelFile(bad)
        with pytest.raises(FormatError):
            rrwkv_rt.Model(bad)


def test_paths_bytes_pathlike_and_nul(model_path):
    for p in (str(model_path), model_path, os.fsencode(str(model_path))):
        assert rrwkv_rt.ModelFile(p).path == str(model_path)
        assert rrwkv_rt.Model(p).path == str(model_path)
    for cls in (rrwkv_rt.ModelFile, rrwkv_rt.Model):
        with pytest.raises(ValueError, match=r"contains a NUL byte"):
            cls(str(model_path) + "\0junk")
        with pytest.raises(FileNotFoundError, match=r"'/no/such\.rrwkv' does not exist"):
            cls(b"/no/such.rrwkv")
        with pytest.raises(TypeError):
            cls(3)


def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.rrwkv"
    os.mkfifo(fifo)
    code = textwrap.dedent(f"""
        import rrwkv_rt
        for open_it in (rrwkv_rt.ModelFile, rrwkv_rt.Model,
                        lambda p: rrwkv_rt.Model(p, read_into_memory=True)):
            try:
                open_it({str(fifo)!r})
            except rrwkv_rt.FormatError as e:
                assert "not a regular file" in str(e)
            else:
                raise SystemExit("accepted a FIFO")
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_in_memory_copy_survives_truncation(model_path):
    f = rrwkv_rt.ModelFile(model_path, read_into_memory=True)
    expected = np.array(f.tensor("head.weight"))
    os.truncate(model_path, 0)
    np.testing.assert_array_equal(f.tensor("head.weight"), expected)  # a mapping would SIGBUS here
    with pytest.raises(FormatError, match=r"model file '<memory>'"):
        rrwkv_rt.ModelFile.from_bytes(b"RRWKV\0\r\n" + bytes(8))


def test_model_read_into_memory_matches_the_mapping_and_survives_truncation(model_path):
    def logits(model):
        s = rrwkv_rt.Session(model, threads=1)
        return [s.step(t).copy() for t in (1, 7, 299, 0)]

    with rrwkv_rt.Model(model_path) as mapped:
        expected = logits(mapped)
    copied = rrwkv_rt.Model(model_path, read_into_memory=True)
    os.truncate(model_path, 0)  # the mapped model is closed; a mapping would SIGBUS from here
    for got, want in zip(logits(copied), expected):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(FormatError, match="is not an .rrwkv model"):
        rrwkv_rt.Model(model_path, read_into_memory=True)


def test_from_bytes_reads_a_whole_file(model_path):
    f = rrwkv_rt.ModelFile.from_bytes(model_path.read_bytes())
    assert f.path == "<memory>" and f.config == rrwkv_rt.ModelFile(model_path).config


def peak_rss_mib_reading_tokenizer(path):
    """Peak RSS (MiB) of a fresh interpreter that imports rrwkv_rt and, given a path, tries to read
    that model's tokenizer; memory, unlike time, does not depend on how busy the machine is."""
    code = textwrap.dedent(f"""
        import resource, rrwkv_rt
        if {str(path)!r} != 'None':
            try:
                rrwkv_rt.Tokenizer.from_model({str(path)!r})
            except rrwkv_rt.FormatError:
                pass
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1]) / 1024


def test_tokenizer_ids_are_bounded_by_the_model(tmp_path):
    singles = "".join(f"{b + 1} b'\\x{b:02x}' 1\n" for b in range(256))
    path = tmp_path / "m.rrwkv"
    write_model(path, CFG, tensors(), tokenizer=("world", (singles + "67108863 'zz' 2\n").encode()))
    with pytest.raises(FormatError, match=r"expected a decimal token id 0\.\.299 \(the model's vocab_size is 300\)"):
        rrwkv_rt.Tokenizer.from_model(path)
    # The id is refused before anything is sized by it: a table indexed by 67108863 ids would add
    # hundreds of MiB to the peak memory of a process that only reads this file.
    assert peak_rss_mib_reading_tokenizer(path) - peak_rss_mib_reading_tokenizer(None) < 64
    with pytest.raises(FormatError, match="expected at most 256"):
        rrwkv_rt.Tokenizer.from_header("world", (singles + f"299 '{'a' * 300}' 300\n").encode())


def test_writer_refuses_a_config_its_reader_would_refuse(tmp_path):
    cfg = ModelConfig("rrwkv", n_layer=1, n_embd=4, vocab_size=8, ffn_dim=8, medium_interval=99999999999)
    path = tmp_path / "m.rrwkv"
    with pytest.raises(ValueError, match=r"'medium_interval' is 99999999999, expected 1\.\.1073741824"):
        write_model(path, cfg, tensors(cfg))
    assert list(tmp_path.iterdir()) == []


def test_export_cli_errors_are_one_line(tmp_path):
    torch = pytest.importorskip("torch")
    from rrwkv_rt.io.checkpoint import TRAIN_CHECKPOINT_FORMAT
    from rrwkv_rt.reference import random_model
    cfg = ModelConfig("rrwkv", n_layer=1, n_embd=4, vocab_size=8, ffn_dim=8, medium_interval=2)
    sd = random_model(cfg, seed=0, dtype=torch.float32).state_dict()
    cases = {
        "no_config": {"format": TRAIN_CHECKPOINT_FORMAT, "model": sd},
        "odd_config": {"format": TRAIN_CHECKPOINT_FORMAT, "model": sd, "config": {"arch": "rrwkv", "layers": 3}},
        "bad_value": {"format": TRAIN_CHECKPOINT_FORMAT, "model": sd, "config": {**cfg.to_dict(), "n_embd": "4"}},
        "no_model": {"format": TRAIN_CHECKPOINT_FORMAT, "config": cfg.to_dict()},
    }
    for name, obj in cases.items():
        src = tmp_path / f"{name}.pth"
        torch.save(obj, src)
        r = subprocess.run([sys.executable, "-m", "rrwkv_rt", "export", str(src), str(tmp_path / "out.rrwkv")],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 1, (name, r.stderr)
        assert "Traceback" not in r.stderr and f"training checkpoint '{src}'" in r.stderr, (name, r.stderr)
    src = tmp_path / "sd.pth"
    torch.save(sd, src)
    r = subprocess.run([sys.executable, "-m", "rrwkv_rt", "export", str(src), str(tmp_path / "out.rrwkv"),
                        "--arch", "rrwkv", "--medium-interval", "99999999999"], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 1 and "Traceback" not in r.stderr and "medium_interval" in r.stderr, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}.pth" for n in [*cases, "sd"])


def test_sigkill_mid_write_leaves_no_file(tmp_path):
    code = textwrap.dedent(f"""
        import sys, time
        from rrwkv_rt.io.atomic import atomic_write
        with atomic_write({str(tmp_path / 'out.bin')!r}) as f:
            f.write(b"x" * 1000)
            f.flush()
            print("writing", flush=True)
            time.sleep(60)
    """)
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == "writing\n"
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=30)
    finally:
        p.kill()
    assert list(tmp_path.iterdir()) == []


def test_thread_start_failure_is_an_exception(tmp_path, model_path):
    if "asan" in os.environ.get("LD_PRELOAD", ""):
        pytest.skip("address-space limits do not work under ASan")
    code = textwrap.dedent(f"""
        import resource
        import rrwkv_rt
        m = rrwkv_rt.Model({str(model_path)!r})
        vm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmSize:")) * 1024
        limit = vm + (200 << 20)  # room for a few thread stacks (>= 2 MiB each), not for 600
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        try:
            rrwkv_rt.Session(m, threads=600)
        except RuntimeError as e:
            print("refused:", e)
        else:
            print("started")
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("refused:"), r.stdout
