"""The CUDA path: bf16 full fine-tuning, LoRA, and QLoRA with the base really loaded in 4 bit
(bitsandbytes), each a few steps on a small pretrained-shaped model saved here. Skipped without a
CUDA GPU (and QLoRA without bitsandbytes); these never run on the CPU machines CI uses."""

from __future__ import annotations

import importlib.util

import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    from tests.teacher_server import CHAT_TEMPLATE
    from tracekd_ops.train.models import build_tiny_model, train_tokenizer
    from tracekd_ops.train.settings import TinyModelConfig

    path = tmp_path_factory.mktemp("cuda") / "base"
    tokenizer = train_tokenizer(["Facts: [1] Mary went to the office. Question: Where is Mary? <answer>office</answer>"] * 8, 300)
    tokenizer.chat_template = CHAT_TEMPLATE
    shape = TinyModelConfig(hidden_size=256, num_layers=2, num_heads=4, intermediate_size=512)
    build_tiny_model(tokenizer, shape, seed=0).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


@pytest.mark.parametrize("mode", ["full", "lora", "qlora"])
def test_each_mode_trains_in_bf16_on_the_gpu(tmp_path, base, mode):
    if mode == "qlora" and importlib.util.find_spec("bitsandbytes") is None:
        pytest.skip("QLoRA needs bitsandbytes")
    from tracekd_ops.train.settings import TrainingConfig
    from tracekd_ops.train.trainer import train_student

    prompts = [f"Facts:\n[1] Mary went to the room {i}.\nQuestion: Where is Mary?\n" for i in range(32)]
    completions = [f"<answer>room {i}</answer>" for i in range(32)]
    config = TrainingConfig(base_model=base, mode=mode, max_steps=4, batch_size=8, learning_rate=1e-3, log_every=1)
    result = train_student(prompts, completions, tmp_path / mode, config, log=lambda _: None)
    assert result.steps == 4 and result.mode == mode and result.final_loss is not None
