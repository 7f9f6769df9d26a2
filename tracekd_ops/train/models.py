"""The student models themselves: the from-config tiny Llama with its corpus-trained tokenizer,
pretrained bases by Hub id or local path, saved students (full weights or LoRA adapters), and how a
prompt is presented to each (its chat template, when it has one). Training and generation both
load and format through here, so they cannot disagree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from tracekd_ops.train.bases import resolve_base_model
from tracekd_ops.train.settings import TinyModelConfig
from tracekd_ops.core.markup import MARKUP_TOKENS

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

PAD, EOS = "<pad>", "<eos>"


PIECES = r", | ?\p{L}+(?:-\p{L}+)*|\p{N}+| ?[^\s\p{L}\p{N}]+\n?|\s+"
"""How text is cut before BPE: a word with its leading space (hyphenated words whole), a bare
number (so fact id 3 is one token in `[3] Mary ...` and in `facts: [2, 3]`), a list separator, a
run of punctuation with one trailing newline, a run of whitespace."""


def _pre_tokenizer(phrases: Sequence[str]) -> Any:
    import re

    from tokenizers import Regex, pre_tokenizers

    pattern = PIECES
    if phrases:  # longest first, so "Where is the" wins over "Where is"; whole words only
        alternatives = "|".join(re.escape(p) for p in sorted(set(phrases), key=len, reverse=True))
        pattern = f" ?(?:{alternatives})(?!\\p{{L}})|" + PIECES
    return pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(pattern), behavior="isolated"), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]
    )


def train_tokenizer(texts: Sequence[str], vocab_size: int, phrases: Sequence[str] = ()) -> "PreTrainedTokenizerFast":
    """Byte-level BPE trained on the corpus: exact decode (traces parse back), the trace markup
    tags as whole tokens so the student learns them as units, and each of `phrases` (the fixed
    wording of a generator's templates and of the trace sentences) kept as one piece, so BPE makes
    it one token: the words a lookup needs stand closer together (measured: docs/results.md)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = _pre_tokenizer(phrases)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, eos_token=EOS)
    fast.add_tokens(list(MARKUP_TOKENS))
    return fast


def build_tiny_model(tokenizer: "PreTrainedTokenizerFast", config: TinyModelConfig, seed: int) -> Any:
    """The from-config student: a Llama with Canon layers, or, with `canon_kernel` 0, a plain
    Llama (which any transformers install loads, e.g. `transformers serve`)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from tracekd_ops.train.canon import CanonLlamaConfig, CanonLlamaForCausalLM

    torch.manual_seed(seed)
    shape = dict(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        num_key_value_heads=config.num_heads,
        max_position_embeddings=config.max_positions,
        initializer_range=config.init_std,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
        tie_word_embeddings=True,
    )
    if config.canon_kernel:
        return CanonLlamaForCausalLM(CanonLlamaConfig(canon_kernel=config.canon_kernel, **shape))
    return LlamaForCausalLM(LlamaConfig(**shape))


def format_prompts(tokenizer: Any, prompts: Sequence[str]) -> list[str]:
    """The prompts as the model sees them: through its chat template when it has one (a
    pretrained chat model), as they are otherwise (the tiny student). Training and generation
    both call this, so they cannot disagree."""
    if not getattr(tokenizer, "chat_template", None):
        return list(prompts)
    return [
        tokenizer.apply_chat_template([{"role": "user", "content": p}], add_generation_prompt=True, tokenize=False)
        for p in prompts
    ]


def load_pretrained(base_model: str, quantization: Any | None = None) -> tuple[Any, Any]:
    """(model, tokenizer) of a pretrained base (a named base model, a Hub id or a path): bf16 on
    CUDA, fp32 on CPU; 4-bit when `quantization` says so. A tokenizer without a pad token pads
    with its EOS."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    location = resolve_base_model(base_model)
    kwargs: dict[str, Any] = {"dtype": torch.bfloat16 if torch.cuda.is_available() else torch.float32}
    if quantization is not None:
        kwargs["quantization_config"] = quantization
    tokenizer = AutoTokenizer.from_pretrained(location)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return AutoModelForCausalLM.from_pretrained(location, **kwargs), tokenizer


def load_student(model_dir: Path) -> tuple[Any, Any]:
    """(model, tokenizer) of a saved student: full weights, or LoRA adapters on their base."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    import tracekd_ops.train.canon  # noqa: F401  (registers the tiny student's model type with the Auto classes)

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    adapter = model_dir / "adapter_config.json"
    if adapter.exists():
        from peft import PeftModel

        base, _ = load_pretrained(json.loads(adapter.read_text())["base_model_name_or_path"])
        model = PeftModel.from_pretrained(base, str(model_dir))
    else:
        model = AutoModelForCausalLM.from_pretrained(str(model_dir))
    return model, tokenizer
