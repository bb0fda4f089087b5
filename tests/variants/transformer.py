"""Wrong and right implementations of the transformer exercises (see tests/test_variants.py)."""

from pathlib import Path

from grader.course.source import definition_source

_SOLUTION = (Path(__file__).resolve().parents[2] / "solutions" / "transformer.py").read_text()


def _reference_with(name: str, *edits: tuple) -> str:
    """The reference definition of ``name`` with some lines changed: edits are (old, new) pairs."""
    source = definition_source(_SOLUTION, name)
    for old, new in edits:
        old, new = old.rstrip("\n"), new.rstrip("\n")
        assert old in source, (name, old)
        source = source.replace(old, new)
    return source


_LN_FORWARD = """        centred = x - x.mean(dim=-1, keepdim=True)                               # (..., d_model)
        var = centred.square().mean(dim=-1, keepdim=True)                         # (..., 1), biased
        return torch.addcmul(self.bias, centred * torch.rsqrt(var + self.eps), self.weight)
"""
_ENC_POST = """            x = self.norm1(x + self.dropout1(self.self_attn(x, x, x, mask)))
            x = self.norm2(x + self.dropout2(self.ff(x)))
"""
_ENC_PRE = """            h = self.norm1(x)
            x = x + self.dropout1(self.self_attn(h, h, h, mask))
            x = x + self.dropout2(self.ff(self.norm2(x)))
"""
_DEC_POST = """            x = self.norm1(x + self.dropout1(self.self_attn(x, x, x, tgt_mask)))
            x = self.norm2(x + self.dropout2(self.cross_attn(x, memory, memory, memory_mask)))
            x = self.norm3(x + self.dropout3(self.ff(x)))
"""

