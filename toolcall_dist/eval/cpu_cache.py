"""The key/value cache of a batch, prefilled the way a CPU is fastest, for ``eval.generate`` to decode from.

On a CPU a left-padded batch prefills slower than its prompts one by one, a tiny model's operators are too small to
split across cores, and the batch's prompts mostly open with the same tokens (the family's system preamble). So the
prompts are prefilled outside the batch, in right-padded pairs run side by side, after their shared opening is
prefilled once, with the last layer making only its keys and values (nothing reads its output), and their states are
left-padded into a static cache (docs/performance.md has the measurements).
"""

from __future__ import annotations

STATIC_CACHE = True  # False keeps the dynamic cache (benchmarks/eval_generate.py measures both)


def cpu_cache(model, enc, max_new_tokens: int):
    """The batch's key/value cache, prefilled the way a CPU is fastest (``None`` where it does not apply).

    ``generate`` then starts the batch at its last prompt column and decodes it together. The prompts (but their
    last tokens) are prefilled by ``prefill_each``, and their states written straight into a ``StaticCache`` sized for
    prompt plus reply: transformers' dynamic cache grows by concatenation, copying itself at every decoding step.
    Left padding sits in the cache as zeros that the attention mask hides; the positions ``generate`` derives from the
    mask are those each prompt had alone. Models with sliding-window or other special cache layers are left to
    ``generate``.
    """
    from transformers import DynamicCache, StaticCache
    from transformers.cache_utils import DynamicLayer, StaticLayer

    ids, mask = enc["input_ids"], enc["attention_mask"]
    lengths = mask.sum(dim=1).tolist()
    if len(lengths) < 2 or min(lengths) < 2:
        return None  # a prompt alone needs no padding and gains nothing from a static cache
    if any(type(layer) is not DynamicLayer for layer in DynamicCache(config=model.config).layers):
        return None  # sliding-window or other special layers: leave the cache to generate
    width = ids.shape[1] - 1
    states = prefill_each(model, [row[-n:-1] for row, n in zip(ids, lengths, strict=True)])
    first = states[0]  # [(keys, values) per layer] of one row, [heads, length, dim] each
    static = StaticCache(config=model.config, max_cache_len=width + 1 + max_new_tokens)
    use_static = STATIC_CACHE and all(type(layer) is StaticLayer for layer in static.layers)
    direct = use_static and all(k.shape[0] == v.shape[0] and k.shape[2] == v.shape[2] for k, v in first)
    if direct:  # the rows go straight into the static cache's own tensors
        static.early_initialization(len(states), [k.shape[0] for k, _ in first], [k.shape[2] for k, _ in first],
                                    first[0][0].dtype, first[0][0].device)
        buffers = [(layer.keys, layer.values) for layer in static.layers]
    else:
        buffers = [(k.new_zeros(len(states), k.shape[0], width, k.shape[2]),
                    v.new_zeros(len(states), v.shape[0], width, v.shape[2])) for k, v in first]
    for r, (row_states, n) in enumerate(zip(states, lengths, strict=True)):  # left-padded with zeros to the width
        for (k, v), (row_k, row_v) in zip(buffers, row_states, strict=True):
            k[r, :, width - (n - 1): width], v[r, :, width - (n - 1): width] = row_k, row_v
    if direct:
        for layer in static.layers:
            layer.cumulative_length.fill_(width)
        return static
    if not use_static:
        return DynamicCache(ddp_cache_data=buffers)
    for i, (k, v) in enumerate(buffers):
        static.update(k, v, i)
    return static


GROUP = 2  # rows prefilled together: pairs of neighbours (similar lengths, as the plan sorts them) beat rows alone


