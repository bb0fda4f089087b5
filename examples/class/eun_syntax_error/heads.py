"""Using the encoder's output: pooling, BERT's masking, ViT's patches (torch).

An encoder turns a sequence of T tokens into T vectors, h of shape (B, T, D):
one contextual vector per token. Many tasks need ONE vector per sequence
instead (is this review positive? are these two sentences paraphrases?). A
"head" is what sits on top of the encoder to turn its output into an answer,
and the first step of a classification head is pooling: (B, T, D) -> (B, D).

Mean pooling. Average the vectors of the real tokens. Padding must be left
out: a pad position is not part of the text, and if it were averaged in, the
same sentence would get a different vector depending on how much padding its
batch needed. With mask (B, T), True at real tokens, the pooled vector of
sequence b is

    pooled[b] = sum over t with mask[b, t] of h[b, t]  /  (number of real tokens of b)

A sequence with no real token at all (every position padding) has nothing to
average: 0 / 0. The convention of this course: its pooled vector is all zeros,
never NaN, and so are its gradients (count at least 1 in the division, or
leave such rows out of the computation; replacing a NaN afterwards is too
late for the gradients).

Mean pooling forgets order. A mean is a sum, and a sum does not care about the
order of its terms. Feed the embeddings of "I ate pizza" and of "pizza ate I"
to mean_pool and you get exactly the same vector: the same three vectors,
added in another order. Any permutation of the real tokens gives the same
pooled vector. Pooling a Transformer's OUTPUT is fine, because the encoder,
told where each token stands by a positional encoding, has already mixed the
order into every token's vector. Pooling raw word embeddings (a "bag of
words") is blind to word order: it cannot tell who ate whom.

CLS pooling (BERT). Put a special token, [CLS], at the start of every sequence
and use its output vector, h[:, 0], as the sequence's vector. [CLS] has no
meaning of its own; through attention it can gather whatever the task needs
from the whole sequence, and fine-tuning teaches it what to gather. It costs
nothing (one slice) and padding is no concern (position 0 is never padding).
Mean pooling is often the better sentence embedding without fine-tuning
(Sentence-BERT uses it); CLS is BERT's own choice for classification.

Masked language modelling (BERT's pre-training). Hide some tokens of the input
and train the encoder to predict them from both sides of their context. In
each sequence every ordinary token is chosen with probability mask_prob (15%
in BERT; special tokens such as [CLS], [SEP] or padding are never chosen).
The loss is computed at the chosen positions only: labels holds the original
token there and -100 everywhere else, the ignore_index of cross-entropy. Then
a chosen token is

    replaced by [MASK]         80% of the time
    replaced by a random token 10% of the time (uniform over the vocabulary)
    left unchanged             10% of the time

Why not always [MASK]? Because [MASK] never appears when the model is used
(fine-tuning, inference). If it were the only kind of chosen token, the model
could learn "only [MASK] positions need predicting; every other token is
surely what it looks like" and put its effort in the wrong place. Random and
unchanged tokens mean that ANY position might be one it is asked about, so it
must build a good representation of every token; the random ones also teach
it not to trust its input blindly, while the unchanged ones keep the
representation of a real token close to what it will see in practice.

Randomness that can be replayed. mlm_mask takes an optional torch.Generator:
pass generator=generator to EVERY random call you make (torch.rand,
torch.randint, torch.bernoulli all accept it). Then the same seed gives the
same masking, whatever else the program draws from torch's global generator
in between, which is what makes an experiment reproducible. With
generator=None, torch's global generator is used (passing generator=None to
those functions does exactly that).

Sentence pairs (BERT). BERT reads two segments at once, A and B (a question
and a passage, or two consecutive sentences), packed into one sequence:

    [CLS] A [SEP] B [SEP]

with a segment id for every token: 0 for [CLS], for A and for the first [SEP]
(the separator closes segment A), 1 for B and for the final [SEP]. The
encoder sees the ids through a segment embedding, so it knows which side a
token is on. BERT's second pre-training task, next-sentence prediction (NSP),
uses these pairs: half the time B is the sentence that really follows A in
the document (label 1, "is next"), half the time it is another sentence
(label 0), and the [CLS] vector is trained to tell which. (Later models, such
as RoBERTa, found NSP of little use and dropped it; the segment embedding
stayed.) In this course a negative B is another sentence of the SAME
document, never the one that follows A, and never A itself.

BERT's embeddings. The input of BERT's encoder is the sum of three learned
embeddings of each position, then a layer norm and dropout:

    x[b, t] = token[tokens[b, t]] + segment[segments[b, t]] + position[t]
    out = dropout(norm(x))

The positions are LEARNED (a table of max_len vectors, nn.Embedding), not the
sinusoids of the positional module, and there is no sqrt(d_model) scaling:
the layer norm sets the scale.

Vision Transformer (ViT; Dosovitskiy et al., 2020). A Transformer eats a
sequence of vectors; an image is a grid of pixels. ViT cuts the image
(C, H, W) into non-overlapping p x p patches, an (H/p) x (W/p) grid of them,
flattens each patch into one vector of C*p*p numbers and reads the patches as
a sequence of N = (H/p)(W/p) "tokens", in row-major order (left to right along
the top row of patches, then the next row down, as you read a page). A linear
layer embeds each patch vector, a learned [CLS] vector is put in FRONT of the
sequence (position 0), a learned positional embedding (N + 1 vectors) is
added, and from there on it is the encoder you know, in its pre-norm form
(each sub-layer reads norm(x) and adds its output to x; the stack's final norm
closes it). The class scores come from a linear head on the encoder's output
at position 0, the [CLS] vector: "an image is worth 16x16 words". A 224 x 224
RGB image with p = 16 becomes 196 tokens of 768 numbers. (A convolution with
kernel size p and stride p computes the same patch embedding in one call.)

Without the positional embedding the encoder could not tell the patches
apart by place: self-attention does not care about the order of its inputs,
so an image and the same patches shuffled would get the same class.

In this module you write:

    mean_pool       average of the real tokens' vectors, (B, T, D) -> (B, D)
    cls_pool        the vector of the first position, (B, T, D) -> (B, D)
    mlm_mask        BERT's masking of a batch of token ids: (inputs, labels)
    patchify        (B, C, H, W) images -> (B, N, C*p*p) sequences of patches
                    (without unfold, which does it for you)
    bert_pair       [CLS] A [SEP] B [SEP] and its segment ids
    nsp_pairs       next-sentence-prediction pairs from one document
    BertEmbeddings  token + segment + position embeddings, normalised
    ViT             patches, [CLS], positions, a pre-norm encoder, a head
"""