WRONG = {
    "transformer.LayerNorm": {
        "unbiased_variance": _reference_with("LayerNorm", (_LN_FORWARD, """        mean = x.mean(dim=-1, keepdim=True)
        var = x.var(dim=-1, keepdim=True)
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias
""")),
        "eps_outside_the_root": _reference_with("LayerNorm", (_LN_FORWARD, """        mean = x.mean(dim=-1, keepdim=True)
        std = (x - mean).pow(2).mean(dim=-1, keepdim=True).sqrt()
        return (x - mean) / (std + self.eps) * self.weight + self.bias
""")),
        "no_eps": _reference_with("LayerNorm", (_LN_FORWARD, """        mean = x.mean(dim=-1, keepdim=True)
        var = (x - mean).pow(2).mean(dim=-1, keepdim=True)
        return (x - mean) / torch.sqrt(var) * self.weight + self.bias
""")),
        "eps_argument_ignored": _reference_with("LayerNorm", ("self.eps = eps", "self.eps = 1e-5")),
        "normalises_over_time_and_features": _reference_with("LayerNorm", (_LN_FORWARD, """        mean = x.mean(dim=(-2, -1), keepdim=True)
        var = (x - mean).pow(2).mean(dim=(-2, -1), keepdim=True)
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias
""")),
        "one_pass_variance": _reference_with("LayerNorm", (_LN_FORWARD, """        mean = x.mean(dim=-1, keepdim=True)
        var = (x * x).mean(dim=-1, keepdim=True) - mean * mean
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias
""")),
        "weight_and_bias_not_parameters": _reference_with("LayerNorm", (
            """        self.weight = nn.Parameter(torch.ones(d_model))
        self.bias = nn.Parameter(torch.zeros(d_model))""",
            """        self.register_buffer("weight", torch.ones(d_model))
        self.register_buffer("gamma_bias", torch.zeros(d_model))
        self.bias = self.gamma_bias""")),
        # float64 statistics for accuracy, but the result is never cast back to the caller's dtype
        "statistics_in_float64_returned_as_float64": _reference_with("LayerNorm", (_LN_FORWARD, """        x64 = x.double()
        centred = x64 - x64.mean(dim=-1, keepdim=True)
        var = centred.square().mean(dim=-1, keepdim=True)
        return centred * torch.rsqrt(var + self.eps) * self.weight + self.bias
""")),
        "statistics_detached": _reference_with("LayerNorm", (_LN_FORWARD, """        mean = x.mean(dim=-1, keepdim=True).detach()
        var = (x - mean).pow(2).mean(dim=-1, keepdim=True).detach()
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias
""")),
    },
    "transformer.FeedForward": {
        "gelu_ignored": _reference_with("FeedForward", (
            'self.activation = F.relu if activation == "relu" else F.gelu', "self.activation = F.relu")),
        "tanh_gelu": _reference_with("FeedForward", (
            'self.activation = F.relu if activation == "relu" else F.gelu',
            'self.activation = F.relu if activation == "relu" else (lambda h: F.gelu(h, approximate="tanh"))')),
        "dropout_after_linear2": _reference_with("FeedForward", (
            "return self.linear2(self.dropout(self.activation(self.linear1(x))))",
            "return self.dropout(self.linear2(self.activation(self.linear1(x))))")),
        "dropout_always_on": _reference_with("FeedForward", (
            "return self.linear2(self.dropout(self.activation(self.linear1(x))))",
            "return self.linear2(F.dropout(self.activation(self.linear1(x)), self.dropout.p))")),
        "no_dropout": _reference_with("FeedForward", (
            "return self.linear2(self.dropout(self.activation(self.linear1(x))))",
            "return self.linear2(self.activation(self.linear1(x)))")),
        "no_biases": _reference_with("FeedForward", (
            """        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)""",
            """        self.linear1 = nn.Linear(d_model, d_ff, bias=False)
        self.linear2 = nn.Linear(d_ff, d_model, bias=False)""")),
        "activation_after_linear2_too": _reference_with("FeedForward", (
            "return self.linear2(self.dropout(self.activation(self.linear1(x))))",
            "return self.activation(self.linear2(self.dropout(self.activation(self.linear1(x)))))")),
        "relu_through_data": _reference_with("FeedForward", (
            "return self.linear2(self.dropout(self.activation(self.linear1(x))))",
            """h = self.linear1(x)
        h.data = self.activation(h.data)
        return self.linear2(self.dropout(h))""")),
        "casts_to_float32": _reference_with("FeedForward", (
            "return self.linear2(self.dropout(self.activation(self.linear1(x))))",
            "return self.linear2(self.dropout(self.activation(self.linear1(x)))).float()")),
    },
    "transformer.EncoderLayer": {
        "norm_first_ignored": _reference_with("EncoderLayer", ("if self.norm_first:", "if False:")),
        "always_pre_norm": _reference_with("EncoderLayer", ("if self.norm_first:", "if True:")),
        "norm_on_the_sublayer_only": _reference_with("EncoderLayer", (_ENC_POST, """            x = x + self.norm1(self.dropout1(self.self_attn(x, x, x, mask)))
            x = x + self.norm2(self.dropout2(self.ff(x)))
""")),
        "mask_ignored": _reference_with("EncoderLayer", (_ENC_POST, """            x = self.norm1(x + self.dropout1(self.self_attn(x, x, x)))
            x = self.norm2(x + self.dropout2(self.ff(x)))
"""), (_ENC_PRE, """            h = self.norm1(x)
            x = x + self.dropout1(self.self_attn(h, h, h))
            x = x + self.dropout2(self.ff(self.norm2(x)))
""")),
        "no_residual_around_ff": _reference_with("EncoderLayer", (
            "x = self.norm2(x + self.dropout2(self.ff(x)))", "x = self.norm2(self.dropout2(self.ff(x)))")),
        "dropout_after_the_norm": _reference_with("EncoderLayer", (_ENC_POST, """            x = self.dropout1(self.norm1(x + self.self_attn(x, x, x, mask)))
            x = self.dropout2(self.norm2(x + self.ff(x)))
""")),
        "no_dropout_on_sublayer_outputs": _reference_with("EncoderLayer", (_ENC_POST, """            x = self.norm1(x + self.self_attn(x, x, x, mask))
            x = self.norm2(x + self.ff(x))
"""), (_ENC_PRE, """            h = self.norm1(x)
            x = x + self.self_attn(h, h, h, mask)
            x = x + self.ff(self.norm2(x))
""")),
        "dropout_always_on": _reference_with("EncoderLayer", (_ENC_POST, """            x = self.norm1(x + F.dropout(self.self_attn(x, x, x, mask), self.dropout1.p))
            x = self.norm2(x + F.dropout(self.ff(x), self.dropout2.p))
""")),
        "activation_not_passed_on": _reference_with("EncoderLayer", (
            "self.ff = FeedForward(d_model, d_ff, dropout, activation)", "self.ff = FeedForward(d_model, d_ff, dropout)")),
        "pre_norm_on_the_query_only": _reference_with("EncoderLayer", (
            "x = x + self.dropout1(self.self_attn(h, h, h, mask))", "x = x + self.dropout1(self.self_attn(h, x, x, mask))")),
        "converts_to_float64": _reference_with("EncoderLayer", (
            "        if self.norm_first:\n            h = self.norm1(x)",
            "        x = x.double()\n        if self.norm_first:\n            h = self.norm1(x)")),
        "residual_detached": _reference_with("EncoderLayer", (
            "x = self.norm1(x + self.dropout1(self.self_attn(x, x, x, mask)))",
            "x = self.norm1(x.detach() + self.dropout1(self.self_attn(x, x, x, mask)))")),
    },
    "transformer.DecoderLayer": {
        "cross_attention_over_x": _reference_with("DecoderLayer", (
            "self.cross_attn(x, memory, memory, memory_mask)))\n            x = self.norm3",
            "self.cross_attn(x, x, x)))\n            x = self.norm3")),
        "masks_swapped": _reference_with("DecoderLayer", (
            "self.self_attn(x, x, x, tgt_mask)))\n            x = self.norm2(x + self.dropout2(self.cross_attn(x, memory, memory, memory_mask)))",
            "self.self_attn(x, x, x, memory_mask)))\n            x = self.norm2(x + self.dropout2(self.cross_attn(x, memory, memory, tgt_mask)))")),
        "tgt_mask_ignored": _reference_with("DecoderLayer", (
            "self.self_attn(x, x, x, tgt_mask)))", "self.self_attn(x, x, x)))"),
            ("self.self_attn(h, h, h, tgt_mask))", "self.self_attn(h, h, h))")),
        "memory_mask_ignored": _reference_with("DecoderLayer", (
            "self.cross_attn(x, memory, memory, memory_mask)))", "self.cross_attn(x, memory, memory)))"),
            ("self.cross_attn(h, memory, memory, memory_mask))", "self.cross_attn(h, memory, memory))")),
        "pre_norm_normalises_memory": _reference_with("DecoderLayer", (
            "self.cross_attn(h, memory, memory, memory_mask))", "self.cross_attn(h, self.norm2(memory), self.norm2(memory), memory_mask))")),
        "norm_first_ignored": _reference_with("DecoderLayer", ("if self.norm_first:", "if False:")),
        "norms_in_the_wrong_order": _reference_with("DecoderLayer", (_DEC_POST, """            x = self.norm1(x + self.dropout1(self.self_attn(x, x, x, tgt_mask)))
            x = self.norm3(x + self.dropout2(self.cross_attn(x, memory, memory, memory_mask)))
            x = self.norm2(x + self.dropout3(self.ff(x)))
""")),
        "no_dropout_on_sublayer_outputs": _reference_with("DecoderLayer", (_DEC_POST, """            x = self.norm1(x + self.self_attn(x, x, x, tgt_mask))
            x = self.norm2(x + self.cross_attn(x, memory, memory, memory_mask))
            x = self.norm3(x + self.ff(x))
""")),
        "dropout_always_on": _reference_with("DecoderLayer", (
            "x = self.norm3(x + self.dropout3(self.ff(x)))", "x = self.norm3(x + F.dropout(self.ff(x), self.dropout3.p))")),
        "activation_not_passed_on": _reference_with("DecoderLayer", (
            "self.ff = FeedForward(d_model, d_ff, dropout, activation)", "self.ff = FeedForward(d_model, d_ff, dropout)")),
        "converts_to_float64": _reference_with("DecoderLayer", (
            "        if self.norm_first:\n            h = self.norm1(x)",
            "        x, memory = x.double(), memory.double()\n        if self.norm_first:\n            h = self.norm1(x)")),
        # a stub that hands back its input: it keeps the shape, the dtype and the masks' promises
        "returns_its_input": _reference_with("DecoderLayer", ("        if self.norm_first:\n            h = self.norm1(x)",
                                                             "        return x\n        if self.norm_first:\n            h = self.norm1(x)")),
        "memory_detached": _reference_with("DecoderLayer", (
            "        if self.norm_first:\n            h = self.norm1(x)",
            "        memory = memory.detach()\n        if self.norm_first:\n            h = self.norm1(x)")),
    },
    "transformer.Encoder": {
        "same_layer_repeated": _reference_with("Encoder", (
            "nn.ModuleList([copy.deepcopy(layer) for _ in range(num_layers)])", "nn.ModuleList([layer] * num_layers)")),
        "original_layer_first": _reference_with("Encoder", (
            "nn.ModuleList([copy.deepcopy(layer) for _ in range(num_layers)])",
            "nn.ModuleList([layer] + [copy.deepcopy(layer) for _ in range(num_layers - 1)])")),
        "plain_python_list": _reference_with("Encoder", (
            "nn.ModuleList([copy.deepcopy(layer) for _ in range(num_layers)])",
            "[copy.deepcopy(layer) for _ in range(num_layers)]")),
        "no_final_norm": _reference_with("Encoder", ("return self.norm(x)", "return x")),
        "final_norm_only_for_pre_norm": _reference_with("Encoder", (
            "return self.norm(x)", "return self.norm(x) if self.layers[0].norm_first else x")),
        "mask_only_for_the_first_layer": _reference_with("Encoder", (
            """        for layer in self.layers:
            x = layer(x, mask)""",
            """        x = self.layers[0](x, mask)
        for layer in self.layers[1:]:
            x = layer(x)""")),
        "fresh_layers_from_the_width": _reference_with("Encoder", (
            "nn.ModuleList([copy.deepcopy(layer) for _ in range(num_layers)])",
            "nn.ModuleList([EncoderLayer(layer.norm1.weight.shape[0], layer.self_attn.num_heads, "
            "layer.ff.linear1.out_features) for _ in range(num_layers)])")),
    },
    "transformer.Decoder": {
        "same_layer_repeated": _reference_with("Decoder", (
            "nn.ModuleList([copy.deepcopy(layer) for _ in range(num_layers)])", "nn.ModuleList([layer] * num_layers)")),
        "plain_python_list": _reference_with("Decoder", (
            "nn.ModuleList([copy.deepcopy(layer) for _ in range(num_layers)])",
            "[copy.deepcopy(layer) for _ in range(num_layers)]")),
        "no_final_norm": _reference_with("Decoder", ("return self.norm(x)", "return x")),
        "masks_swapped": _reference_with("Decoder", (
            "x = layer(x, memory, tgt_mask, memory_mask)", "x = layer(x, memory, memory_mask, tgt_mask)")),
        "previous_output_as_memory": _reference_with("Decoder", (
            """        for layer in self.layers:
            x = layer(x, memory, tgt_mask, memory_mask)""",
            """        for layer in self.layers:
            x, memory = layer(x, memory, tgt_mask, memory_mask), x""")),
        "memory_detached": _reference_with("Decoder", (
            "x = layer(x, memory, tgt_mask, memory_mask)", "x = layer(x, memory.detach(), tgt_mask, memory_mask)")),
    },
    "transformer.Transformer": {
        "embeddings_not_scaled": _reference_with("Transformer", (
            "self.src_embed(src) * math.sqrt(self.d_model)", "self.src_embed(src)"),
            ("self.tgt_embed(tgt) * math.sqrt(self.d_model)", "self.tgt_embed(tgt)")),
        "scaled_by_d_model": _reference_with("Transformer", (
            "self.src_embed(src) * math.sqrt(self.d_model)", "self.src_embed(src) * self.d_model"),
            ("self.tgt_embed(tgt) * math.sqrt(self.d_model)", "self.tgt_embed(tgt) * self.d_model")),
        "no_memory_mask": _reference_with("Transformer", (
            "self.decoder(x, memory, tgt_mask, src_mask)", "self.decoder(x, memory, tgt_mask)")),
        "log_softmax_logits": _reference_with("Transformer", (
            "return self.generator(self.decoder(x, memory, tgt_mask, src_mask))",
            "return torch.log_softmax(self.generator(self.decoder(x, memory, tgt_mask, src_mask)), dim=-1)")),
        "default_init": _reference_with("Transformer", (
            """        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
""", "")),
        "no_positions_on_the_target": _reference_with("Transformer", (
            "x = self.pos_encoding(self.tgt_embed(tgt) * math.sqrt(self.d_model))",
            "x = self.tgt_embed(tgt) * math.sqrt(self.d_model)")),
        "masks_swapped_in_forward": _reference_with("Transformer", (
            "return self.decode(tgt, self.encode(src, src_mask), src_mask, tgt_mask)",
            "return self.decode(tgt, self.encode(src, src_mask), tgt_mask, src_mask)")),
        "generator_over_the_source_vocabulary": _reference_with("Transformer", (
            "self.generator = nn.Linear(d_model, tgt_vocab)", "self.generator = nn.Linear(d_model, src_vocab)")),
        "dropout_ignored": _reference_with("Transformer", (
            "        super().__init__()\n", "        super().__init__()\n        dropout = 0.0\n")),
        "memory_detached": _reference_with("Transformer", (
            "return self.decode(tgt, self.encode(src, src_mask), src_mask, tgt_mask)",
            "return self.decode(tgt, self.encode(src, src_mask).detach(), src_mask, tgt_mask)")),
        # a stub that only gets the shape right: every check it passes is a property, so it earns 0
        "returns_zeros_of_the_right_shape": _reference_with("Transformer", (
            "return self.encoder(x, src_mask)", "return x.new_zeros(x.shape)"), (
            "return self.generator(self.decoder(x, memory, tgt_mask, src_mask))",
            "return x.new_zeros(tgt.shape + (self.generator.out_features,))"), (
            "return self.decode(tgt, self.encode(src, src_mask), src_mask, tgt_mask)",
            "return self.src_embed.weight.new_zeros(tgt.shape + (self.generator.out_features,))")),
        # logits upcast "for a stable loss": a float32 model no longer gives float32 logits
        "logits_upcast_to_float64": _reference_with("Transformer", (
            "return self.generator(self.decoder(x, memory, tgt_mask, src_mask))",
            "return self.generator(self.decoder(x, memory, tgt_mask, src_mask)).double()")),
    },
}

