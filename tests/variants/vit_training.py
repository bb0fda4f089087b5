"""vit_training variants: each replaces definitions in the modules it trains
(``{"module.name": source}``), since vit_training has no code of its own.

WRONG: a mistake the heads (or transformer, multihead) exercises' points already cost, which
must also keep the trained weights from working in the reference ViT, or the model from
learning. RIGHT: correct pieces written differently, which must still train past the bar.
"""

from tests.variants import heads, multihead, transformer

WRONG = {
    "vit_training.learns_quadrants": {
        # no positions: the encoder cannot tell where the bright patches are
        "forgets_pos_embed": {"heads.ViT": heads.WRONG["heads.ViT"]["forgets_pos_embed"]},
        # [CLS] after the patches: trained so, its weights mean something else in the reference
        "cls_at_the_end": {"heads.ViT": heads.WRONG["heads.ViT"]["cls_at_the_end"]},
        # the mean of the outputs classified: the reference's [CLS] vector was never trained to answer
        "classifies_the_mean": {"heads.ViT": heads.WRONG["heads.ViT"]["classifies_the_mean"]},
        # the encoder layer ignores norm_first: the ViT trains post-norm, the reference runs pre-norm
        "norm_first_ignored": {"transformer.EncoderLayer":
                               transformer.WRONG["transformer.EncoderLayer"]["norm_first_ignored"]},
        # scores divided by sqrt(d_model) instead of sqrt(d_k): trained on other scores
        "scaled_by_sqrt_d_model": {"multihead.MultiHeadAttention":
                                   multihead.WRONG["multihead.MultiHeadAttention"]["scaled_by_sqrt_d_model"]},
    },
}

RIGHT = {
    "vit_training.learns_quadrants": {
        # patches cut inline and embedded with F.linear, encoder layers written with a sublayer helper
        "inline_patches_and_sublayer_helper": {
            "heads.ViT": heads.RIGHT["heads.ViT"]["inline_patches"],
            "transformer.EncoderLayer": transformer.RIGHT["transformer.EncoderLayer"]["sublayer_helper"],
        },
    },
}
