"""RWKV-5.2/6/7: checkpoint layout (spec), config inference from shapes, arch detection, and loading
with every problem reported at once."""
import pytest

torch = pytest.importorskip("torch")

from matrix_helpers import CASES, random_model  # noqa: E402
from rrwkv_rt.arch import detect_arch  # noqa: E402
from rrwkv_rt.config import OFFICIAL_GROUP_NORM_EPS, ModelConfig  # noqa: E402
from rrwkv_rt.reference import RWKV, RWKV5, from_state_dict  # noqa: E402
from rrwkv_rt.arch import check_against_spec, checkpoint_spec, infer_config  # noqa: E402

ALL = [cfg for cases in CASES.values() for cfg in cases.values()]
IDS = [f"{arch}-{case}" for arch, cases in CASES.items() for case in cases]


def shapes_of(sd):
    return {k: tuple(v.shape) for k, v in sd.items()}


@pytest.mark.parametrize("cfg", ALL, ids=IDS)
def test_state_dict_is_the_spec_and_the_config_comes_back_from_it(cfg):
    model = random_model(cfg)
    shapes = shapes_of(model.state_dict())
    assert shapes == checkpoint_spec(cfg)
    assert detect_arch(shapes) == cfg.arch
    assert infer_config(shapes) == cfg  # head size and every low-rank size read back from shapes
    assert infer_config(shapes, arch=cfg.arch) == cfg
    assert check_against_spec(shapes, cfg, "x") == []
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert ModelConfig(**cfg.to_dict()) == cfg


def test_official_layout_details():
    v7 = CASES["rwkv7"]["L2-C64-h32"]
    spec = checkpoint_spec(v7)
    assert spec["blocks.0.att.v1"] == (64, 9)     # present in block 0, though unused there
    assert spec["blocks.1.att.r_k"] == (2, 32)    # (H, S)
    assert spec["blocks.0.att.w0"] == (1, 1, 64)
    assert "blocks.0.att.g0" not in spec and "blocks.0.ffn.receptance.weight" not in spec
    v6 = CASES["rwkv6"]["L2-C64-h32-m13-d7"]
    spec = checkpoint_spec(v6)
    assert spec["blocks.1.att.time_maa_w1"] == (64, 5 * 13) and spec["blocks.1.att.time_maa_w2"] == (5, 13, 64)
    assert spec["blocks.0.att.time_decay"] == (1, 1, 64) and spec["blocks.0.att.time_faaaa"] == (2, 32)
    v5 = CASES["rwkv5"]["L3-C64-h32"]
    assert checkpoint_spec(v5)["blocks.2.att.time_decay"] == (2, 32)
    assert checkpoint_spec(v5)["blocks.2.ffn.key.weight"] == (160, 64)


def test_detect_arch_of_every_kind():
    rwkv4 = RWKV(ModelConfig("rwkv4", 2, 16, 20), init=None).state_dict()
    rrwkv = RWKV(ModelConfig("rrwkv", 2, 16, 20, medium_interval=3), init=None).state_dict()
    assert detect_arch(rwkv4) == "rwkv4" and detect_arch(rrwkv) == "rrwkv"
    for arch, cases in CASES.items():
        sd = random_model(next(iter(cases.values()))).state_dict()
        assert detect_arch(sd) == arch
        assert detect_arch(shapes_of(sd)) == arch


def test_rwkv5_0_and_5_1_are_refused_by_name():
    shapes = checkpoint_spec(CASES["rwkv5"]["L3-C64-h32"])
    old = {k: ((2,) if k.endswith("att.time_decay") else v) for k, v in shapes.items()}  # per-head decay
    with pytest.raises(ValueError, match="RWKV-5.1 checkpoint"):
        detect_arch(old)
    with pytest.raises(ValueError, match="RWKV-5.0 checkpoint"):
        detect_arch({k: v for k, v in old.items() if "gate" not in k})
    with pytest.raises(ValueError, match="RWKV-5.1"):
        infer_config(old)