import torch
from torch import nn

from transformer import Encoder, EncoderLayer, LayerNorm


def mean_pool(h, mask=None):
    """The mean of each sequence's real token vectors.

    Inputs:
        h     float (B, T, D), float32 or float64: the encoder's output
        mask  bool (B, T), True at real tokens, False at padding (anywhere in
              the row, not only at its end); or None: every position is real
    Returns:
        pooled  (B, D), h's dtype: pooled[b] is the mean of h[b, t] over the
                positions t where mask[b, t] is True. The values stored at
                padding positions must not matter at all. A row with no real
                token gives a vector of zeros (not NaN), and its gradients
                are zeros too.
    """
    # BEGIN SOLUTION
    if mask is None:
        return h.mean(dim=1)
    keep = mask.unsqueeze(-1)  # (B, T, 1)
    total = h.masked_fill(~keep, 0.0).sum(dim=1)  # (B, D)
    count = keep.sum(dim=1).clamp(min=1).to(h.dtype)  # (B, 1), at least 1: an empty row gives 0 / 1
    return total / count
    # END SOLUTION


def cls_pool(h):
    """The vector of the first position ([CLS]) of each sequence.

    Inputs:
        h  float (B, T, D)
    Returns:
        pooled  (B, D), h's dtype: pooled[b] = h[b, 0] (one vector per sequence,
                without a leftover time axis of size 1)
    """
    # BEGIN SOLUTION
    return h[:, 0]
    # END SOLUTION


