"""The tiny student's architecture: a Llama with Canon layers.

A Canon layer (Allen-Zhu, "Physics of Language Models, Part 4.1", 2025) adds to a hidden state a
learned, per-channel causal mix of the states of the few tokens before it (a depthwise causal
convolution). In a 2-layer model that is what makes the stories learnable fast: the token of a
place can carry the person a few tokens earlier from the first step of training, so the second
layer's attention can look up "where did Mary go last" at once, instead of a first-layer head
having to learn to fetch the person first (measured: docs/results.md).

Here the convolution is added to the output of each decoder layer's input norm (the attention's
input): `y + conv(y)`. It is saved and loaded like any transformers model (its own `model_type`,
registered with the Auto classes when this module is imported; `models.py` imports it).

Three consequences, all handled here:
- padding: positions the attention mask hides are zeroed before the convolution, so left padding
  at generation never leaks into real tokens (right padding cannot: the mix is causal);
- packing: in a padding-free row of several examples (`position_ids` restarting at 0 for each,
  no attention mask) a token mixes only the states of its own example: the state `lag` tokens back
  counts only where the token's position is at least `lag`;
- generation with the KV cache: the cache keeps keys and values, not the normed states the
  convolution needs, so each Canon layer keeps its own: the last `kernel - 1` states of every row,
  set by the prompt's forward and rolled on by each new token (`_PaddingMask.states`). A new
  token then costs one position, not the whole sequence again. Greedy and sampled decoding only:
  beam search reorders the KV cache's rows, which these states do not follow (refused).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from transformers import AutoConfig, AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

MODEL_TYPE = "tracekd_canon_llama"


class CanonLlamaConfig(LlamaConfig):
    """A Llama config with `canon_kernel`: how many tokens (itself included) each Canon layer
    mixes; 0 builds a plain Llama."""

    model_type = MODEL_TYPE

    def __init__(self, canon_kernel: int = 4, **kwargs: Any) -> None:
        self.canon_kernel = canon_kernel
        super().__init__(**kwargs)


class _PaddingMask:
    """The attention mask of the current forward pass (or, for a packed row, the position of each
    token in its own example), shared by the model's Canon layers; while generating with a cache,
    each layer's last `kernel - 1` states (`states`, by layer) and whether this pass continues them."""

    mask: torch.Tensor | None = None
    positions: torch.Tensor | None = None
    states: dict[int, torch.Tensor] | None = None
    continuing: bool = False


class CanonNorm(nn.Module):
    """A norm followed by a causal depthwise convolution of its output, added back (the
    `Conv1d` holds the weight; `causal_mix` applies it)."""

    def __init__(self, norm: nn.Module, width: int, kernel: int, padding: _PaddingMask, layer: int = 0) -> None:
        super().__init__()
        self.norm = norm
        self.conv = nn.Conv1d(width, width, kernel, groups=width, padding=kernel - 1, bias=False)
        self._padding = padding
        self._layer = layer

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        normed = self.norm(hidden)
        shared = self._padding
        mask = shared.mask
        if mask is not None and mask.shape[1] == normed.shape[1]:
            normed_seen = normed * mask[..., None].to(normed.dtype)
        else:  # a continuing pass's mask also covers the cached positions: its own tokens are real
            normed_seen = normed
        positions = shared.positions
        if positions is not None and positions.shape[-1] != normed.shape[1]:
            positions = None
        if shared.states is None:
            return normed + causal_mix(normed_seen, self.conv.weight, positions)
        history = shared.states.get(self._layer) if shared.continuing else None
        if history is None:  # a prompt: nothing before it
            history = normed_seen.new_zeros(normed_seen.shape[0], self.conv.weight.shape[-1] - 1, normed_seen.shape[2])
        window = torch.cat([history, normed_seen], dim=1)
        shared.states[self._layer] = window[:, window.shape[1] - history.shape[1] :]
        return normed + causal_mix(window, self.conv.weight)[:, history.shape[1] :]


def causal_mix(states: torch.Tensor, weight: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
    """What the causal depthwise `Conv1d` computes (`out[t] = sum_j weight[:, 0, j] * states[t - K + 1 + j]`),
    as K shifted multiply-adds over (batch, time, channel) states. Why not the convolution itself:
    on CPU, oneDNN's depthwise convolution and its backward took 10.4 ms per layer and step of the
    demo's student against 5.9 ms for this (one thread, [32, 51, 128] states, kernel 6), with no
    transposes. The weight stays the `Conv1d`'s, so saved students load unchanged.

    `positions` ([batch, time], each token's position in its own example): in a packed row, the
    state `lag` tokens back is mixed in only where `positions >= lag`, so no example reaches into
    the one before it."""
    kernel, length = weight.shape[-1], states.shape[1]
    padded = nn.functional.pad(states, (0, 0, kernel - 1, 0))
    taps = weight[:, 0, :]
    mixed = padded[:, kernel - 1 :] * taps[:, kernel - 1]
    for j in range(kernel - 1):
        shifted = padded[:, j : j + length]
        if positions is not None:
            shifted = shifted * (positions >= kernel - 1 - j)[..., None].to(shifted.dtype)
        mixed = torch.addcmul(mixed, shifted, taps[:, j])
    return mixed


class CanonLlamaForCausalLM(LlamaForCausalLM):
    """`LlamaForCausalLM` whose decoder layers' attention input goes through a Canon layer."""

    config_class = CanonLlamaConfig

    def __init__(self, config: CanonLlamaConfig) -> None:
        super().__init__(config)
        self._padding = _PaddingMask()
        if config.canon_kernel:
            for index, layer in enumerate(self.model.layers):
                layer.input_layernorm = CanonNorm(layer.input_layernorm, config.hidden_size, config.canon_kernel, self._padding, index)

    def forward(self, input_ids: Any = None, attention_mask: Any = None, **kwargs: Any) -> Any:
        shared = self._padding
        shared.mask = attention_mask if attention_mask is not None and attention_mask.dim() == 2 else None
        positions = kwargs.get("position_ids")
        # a padding-free (packed) row: no attention mask, positions restarting at each example
        shared.positions = positions if attention_mask is None and positions is not None and positions.dim() == 2 else None
        cache = kwargs.get("past_key_values")
        if cache is not None and hasattr(cache, "get_seq_length"):  # generating with a KV cache: keep the Canon states too
            shared.continuing = cache.get_seq_length() > 0
            if not shared.continuing or shared.states is None:
                shared.states = {}
        else:
            shared.states, shared.continuing = None, False
        try:
            return super().forward(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        finally:
            shared.mask = shared.positions = None

    def _reorder_cache(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("beam search reorders the KV cache, which the Canon layers' states do not follow: decode greedily")


AutoConfig.register(MODEL_TYPE, CanonLlamaConfig, exist_ok=True)
AutoModelForCausalLM.register(CanonLlamaConfig, CanonLlamaForCausalLM, exist_ok=True)
