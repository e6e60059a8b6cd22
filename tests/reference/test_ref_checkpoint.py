"""Parameter layout (spec.checkpoint_spec) and RWKV.from_state_dict."""
import pytest

torch = pytest.importorskip("torch")

from rrwkv_rt.config import ModelConfig  # noqa: E402
from rrwkv_rt.reference import RWKV, random_model  # noqa: E402
from rrwkv_rt.arch import checkpoint_spec  # noqa: E402

CONFIGS = [
    ModelConfig("rwkv4", 1, 8, 11),
    ModelConfig("rwkv4", 3, 16, 40, ffn_dim=24),
    ModelConfig("rrwkv", 2, 16, 40, medium_interval=4),
    ModelConfig("rrwkv", 2, 12, 30, ffn_dim=50, medium_interval=2, cm_mode="add"),
]


def _shapes(sd):
    return {k: tuple(v.shape) for k, v in sd.items()}


@pytest.mark.parametrize("cfg", CONFIGS, ids=str)
@pytest.mark.parametrize("init", ["paper", "random", None])
def test_state_dict_is_checkpoint_spec(cfg, init):
    model = RWKV(cfg, init=init)
    assert _shapes(model.state_dict()) == checkpoint_spec(cfg)
    assert "blocks.0.ln0.weight" in model.state_dict()
    assert not any(k.startswith(f"blocks.{i}.ln0") for i in range(1, cfg.n_layer) for k in model.state_dict())
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert all(p.dtype == torch.float64 for p in model.double().parameters())


@pytest.mark.parametrize("cfg", CONFIGS, ids=str)
@pytest.mark.parametrize("src_dtype", [torch.float32, torch.float16, torch.bfloat16, torch.float64])
def test_from_state_dict_round_trip(cfg, src_dtype, make_tokens):
    model = random_model(cfg, seed=4, dtype=torch.float64)
    sd = {k: v.to(src_dtype) for k, v in model.state_dict().items()}
    loaded = RWKV.from_state_dict(sd, medium_interval=cfg.medium_interval, dtype=torch.float64)
    assert loaded.cfg == cfg
    assert loaded.dtype == torch.float64
    for name, t in loaded.state_dict().items():
        assert torch.equal(t, sd[name].double()), name
    if src_dtype in (torch.float32, torch.float64):  # lossless: the very same model
        tokens = make_tokens(2, 9, vocab=cfg.vocab_size)
        assert torch.equal(loaded(tokens), model(tokens))


def test_from_state_dict_infers_arch_and_cm_mode():
    cfg = ModelConfig("rrwkv", 2, 8, 20, medium_interval=5, cm_mode="add")
    sd = random_model(cfg).state_dict()
    assert RWKV.from_state_dict(sd, medium_interval=5).cfg == cfg
    assert RWKV.from_state_dict(sd).cfg == cfg.with_(medium_interval=1)  # s is not in checkpoints
    replace = {k: v for k, v in sd.items() if "medium_mix" not in k}
    assert RWKV.from_state_dict(replace, medium_interval=5).cfg == cfg.with_(cm_mode="replace")
    rwkv4 = {k: v for k, v in replace.items() if not k.endswith("_m")}
    assert RWKV.from_state_dict(rwkv4).cfg.arch == "rwkv4"
    assert RWKV.from_state_dict(rwkv4, dtype=torch.float64).dtype == torch.float64


def test_from_state_dict_reports_every_problem():
    cfg = ModelConfig("rrwkv", 3, 8, 20, medium_interval=2, cm_mode="add")
    sd = dict(random_model(cfg).state_dict())
    del sd["blocks.1.att.key.weight"]
    del sd["blocks.2.att.time_first_m"]
    del sd["ln_out.bias"]
    sd["blocks.0.att.time_mix_k"] = torch.zeros(8)
    sd["blocks.2.ffn.value.weight"] = torch.zeros(8, 31)
    sd["blocks.1.ffn.bogus"] = torch.zeros(3)
    sd["blocks.0.att.time_decay"] = torch.zeros(8, dtype=torch.int32)
    with pytest.raises(ValueError) as err:
        RWKV.from_state_dict(sd, medium_interval=2)
    msg = str(err.value)
    for name in ("blocks.1.att.key.weight", "blocks.2.att.time_first_m", "ln_out.bias", "blocks.0.att.time_mix_k",
                 "blocks.2.ffn.value.weight", "blocks.1.ffn.bogus", "blocks.0.att.time_decay"):
        assert name in msg, name
    assert len(msg.splitlines()) == 1 + 7


def test_from_state_dict_rejects_non_checkpoints():
    with pytest.raises(ValueError):
        RWKV.from_state_dict({"foo": torch.zeros(2)})