def mlm_mask(tokens, mask_id, vocab_size, mask_prob=0.15, special_ids=(), generator=None):
    """BERT's masked-language-model masking of a batch of token ids.

    Inputs:
        tokens       long tensor of token ids, e.g. (B, T), each in [0, vocab_size)
        mask_id      int, the id of the [MASK] token
        vocab_size   int, random replacements are drawn uniformly from
                     0 .. vocab_size - 1
        mask_prob    float in [0, 1], the probability that a token is chosen
        special_ids  a tuple or list of ints: tokens holding one of these ids
                     ([CLS], [SEP], padding, ...) are never chosen
        generator    a torch.Generator or None; use it for EVERY random draw
                     (generator=generator), so that the same seed gives the
                     same result
    Each token that is not special is chosen independently with probability
    mask_prob. A chosen token becomes mask_id with probability 0.8, a random
    token with probability 0.1, and stays as it is with probability 0.1.
    Returns (inputs, labels), both long tensors of tokens' shape:
        inputs  the tokens after replacement (unchosen tokens unchanged)
        labels  the ORIGINAL token at every chosen position (whatever it was
                replaced by), -100 everywhere else
    tokens itself must not be modified: work on a copy.
    """
    # BEGIN SOLUTION
    special = torch.zeros_like(tokens, dtype=torch.bool)
    for sid in special_ids:
        special |= tokens == sid
    draw = torch.rand(tokens.shape, generator=generator, device=tokens.device)
    chosen = (draw < mask_prob) & ~special
    labels = torch.where(chosen, tokens, torch.full_like(tokens, -100))

    how = torch.rand(tokens.shape, generator=generator, device=tokens.device)  # which of the 80/10/10
    random_ids = torch.randint(0, vocab_size, tokens.shape, generator=generator, device=tokens.device,
                               dtype=tokens.dtype)
    inputs = tokens.clone()
    to_mask = chosen & (how < 0.8)
    to_random = chosen & (how >= 0.8) & (how < 0.9)  # and how >= 0.9: left unchanged
    inputs[to_mask] = mask_id
    inputs[to_random] = random_ids[to_random]
    return inputs, labels
    # END SOLUTION


