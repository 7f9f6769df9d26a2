"""Batching and the machine: every configuration the code can choose is built as a trainer (GPU
ones with the machine's decisions injected, since this CPU cannot construct bf16 settings), the
padding-free-without-packing crash cannot be chosen, packed rows keep their examples apart (in the
Canon layers too) and give the same loss as padded batches, and QLoRA trains real 4-bit weights
on the CPU."""

from __future__ import annotations

import itertools

import pytest
import torch

from tracekd_ops.datasets.synthetic import TASKS, SyntheticConfig, generate
from tracekd_ops.traces.conditions import CORRECT, build_trace, condition
from tracekd_ops.train import hf
from tracekd_ops.train.canon import CanonLlamaConfig, CanonLlamaForCausalLM
from tracekd_ops.train.settings import FULL, LORA, PACKED, PADDED, QLORA, LoraSettings, TinyModelConfig, TrainingConfig
from tracekd_ops.train.trainer import build_trainer, packed_dataset, train_student

RECORDS = generate(SyntheticConfig(train_per_task=6, test_per_task=1))
ROWS = [build_trace(condition(CORRECT), r, list(TASKS)) for r in RECORDS if r.split == "train"]
PROMPTS, COMPLETIONS = [r.prompt for r in ROWS], [r.completion for r in ROWS]
SMOLLM2 = "smollm2-135m-instruct"

PLATFORMS = {
    "cpu": hf.Platform(cuda=False, flash_attn=False, bitsandbytes=True),
    "cpu x2": hf.Platform(cuda=False, flash_attn=False, bitsandbytes=True, world_size=2),
    "cuda": hf.Platform(cuda=True, flash_attn=False, bitsandbytes=True),
    "cuda + flash-attn": hf.Platform(cuda=True, flash_attn=True, bitsandbytes=True),
    "cuda + flash-attn x8": hf.Platform(cuda=True, flash_attn=True, bitsandbytes=True, world_size=8),
}
CPU_DEVICE = {"use_cpu": True, "bf16": False, "ddp_backend": None}


def tiny_canon(seed: int = 0) -> CanonLlamaForCausalLM:
    torch.manual_seed(seed)
    config = CanonLlamaConfig(canon_kernel=4, vocab_size=50, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=64, pad_token_id=0)  # fmt: skip
    return CanonLlamaForCausalLM(config).eval()


@pytest.fixture(scope="module")
def small_base(tmp_path_factory):
    """A small pretrained-shaped chat model on disk (a plain Llama), quick to load for each case."""
    from tests.teacher_server import CHAT_TEMPLATE
    from tracekd_ops.train.models import build_tiny_model, train_tokenizer

    path = tmp_path_factory.mktemp("base") / "small-chat"
    tokenizer = train_tokenizer(PROMPTS + COMPLETIONS, 300)
    tokenizer.chat_template = CHAT_TEMPLATE
    build_tiny_model(tokenizer, TinyModelConfig(hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, canon_kernel=0), 0).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


@pytest.mark.parametrize("platform, mode, batching", list(itertools.product(PLATFORMS, (FULL, LORA, QLORA), ("auto", PADDED, PACKED))))
def test_every_configuration_builds_a_trainer(tmp_path, small_base, platform, mode, batching):
    """The settings each machine leads to are built into a real `SFTTrainer` (only the device fields
    are set for this CPU): TRL refuses padding-free without packing, so that combination must not
    be choosable anywhere."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    machine = PLATFORMS[platform]
    config = TrainingConfig(base_model=small_base, mode=mode, batching=batching, max_steps=2, batch_size=4)
    chosen = hf.effective_mode(config, machine, lambda _: None)
    batched = hf.batching(config, machine)
    settings = hf.sft_settings(config, tmp_path, chosen, machine, batched)
    assert settings["padding_free"] == settings["packing"] == batched.packed
    assert batched.packed == (batching == PACKED or (batching == "auto" and machine.cuda and machine.flash_attn))
    assert settings["bf16"] == machine.cuda and settings["activation_checkpointing"] == (chosen != FULL and machine.cuda)
    assert settings["ddp_backend"] == ("gloo" if not machine.cuda and machine.world_size > 1 else None)
    tokenizer = AutoTokenizer.from_pretrained(small_base)
    model = AutoModelForCausalLM.from_pretrained(small_base, dtype=torch.float32)
    ids = tokenizer(PROMPTS[:8])["input_ids"]
    dataset = Dataset.from_dict({"input_ids": ids, "labels": ids})
    if batched.packed:
        dataset, _ = packed_dataset(dataset, settings["max_length"], 4)
    trainer = SFTTrainer(model=model, args=SFTConfig(**{**settings, **CPU_DEVICE}), train_dataset=dataset,
                         processing_class=tokenizer, peft_config=hf.peft_config(config, chosen))  # fmt: skip
    assert trainer.padding_free == batched.packed


def test_padding_free_without_packing_is_what_trl_refuses(tmp_path):
    """The crash the tuned GPU setup had (padding_free on CUDA + flash-attn, packing never on):
    TRL raises at construction. `batching` never asks for it."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from tracekd_ops.train.models import train_tokenizer

    settings = SFTConfig(output_dir=str(tmp_path), padding_free=True, max_length=32, use_cpu=True, report_to=[],
                         dataset_kwargs={"skip_prepare_dataset": True})  # fmt: skip
    with pytest.raises(ValueError, match="When `padding_free=True` without packing, `max_length` is not enforced"):
        SFTTrainer(model=tiny_canon(), args=settings, processing_class=train_tokenizer(PROMPTS, 60),
                   train_dataset=Dataset.from_dict({"input_ids": [[1, 2]], "labels": [[1, 2]]}))  # fmt: skip


