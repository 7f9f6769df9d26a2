"""The tiny student's Canon layers: causal, blind to padding, saved and loaded like any model, and
generating with a cache exactly what they generate without one."""

import torch

from tracekd_ops.train.canon import CanonLlamaConfig, CanonLlamaForCausalLM, causal_mix
from tracekd_ops.train.models import load_student

VOCAB = 50


def tiny(kernel: int = 4) -> CanonLlamaForCausalLM:
    torch.manual_seed(0)
    config = CanonLlamaConfig(
        canon_kernel=kernel, vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=64, pad_token_id=0, eos_token_id=1,
        bos_token_id=None, initializer_range=0.08,
    )  # fmt: skip
    return CanonLlamaForCausalLM(config).eval()


def test_the_mix_is_the_causal_depthwise_convolution_values_and_gradients():
    torch.manual_seed(1)
    conv = torch.nn.Conv1d(16, 16, 6, groups=16, padding=5, bias=False)
    states = torch.randn(3, 9, 16, requires_grad=True)
    by_conv = conv(states.transpose(1, 2))[..., :9].transpose(1, 2)
    by_mix = causal_mix(states, conv.weight)
    assert torch.allclose(by_conv, by_mix, atol=1e-6)
    grads = [torch.autograd.grad(out.square().sum(), (states, conv.weight)) for out in (by_conv, by_mix)]
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(*grads))


def test_a_token_sees_only_the_tokens_before_it():
    model = tiny()
    ids = torch.randint(2, VOCAB, (1, 12))
    changed = ids.clone()
    changed[0, 8] = (ids[0, 8] + 1 - 2) % (VOCAB - 2) + 2
    with torch.no_grad():
        a, b = model(input_ids=ids).logits, model(input_ids=changed).logits
    assert torch.allclose(a[0, :8], b[0, :8], atol=1e-6)
    assert not torch.allclose(a[0, 8:], b[0, 8:], atol=1e-4)


def test_left_padding_changes_nothing_a_real_token_computes():
    model = tiny()
    short = torch.randint(2, VOCAB, (1, 6))
    padded = torch.cat([torch.zeros(1, 5, dtype=torch.long), short], dim=1)
    mask = torch.cat([torch.zeros(1, 5, dtype=torch.long), torch.ones(1, 6, dtype=torch.long)], dim=1)
    with torch.no_grad():
        alone = model(input_ids=short).logits[0]
        in_batch = model(input_ids=padded, attention_mask=mask).logits[0, 5:]
    assert torch.allclose(alone, in_batch, atol=1e-5)
    greedy_alone = model.generate(short, max_new_tokens=5, do_sample=False, pad_token_id=0)[0, 6:]
    greedy_padded = model.generate(padded, attention_mask=mask, max_new_tokens=5, do_sample=False, pad_token_id=0)[0, 11:]
    assert greedy_alone.tolist() == greedy_padded.tolist()


def test_the_convolution_is_part_of_the_model_and_survives_saving(tmp_path):
    from transformers import PreTrainedTokenizerFast
    from tokenizers import Tokenizer, models

    model = tiny(kernel=6)
    with torch.no_grad():
        for layer in model.model.layers:
            layer.input_layernorm.conv.weight.normal_()  # weights no fresh model would have
    ids = torch.randint(2, VOCAB, (2, 10))
    model.save_pretrained(tmp_path)
    vocab = {str(i): i for i in range(VOCAB)}
    PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel(vocab, unk_token="2")), pad_token="0").save_pretrained(tmp_path)
    loaded, _ = load_student(tmp_path)
    assert isinstance(loaded, CanonLlamaForCausalLM) and loaded.config.canon_kernel == 6
    with torch.no_grad():
        assert torch.allclose(model(input_ids=ids).logits, loaded.eval()(input_ids=ids).logits, atol=1e-6)
    plain = tiny(kernel=0)
    assert not any("conv" in name for name, _ in plain.named_parameters())


def test_generation_with_the_cache_gives_exactly_the_tokens_without_it():
    """The Canon layers keep their last states beside the KV cache: greedy decoding of a left-padded
    batch gives the same tokens, and the same scores at every step, as recomputing the whole
    sequence for each new token."""
    model = tiny(kernel=6)
    with torch.no_grad():
        for layer in model.model.layers:
            layer.input_layernorm.conv.weight.normal_()
    ids = torch.tensor([[0, 0, 0, 5, 6, 7, 8, 9], [11, 12, 13, 14, 15, 16, 17, 18], [0, 0, 0, 0, 0, 0, 3, 4]])
    mask = (ids != 0).long()
    settings = {"dynamic": {"use_cache": True}, "static": {"use_cache": True, "cache_implementation": "static"}, "none": {"use_cache": False}}
    runs = {
        name: model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=25, do_sample=False, pad_token_id=0, eos_token_id=None,
                             output_scores=True, return_dict_in_generate=True, **kwargs)
        for name, kwargs in settings.items()
    }  # fmt: skip
    for cached in ("dynamic", "static"):
        assert runs[cached].sequences.tolist() == runs["none"].sequences.tolist()
        assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(runs[cached].scores, runs["none"].scores))


def test_a_saved_student_generates_with_the_cache(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from tracekd_ops.evaluate.generate import generate_with, load_for_generation

    model = tiny(kernel=6)
    model.generation_config.use_cache = False  # as students were saved before their layers kept a cache
    model.save_pretrained(tmp_path)
    vocab = {str(i): i for i in range(VOCAB)}
    words = Tokenizer(models.WordLevel(vocab, unk_token="2"))
    words.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=words, pad_token="0", eos_token="1")
    tokenizer.save_pretrained(tmp_path)
    loaded, loaded_tokenizer = load_for_generation(tmp_path)
    assert loaded.generation_config.use_cache is True
    prompts = ["5 6 7", "9 8 7 6 5 4 3"]
    assert loaded_tokenizer(prompts[0])["input_ids"] == [5, 6, 7]
    cached = generate_with(loaded, loaded_tokenizer, prompts, batch_size=2, max_new_tokens=12)
    loaded.generation_config.use_cache = False
    assert generate_with(loaded, loaded_tokenizer, prompts, batch_size=2, max_new_tokens=12) == cached