def patchify(images, patch_size):
    """Cut images into non-overlapping square patches, as the Vision Transformer does.

    Inputs:
        images      (B, C, H, W), any dtype; H and W are multiples of patch_size
                    (you may raise a ValueError otherwise)
        patch_size  int p
    Returns:
        patches  (B, N, C*p*p) with N = (H/p) * (W/p), images' dtype. Patch n
                 covers rows  r*p .. r*p + p-1  and columns  c*p .. c*p + p-1
                 with r = n // (W/p) and c = n % (W/p): row-major order, left
                 to right, then top to bottom. Each patch is flattened in
                 (C, p, p) order: all of channel 0 row by row, then channel 1, ...
                 i.e. patches[b, n] = images[b, :, r*p:(r+1)*p, c*p:(c+1)*p].reshape(-1)
    Gradients must flow back to images. torch.nn.functional.unfold and
    Tensor.unfold are not allowed: reshape and permute are all you need.
    """
    # BEGIN SOLUTION
    B, C, H, W = images.shape
    p = patch_size
    if H % p or W % p:
        raise ValueError(f"image size {H}x{W} is not a multiple of the patch size {p}")
    x = images.reshape(B, C, H // p, p, W // p, p)  # (B, C, rows, p, cols, p)
    x = x.permute(0, 2, 4, 1, 3, 5)  # (B, rows, cols, C, p, p)
    return x.reshape(B, (H // p) * (W // p), C * p * p)
    # END SOLUTION


def bert_pair(tokens_a, tokens_b, cls_id, sep_id):
    """Pack two segments into BERT's input: [CLS] A [SEP] B [SEP], with segment ids.

    Inputs:
        tokens_a  1-D long tensor, the token ids of segment A (may be empty)
        tokens_b  1-D long tensor, the token ids of segment B (may be empty)
        cls_id    int, the id of [CLS]
        sep_id    int, the id of [SEP]
    Returns (tokens, segments), two 1-D long (int64) tensors of length
    len(A) + len(B) + 3:
        tokens    cls_id, the ids of A, sep_id, the ids of B, sep_id
        segments  0 for [CLS], for every token of A and for the FIRST [SEP]
                  (it closes segment A); 1 for every token of B and for the
                  final [SEP]
    Example: A = [5, 6], B = [7], cls_id = 1, sep_id = 2 give
        tokens   [1, 5, 6, 2, 7, 2]
        segments [0, 0, 0, 0, 1, 1]
    """
    # BEGIN SOLUTION
    a = torch.as_tensor(tokens_a, dtype=torch.long).reshape(-1)
    b = torch.as_tensor(tokens_b, dtype=torch.long).reshape(-1)
    cls = torch.tensor([cls_id], dtype=torch.long)
    sep = torch.tensor([sep_id], dtype=torch.long)
    tokens = torch.cat([cls, a, sep, b, sep])
    segments = torch.cat([torch.zeros(len(a) + 2, dtype=torch.long), torch.ones(len(b) + 1, dtype=torch.long)])
    return tokens, segments
    # END SOLUTION


def nsp_pairs(sentences, generator=None):
    """Next-sentence-prediction pairs from the consecutive sentences of one document.

    Inputs:
        sentences  a list of at least 2 sentences (any objects: strings, lists
                   of token ids, ...), in the document's order; they are told
                   apart by their position in the list
        generator  a torch.Generator or None; use it for EVERY random draw
                   (generator=generator), as in mlm_mask
    Returns a list of len(sentences) - 1 tuples (a, b, is_next), one per
    position i = 0 .. len(sentences) - 2, in that order, with a = sentences[i]:
        with probability 1/2: b = sentences[i + 1], is_next = 1
        otherwise:            b = sentences[j], is_next = 0, with j drawn
                              uniformly from the positions other than i and
                              i + 1 (b is never the true next sentence, and
                              never a itself)
    is_next is a Python int. a and b are the list's own items (not copies).
    When the document has only 2 sentences there is no other sentence to draw:
    its one pair is then (sentences[0], sentences[1], 1).
    """
    # BEGIN SOLUTION
    n = len(sentences)
    pairs = []
    for i in range(n - 1):
        keep_next = torch.rand((), generator=generator).item() < 0.5
        if keep_next or n == 2:
            pairs.append((sentences[i], sentences[i + 1], 1))
        else:
            # one of the n - 2 other positions: number them skipping i and i + 1
            pick = int(torch.randint(n - 2, (), generator=generator))
            pairs.append((sentences[i], sentences[pick if pick < i else pick + 2], 0))
    return pairs
    # END SOLUTION


class BertEmbeddings(nn.Module):
    """BERT's input embeddings: token + segment + position, then a layer norm and dropout.

    __init__(vocab_size, d_model, max_len=512, num_segments=2, dropout=0.0):
        token     = nn.Embedding(vocab_size, d_model)
        segment   = nn.Embedding(num_segments, d_model)
        position  = nn.Embedding(max_len, d_model)   (learned positions)
        norm      = LayerNorm(d_model)               (the transformer module's)
        and an nn.Dropout(dropout). Nothing else with parameters.

    forward(tokens, segments=None):
        tokens    long (B, T), T <= max_len
        segments  long (B, T) of segment ids, or None: every id 0
        returns dropout(norm(token(tokens) + segment(segments) + position(t))),
        (B, T, d_model), in the embeddings' dtype, where position(t) is the
        embedding of t = 0 .. T-1, the same for every sequence of the batch.
        No scaling by sqrt(d_model).
    """

    def __init__(self, vocab_size, d_model, max_len=512, num_segments=2, dropout=0.0):
        super().__init__()
        # BEGIN SOLUTION
        self.token = nn.Embedding(vocab_size, d_model)
        self.segment = nn.Embedding(num_segments, d_model)
        self.position = nn.Embedding(max_len, d_model)
        self.norm = LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        # END SOLUTION

    def forward(self, tokens, segments=None):
        # BEGIN SOLUTION
        if segments is None:
            segments = torch.zeros_like(tokens)
        positions = torch.arange(tokens.shape[1], device=tokens.device)            # (T,)
        x = self.token(tokens) + self.segment(segments) + self.position(positions)  # (B, T, d_model)
        return self.dropout(self.norm(x))
        # END SOLUTION


class ViT(nn.Module):
    """The Vision Transformer: an image classifier made of a Transformer encoder.

    __init__(image_size, patch_size, in_channels, num_classes, d_model, num_heads,
             num_layers, d_ff, dropout=0.0):
        image_size  int: square images of image_size x image_size pixels, a
                    multiple of patch_size; N = (image_size // patch_size) ** 2
        patch_embed = nn.Linear(in_channels * patch_size**2, d_model)
        cls_token   = nn.Parameter of shape (1, 1, d_model)   (zeros)
        pos_embed   = nn.Parameter of shape (1, N + 1, d_model)
                      (small random values, e.g. 0.02 * torch.randn)
        encoder     = Encoder(EncoderLayer(d_model, num_heads, d_ff, dropout,
                      activation="gelu", norm_first=True), num_layers)
                      (the transformer module's: pre-norm layers, final norm)
        head        = nn.Linear(d_model, num_classes)
        and an nn.Dropout(dropout) after the positions are added. Nothing
        else with parameters.

    forward(images):
        images  (B, in_channels, image_size, image_size), float
        1. patches = patchify(images, patch_size), (B, N, C*p*p), row-major
           (use this module's own patchify)
        2. x = patch_embed(patches), (B, N, d_model)
        3. put cls_token in FRONT: (B, N + 1, d_model), [CLS] at position 0
           (the same vector for every image of the batch)
        4. add pos_embed (position 0 is the [CLS]'s), then the dropout
        5. h = encoder(x), no mask (every patch is real)
        6. returns the logits head(h[:, 0]), (B, num_classes): the [CLS]
           vector, not a mean over the patches
        in the parameters' dtype.
    """

    def __init__(self, image_size, patch_size, in_channels, num_classes, d_model, num_heads, num_layers, d_ff,
                 dropout=0.0):
        super().__init__()
        # BEGIN SOLUTION
        if image_size % patch_size:
            raise ValueError(f"image_size {image_size} is not a multiple of patch_size {patch_size}")
        self.patch_size = patch_size
        num_patches = (image_size // patch_size) ** 2
        self.patch_embed = nn.Linear(in_channels * patch_size * patch_size, d_model)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d_model))
        self.pos_embed = nn.Parameter(0.02 * torch.randn(1, num_patches + 1, d_model))
        self.dropout = nn.Dropout(dropout)
        layer = EncoderLayer(d_model, num_heads, d_ff, dropout, activation="gelu", norm_first=True)
        self.encoder = Encoder(layer, num_layers)
        self.head = nn.Linear(d_model, num_classes)
        # END SOLUTION

    def forward(self, images):
        # BEGIN SOLUTION
        x = self.patch_embed(patchify(images, self.patch_size))                   # (B, N, d_model)
        cls = self.cls_token.expand(x.shape[0], -1, -1)                           # (B, 1, d_model)
        x = self.dropout(torch.cat([cls, x], dim=1) + self.pos_embed)             # (B, N + 1, d_model)
        h = self.encoder(x)
        return self.head(h[:, 0])                                                  # (B, num_classes)
        # END SOLUTION