def prefill_each(model, rows: list, group: int = GROUP, side_by_side: bool = True, share_prefix: bool = True,
                 last_keys_only: bool = True) -> list:
    """Each token row's key/value states as ``[(keys, values) per layer]``, ``[heads, len(row), dim]`` each, equal to
    the row's states computed alone.

    * Rows go through the model ``group`` at a time, right-padded and without a mask: causal attention keeps a row's
      real tokens from seeing the padding after them, so attention stays on its causal fast path, and the padding's
      states are cut off. (A left-padded batch needs a mask and no longer fits in the caches: slower than its
      prompts one by one.)
    * Groups run side by side on ``torch.get_num_threads()`` threads of one core each: a tiny model's operators on
      one prompt are too small to split well across cores, each being forked and joined. ``inference_mode`` is per
      thread, hence set inside each task.
    * The tokens every row opens with (the family's system preamble; ``shared_prefix_length``) are prefilled once, and
      each group continues from their states with ``_after_prefix_attention``. Only for ``PREFIX_FAMILIES`` on
      SDPA, whose attention is plain causal attention.
    * ``last_keys_only``: the last layer computes only its keys and values (``_last_layer_keys_only``). Its
      attention output and MLP feed nothing but the logits, and no prefill logits are read: each prompt's last token
      is left to ``generate``. Same families as above.
    * A model whose rotary embedding picks its frequencies by each forward's length (dynamic and long RoPE) runs
      each row alone, one at a time: padding could move a row across the switch, and two forwards at once would
      race on the frequencies.

    ``group=1, side_by_side=False, share_prefix=False, last_keys_only=False`` is the plain way, each row alone on
    all of torch's threads (``benchmarks/eval_generate.py --prefill-ways`` compares the ways)."""
    import torch
    from transformers import DynamicCache

    rows = [row.to(model.device) for row in rows]  # token rows built on the CPU, for a model anywhere
    if rope_rewrites_itself(model):
        group, side_by_side = 1, False
    last_only = {"logits_to_keep": 1} if model._supports_logits_to_keep() else {}  # the logits are not used
    fits = _prefix_attention_fits(model)
    shared = shared_prefix_length(rows) if share_prefix and fits else 0
    last_keys_only = last_keys_only and fits
    if shared:
        with torch.inference_mode():
            prefix = model(input_ids=rows[0][None, :shared], use_cache=True, **last_only).past_key_values.layers

    def prefill(part):
        width = max(len(row) for row in part) - shared
        ids = part[0].new_zeros(len(part), width)  # any padding id: no real token attends to it
        for r, row in enumerate(part):
            ids[r, : len(row) - shared] = row[shared:]
        past = DynamicCache(ddp_cache_data=[(layer.keys.expand(len(part), -1, -1, -1),
                                             layer.values.expand(len(part), -1, -1, -1)) for layer in prefix]
                            ) if shared else None
        with torch.inference_mode():
            cache = model(input_ids=ids, past_key_values=past, use_cache=True, **last_only).past_key_values
        return [[(layer.keys[r, :, : len(row)], layer.values[r, :, : len(row)]) for layer in cache.layers]
                for r, row in enumerate(part)]

    parts = [rows[g: g + group] for g in range(0, len(rows), group)]
    threads = torch.get_num_threads()
    before = model.config._attn_implementation
    own = shared or last_keys_only
    if own:  # the model's own attention and MLP are set back below, whatever happens
        last = model.get_decoder().layers[-1]
        mlp = last.mlp
        _register_prefix_attention()
        model.set_attn_implementation(LAST_KEYS_ONLY if last_keys_only else PREFIX_ATTENTION)
        if last_keys_only:
            last.mlp = _unread_mlp()
    try:
        if not side_by_side or threads < 2 or len(parts) < 2:
            return [row for part in parts for row in prefill(part)]
        from concurrent.futures import ThreadPoolExecutor

        torch.set_num_threads(1)
        try:
            with ThreadPoolExecutor(threads) as pool:
                return [row for done in pool.map(prefill, parts) for row in done]
        finally:
            torch.set_num_threads(threads)
    finally:
        if own:
            model.set_attn_implementation(before)
            last.mlp = mlp


MIN_SHARED = 16  # shorter shared prefixes are prefilled with each row
PREFIX_FAMILIES = ("qwen2", "llama", "mistral", "phi3")  # plain causal RoPE attention, no sinks, soft caps or biases
PREFIX_ATTENTION = "toolcall_dist_after_prefix"
LAST_KEYS_ONLY = "toolcall_dist_after_prefix_last_keys_only"