def test_config_fields_are_normalised_and_checked():
    base = dict(n_layer=2, n_embd=64, vocab_size=50)
    assert ModelConfig("rwkv4", **base, head_size=64, lora_a=3) == ModelConfig("rwkv4", **base)
    assert ModelConfig("rwkv5", **base, head_size=32, lora_mix=9) == ModelConfig("rwkv5", **base, head_size=32)
    v7 = ModelConfig("rwkv7", **base, head_size=32, lora_decay=3, lora_a=5, lora_v=7, lora_gate=9, lora_mix=4)
    assert v7.lora_mix == 0 and v7.n_head == 2 and v7.group_norm_eps == OFFICIAL_GROUP_NORM_EPS == 64e-5
    assert v7.ffn_dim == 4 * 64 and ModelConfig("rwkv6", **base, head_size=32, lora_mix=1, lora_decay=1).ffn_dim == 224
    assert set(ModelConfig("rwkv4", **base).to_dict()) == {  # the .rrwkv header's keys, unchanged
        "arch", "n_layer", "n_embd", "vocab_size", "ffn_dim", "medium_interval", "cm_mode", "layer_norm_eps"}
    assert set(v7.to_dict()) - set(ModelConfig("rwkv4", **base).to_dict()) == {
        "head_size", "group_norm_eps", "lora_decay", "lora_a", "lora_v", "lora_gate"}
    with pytest.raises(ValueError, match="multiple of head_size"):
        ModelConfig("rwkv5", **base, head_size=48)
    with pytest.raises(ValueError, match="head_size"):
        ModelConfig("rwkv5", **base)
    with pytest.raises(ValueError, match="lora_gate"):
        ModelConfig("rwkv7", **base, head_size=32, lora_decay=3, lora_a=5, lora_v=7)
    with pytest.raises(ValueError, match="medium_interval / cm_mode do not apply"):
        infer_config(checkpoint_spec(v7), medium_interval=4)


@pytest.mark.parametrize("src_dtype", [torch.float16, torch.bfloat16, torch.float32])
@pytest.mark.parametrize("arch", list(CASES))
def test_from_state_dict_round_trip(arch, src_dtype):
    cfg = list(CASES[arch].values())[1]
    sd = {k: v.to(src_dtype) for k, v in random_model(cfg, seed=2).state_dict().items()}
    model = from_state_dict(sd, dtype=torch.float64)
    assert type(model).ARCH == arch and model.cfg == cfg and model.dtype == torch.float64
    for name, t in model.state_dict().items():
        assert torch.equal(t, sd[name].double()), name


def test_loading_the_wrong_kind_says_what_it_is():
    sd = random_model(CASES["rwkv7"]["L2-C64-h32"]).state_dict()
    with pytest.raises(ValueError, match="this is an rwkv7 state dict, not rwkv5"):
        RWKV5.from_state_dict(sd)
    with pytest.raises(ValueError, match="this is an rwkv7 state dict"):
        RWKV.from_state_dict(sd)
    with pytest.raises(ValueError, match="RWKV-4 / RRWKV model"):
        RWKV(CASES["rwkv7"]["L2-C64-h32"])


def test_dim_att_other_than_n_embd_is_refused_clearly():
    sd = dict(random_model(CASES["rwkv6"]["L1-C64-h64-m7-d13"]).state_dict())
    sd["blocks.0.att.key.weight"] = torch.zeros(32, 64)
    with pytest.raises(ValueError, match="dim_att 32 .* != n_embd 64"):
        from_state_dict(sd)


def test_every_problem_is_reported_at_once():
    sd = dict(random_model(CASES["rwkv7"]["L2-C64-h32"]).state_dict())
    del sd["blocks.0.att.r_k"]            # the head size is then read from block 1
    del sd["blocks.1.att.a1"]
    del sd["ln_out.bias"]
    sd["blocks.0.att.x_w"] = torch.zeros(64)
    sd["blocks.1.att.w2"] = torch.zeros(13, 65)
    sd["blocks.1.ffn.value.weight"] = torch.zeros(64, 223)
    sd["blocks.1.att.bogus"] = torch.zeros(3)
    sd["blocks.0.att.k_k"] = torch.zeros(1, 1, 64, dtype=torch.int32)
    sd["note"] = "not a tensor"
    with pytest.raises(ValueError) as err:
        from_state_dict(sd)
    msg = str(err.value)
    for name in ("blocks.0.att.r_k", "blocks.1.att.a1", "ln_out.bias", "blocks.0.att.x_w", "blocks.1.att.w2",
                 "blocks.1.ffn.value.weight", "blocks.1.att.bogus", "blocks.0.att.k_k", "'note' is a str"):
        assert name in msg, name
    assert len(msg.splitlines()) == 1 + 9


def test_inference_needs_the_tensor_it_reads():
    shapes = {k: v for k, v in checkpoint_spec(CASES["rwkv6"]["L2-C64-h32-m13-d7"]).items()
              if not k.endswith("time_decay_w1")}
    with pytest.raises(ValueError, match="decay LoRA size .* no tensor 'blocks.N.att.time_decay_w1'"):
        infer_config(shapes)