def test_a_packed_row_gives_each_example_what_it_gets_alone():
    """Two examples in one padding-free row (positions restarting at the second): each gets the
    logits it gets alone, Canon layers included; without the positions the second one's first
    tokens would mix in the end of the first."""
    model = tiny_canon()
    first, second = torch.tensor([[5, 6, 7, 8, 9]]), torch.tensor([[11, 12, 13, 14, 15, 16, 17]])
    with torch.no_grad():
        alone = [model(input_ids=x, use_cache=False).logits for x in (first, second)]
        row = torch.cat([first, second], dim=1)
        positions = torch.tensor([[0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 5, 6]])
        packed = model(input_ids=row, position_ids=positions, use_cache=False).logits
        unaware = model(input_ids=row, use_cache=False).logits  # as one long example: the second reaches into the first
        cached = model(input_ids=row, position_ids=positions).logits  # with a cache transformers does not look for packing
    assert torch.allclose(packed[:, :5], alone[0], atol=1e-5) and torch.allclose(packed[:, 5:], alone[1], atol=1e-5)
    assert not torch.allclose(unaware[:, 5:], alone[1], atol=1e-3)
    assert not torch.allclose(cached[:, 5:], alone[1], atol=1e-3)  # why build_trainer turns the cache off


def test_the_loss_is_the_same_packed_and_padded():
    """The same examples as a padded batch and as one packed row: the same mean loss over the
    labelled tokens (fp32 noise)."""
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    model = tiny_canon(seed=1)
    examples = [{"input_ids": ids, "labels": [-100] * 2 + ids[2:]} for ids in ([3, 4, 5, 6, 7], [8, 9, 10], [11, 12, 13, 14, 15, 16, 17])]
    padded = DataCollatorForLanguageModeling(pad_token_id=0)(examples)
    packed_rows = [{"input_ids": sum((e["input_ids"] for e in examples), []), "labels": sum((e["labels"] for e in examples), []),
                    "seq_lengths": [len(e["input_ids"]) for e in examples]}]  # fmt: skip
    packed = DataCollatorForLanguageModeling(pad_token_id=0, padding_free=True)(packed_rows)
    assert "attention_mask" not in packed and packed["position_ids"].tolist() == [[0, 1, 2, 3, 4, 0, 1, 2, 0, 1, 2, 3, 4, 5, 6]]
    with torch.no_grad():
        loss_padded = model(input_ids=padded["input_ids"], attention_mask=padded["attention_mask"], labels=padded["labels"], use_cache=False).loss
        loss_packed = model(input_ids=packed["input_ids"], position_ids=packed["position_ids"], labels=packed["labels"], use_cache=False).loss
    assert torch.allclose(loss_padded, loss_packed, atol=1e-5)


@pytest.mark.parametrize("batching", [PADDED, PACKED])
def test_the_tiny_student_trains_padded_and_packed_here(tmp_path, batching):
    config = TrainingConfig(max_steps=3, batch_size=8, log_every=1, batching=batching, model=TinyModelConfig(hidden_size=32, num_heads=2))
    logged: list[str] = []
    trainer = build_trainer(PROMPTS, COMPLETIONS, tmp_path / "built", config, log=logged.append)
    assert trainer.model.config.use_cache is False  # a cache in a training forward would hide a packed row's boundaries
    result = train_student(PROMPTS, COMPLETIONS, tmp_path / "trained", config, log=logged.append)
    assert result.steps == 3 and result.final_loss is not None
    assert any(line.startswith(f"batches {batching}") for line in logged)


@pytest.mark.parametrize("mode", [LORA, QLORA])
def test_lora_and_qlora_train_on_the_real_base_here(tmp_path, mode):
    """QLoRA for real on the CPU: SmolLM2-135M-Instruct loaded in 4-bit NF4 (bitsandbytes), LoRA
    adapters trained two steps; no fallback."""
    from bitsandbytes.nn import Linear4bit

    config = TrainingConfig(base_model=SMOLLM2, mode=mode, max_steps=2, batch_size=4, learning_rate=5e-4, log_every=1,
                            lora=LoraSettings(r=4, alpha=8, dropout=0.0))  # fmt: skip
    trainer = build_trainer(PROMPTS[:8], COMPLETIONS[:8], tmp_path, config, log=lambda _: None)
    quantized = [m for m in trainer.model.modules() if isinstance(m, Linear4bit)]
    assert trainer.effective_mode == mode and (len(quantized) > 0) == (mode == QLORA)
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert len(losses) == 2 and all(loss == loss for loss in losses)