def shared_prefix_length(rows: list) -> int:
    """Tokens every row starts with, leaving each row at least one of its own (0 when fewer than ``MIN_SHARED``)."""
    if len(rows) < 2:
        return 0
    n = min(len(row) for row in rows) - 1
    first = rows[0][:n]
    for row in rows[1:]:
        same = (row[:n] == first).int()
        n = int(same.cumprod(0).sum())
        first = first[:n]
    return n if n >= MIN_SHARED else 0


def _prefix_attention_fits(model) -> bool:
    import torch

    return (model.config.model_type in PREFIX_FAMILIES and model.config._attn_implementation == "sdpa"
            and model.device.type == "cpu" and not rope_rewrites_itself(model)
            and getattr(model.config, "sliding_window", None) is None and hasattr(model.get_decoder(), "layers")
            and hasattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu"))


def _after_prefix_attention(module, query, key, value, attention_mask, dropout=0.0, scaling=None, **kwargs):
    """Attention for tokens that continue a prefix held in the cache, without a mask: each token sees the whole
    prefix and the tokens before it (causal, aligned at the bottom right). SDPA's causal flag aligns at the top left,
    so it would need a mask, and a mask makes the CPU kernel compute every block. Here the kernel runs twice without
    one: the tokens against the prefix (all of it), and against themselves (causal), and the two results are
    merged by their log-sum-exp, as flash attention merges its blocks."""
    import torch
    from transformers.integrations.sdpa_attention import repeat_kv

    if attention_mask is not None or dropout:
        raise ValueError(f"{PREFIX_ATTENTION} is causal attention for inference: no mask, no dropout")
    new = query.shape[2]
    shared = key.shape[2] - new
    key, value = repeat_kv(key, query.shape[1] // key.shape[1]), repeat_kv(value, query.shape[1] // value.shape[1])
    flash = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
    out, lse = flash(query, key[:, :, shared:], value[:, :, shared:], is_causal=True, scale=scaling)
    if shared:
        out_p, lse_p = flash(query, key[:, :, :shared], value[:, :, :shared], scale=scaling)
        top = torch.maximum(lse, lse_p)
        w, w_p = (lse - top).exp_().unsqueeze(-1), (lse_p - top).exp_().unsqueeze(-1)
        # the log-sum-exps are float32: the merge is too, and goes back to the model's dtype (bf16 in, bf16 out)
        out = ((out * w + out_p * w_p) / (w + w_p)).to(query.dtype)
    return out.transpose(1, 2).contiguous(), None


def _last_layer_keys_only(module, query, key, value, attention_mask, **kwargs):
    """``_after_prefix_attention``, but zeros for the last layer: its keys and values are in the cache by now (the
    attention module stores them before it calls this), and its output would feed only the logits, which a prefill
    does not read. With its MLP set to ``_unread_mlp``, the last layer costs its input projections (queries, keys,
    values) and an output projection of zeros; its attention and MLP are not computed."""
    if module.layer_idx == module.config.num_hidden_layers - 1:
        return query.new_zeros(query.shape[0], query.shape[2], query.shape[1], query.shape[3]), None
    return _after_prefix_attention(module, query, key, value, attention_mask, **kwargs)


def _register_prefix_attention() -> None:
    from transformers import AttentionInterface

    AttentionInterface.register(PREFIX_ATTENTION, _after_prefix_attention)
    AttentionInterface.register(LAST_KEYS_ONLY, _last_layer_keys_only)


def _unread_mlp():
    """Stands in for the last layer's MLP during a prefill, whose output is never read: zeros."""
    import torch

    class Unread(torch.nn.Module):
        def forward(self, hidden_states):
            return torch.zeros_like(hidden_states)

    return Unread()


def rope_rewrites_itself(model) -> bool:
    """Whether a forward of ``model`` rewrites its rotary frequencies for the sequence length it sees (transformers'
    dynamic RoPE types and long RoPE, e.g. Phi-4-mini's): then padding changes a row's frequencies, and two forwards
    must not run at the same time."""
    for module in model.modules():
        kind = getattr(module, "rope_type", None)
        for k in (kind.values() if isinstance(kind, dict) else [kind]):
            if isinstance(k, str) and ("dynamic" in k or k == "longrope"):
                return True
    return False