RIGHT = {
    "transformer.LayerNorm": {
        "var_mean": _reference_with("LayerNorm", (_LN_FORWARD, """        var, mean = torch.var_mean(x, dim=-1, keepdim=True, correction=0)
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias
""")),
        "unbiased_var_rescaled": _reference_with("LayerNorm", (_LN_FORWARD, """        n = x.shape[-1]
        mean = x.sum(dim=-1, keepdim=True) / n
        var = x.var(dim=-1, keepdim=True, unbiased=True) * (n - 1) / n if n > 1 else torch.zeros_like(mean)
        return self.weight * ((x - mean) * (var + self.eps) ** -0.5) + self.bias
""")),
    },
    "transformer.FeedForward": {
        "modules_and_where": """
class FeedForward(nn.Module):
    def __init__(self, d_model, d_ff, dropout=0.0, activation="relu"):
        super().__init__()
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)
        self.drop = nn.Dropout(dropout)
        self.act = nn.GELU() if activation == "gelu" else None

    def forward(self, x):
        h = self.linear1(x)
        h = self.act(h) if self.act is not None else torch.where(h > 0, h, torch.zeros_like(h))
        return self.linear2(self.drop(h))
""",
        "functional_dropout": _reference_with("FeedForward", (
            "return self.linear2(self.dropout(self.activation(self.linear1(x))))",
            "return self.linear2(F.dropout(self.activation(self.linear1(x)), self.dropout.p, self.training))")),
    },
    "transformer.EncoderLayer": {
        "sublayer_helper": """
class EncoderLayer(nn.Module):
    def __init__(self, d_model, num_heads, d_ff, dropout=0.1, activation="relu", norm_first=False):
        super().__init__()
        self.pre = norm_first
        self.p = dropout
        self.self_attn = MultiHeadAttention(d_model, num_heads)
        self.ff = FeedForward(d_model, d_ff, dropout, activation)
        self.norm1 = LayerNorm(d_model)
        self.norm2 = LayerNorm(d_model)

    def _residual(self, x, norm, fn):
        if self.pre:
            return x + F.dropout(fn(norm(x)), self.p, self.training)
        return norm(x + F.dropout(fn(x), self.p, self.training))

    def forward(self, x, mask=None):
        x = self._residual(x, self.norm1, lambda h: self.self_attn(h, h, h, mask=mask))
        return self._residual(x, self.norm2, self.ff)
""",
    },
    "transformer.DecoderLayer": {
        "sublayer_list": """
class DecoderLayer(nn.Module):
    def __init__(self, d_model, num_heads, d_ff, dropout=0.1, activation="relu", norm_first=False):
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, num_heads)
        self.cross_attn = MultiHeadAttention(d_model, num_heads)
        self.ff = FeedForward(d_model, d_ff, dropout, activation)
        self.norm1, self.norm2, self.norm3 = LayerNorm(d_model), LayerNorm(d_model), LayerNorm(d_model)
        self.drops = nn.ModuleList([nn.Dropout(dropout) for _ in range(3)])

    def forward(self, x, memory, tgt_mask=None, memory_mask=None):
        steps = [(self.norm1, lambda h: self.self_attn(h, h, h, tgt_mask)),
                 (self.norm2, lambda h: self.cross_attn(h, memory, memory, memory_mask)),
                 (self.norm3, self.ff)]
        for (norm, fn), drop in zip(steps, self.drops):
            x = x + drop(fn(norm(x))) if self.norm_first else norm(x + drop(fn(x)))
        return x
""",
    },
    "transformer.Encoder": {
        "width_from_norm_bias_and_reduce": """
class Encoder(nn.Module):
    def __init__(self, layer, num_layers):
        super().__init__()
        self.layers = nn.ModuleList()
        for _ in range(num_layers):
            self.layers.append(copy.deepcopy(layer))
        self.norm = LayerNorm(layer.norm2.bias.numel())

    def forward(self, x, mask=None):
        import functools
        return self.norm(functools.reduce(lambda h, layer: layer(h, mask=mask), self.layers, x))
""",
    },
    "transformer.Decoder": {
        "indexed_loop": """
class Decoder(nn.Module):
    def __init__(self, layer, num_layers):
        super().__init__()
        self.layers = nn.ModuleList(copy.deepcopy(layer) for _ in range(num_layers))
        self.norm = LayerNorm(layer.norm3.weight.shape[0])

    def forward(self, x, memory, tgt_mask=None, memory_mask=None):
        for i in range(len(self.layers)):
            x = self.layers[i](x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask)
        return self.norm(x)
""",
    },
    "transformer.Transformer": {
        "named_parameters_init_and_helper": _reference_with("Transformer", (
            """        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
""", """        for _, p in self.named_parameters():
            if p.ndim >= 2:
                torch.nn.init.xavier_uniform_(p, gain=1.0)
"""), ("self.src_embed(src) * math.sqrt(self.d_model)", "self.src_embed(src).mul(self.d_model ** 0.5)"),
            ("self.tgt_embed(tgt) * math.sqrt(self.d_model)", "self.tgt_embed(tgt) * self.src_embed.embedding_dim ** 0.5")),
        # the docstring fixes the parameters; a (persistent) buffer of one's own is allowed
        "scale_kept_in_a_buffer": _reference_with("Transformer", (
            "self.d_model = d_model",
            "self.d_model = d_model\n        self.register_buffer(\"scale\", torch.tensor(math.sqrt(d_model), dtype=torch.float64))"),
            ("self.src_embed(src) * math.sqrt(self.d_model)", "self.src_embed(src) * self.scale"),
            ("self.tgt_embed(tgt) * math.sqrt(self.d_model)", "self.tgt_embed(tgt) * self.scale")),
    },
}


def _renamed(name: str, old: str, new: str) -> str:
    """The reference definition of ``name`` with an attribute renamed everywhere."""
    return definition_source(_SOLUTION, name).replace(old, new)


# the Annotated Transformer's names instead of the syllabus's
WRONG["transformer.EncoderLayer"]["feed_forward_instead_of_ff"] = _renamed("EncoderLayer", "self.ff", "self.feed_forward")
WRONG["transformer.DecoderLayer"]["src_attn_instead_of_cross_attn"] = _renamed("DecoderLayer", "self.cross_attn",
                                                                               "self.src_attn")
