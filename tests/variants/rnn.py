"""Variants of the rnn exercises, to test the hidden suite itself.

WRONG: mistakes learners really make; each must fail at least one hidden check of its
exercise. RIGHT: correct but written differently; each must pass every hidden check.
Each string is a complete top-level definition that replaces the reference one in a copy
of solutions/rnn.py (tests.support.make_submission), so a RIGHT backward works with the
reference forward's cache and a RIGHT forward produces the cache the reference backward reads.
A dict {exercise_id: source, ...} replaces several definitions at once: a chain of step
forward, step backward and sequence functions that agree on a cache layout of their own.
"""

WRONG = {
    "rnn.rnn_step_forward": {
        # a stub: float64 zeros of the right shape pass the dtype property and nothing else
        "returns_zeros_of_the_right_shape": '''
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.zeros((x.shape[0], Wh.shape[1]))
    return next_h, (x, prev_h, Wx, Wh, next_h)
''',
        "no_tanh": '''
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = x @ Wx + prev_h @ Wh + b
    return next_h, (x, prev_h, Wx, Wh, next_h)
''',
        "no_bias": '''
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x @ Wx + prev_h @ Wh)
    return next_h, (x, prev_h, Wx, Wh, next_h)
''',
        "bias_after_tanh": '''
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x @ Wx + prev_h @ Wh) + b
    return next_h, (x, prev_h, Wx, Wh, next_h)
''',
        "sigmoid": '''
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = 1 / (1 + np.exp(-(x @ Wx + prev_h @ Wh + b)))
    return next_h, (x, prev_h, Wx, Wh, next_h)
''',
        "weights_swapped": '''
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x @ Wh + prev_h @ Wx + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)
''',
        "transposed_Wh": '''
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x @ Wx + prev_h @ Wh.T + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)
''',
        "float32": '''
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh((x @ Wx + prev_h @ Wh + b).astype(np.float32))
    return next_h, (x, prev_h, Wx, Wh, next_h)
''',
        "tanh_by_exp_overflows": '''
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    e = np.exp(2 * (x @ Wx + prev_h @ Wh + b))
    next_h = (e - 1) / (e + 1)
    return next_h, (x, prev_h, Wx, Wh, next_h)
''',
    },
    "rnn.rnn_step_backward": {
        # a stub: zero gradients add up over a batch and vanish where tanh saturates
        "returns_zeros_of_the_right_shape": '''
def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    return np.zeros_like(x), np.zeros_like(prev_h), np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(Wh.shape[1])
''',
        "no_tanh_derivative": '''
def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)
''',
        "db_not_summed_over_batch": '''
def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h**2)
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da
''',
        "db_mean_over_batch": '''
def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h**2)
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.mean(axis=0)
''',
        "tanh_derivative_of_prev_h": '''
def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - prev_h**2)
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)
''',
        "tanh_applied_twice": '''
def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - np.tanh(next_h) ** 2)
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)
''',
        "dWh_from_next_h": '''
def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h**2)
    return da @ Wx.T, da @ Wh.T, x.T @ da, next_h.T @ da, da.sum(axis=0)
''',
        "dprev_h_Wh_not_transposed": '''
def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h**2)
    return da @ Wx.T, da @ Wh, x.T @ da, prev_h.T @ da, da.sum(axis=0)
''',
        "dWh_transposed": '''
def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h**2)
    return da @ Wx.T, da @ Wh.T, x.T @ da, (prev_h.T @ da).T, da.sum(axis=0)
''',
    },
    "rnn.rnn_forward": {
        # a stub: zeros of the batch-first shape pass the shape property and nothing else
        "returns_zeros_of_the_right_shape": '''
def rnn_forward(x, h0, Wx, Wh, b):
    return np.zeros((x.shape[0], x.shape[1], h0.shape[1])), []
''',
        "h0_ignored": '''
def rnn_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]))
    caches = []
    prev_h = np.zeros_like(h0)
    for t in range(T):
        prev_h, cache_t = rnn_step_forward(x[:, t], prev_h, Wx, Wh, b)
        h[:, t] = prev_h
        caches.append(cache_t)
    return h, caches
''',
        "state_never_updated": '''
def rnn_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]))
    caches = []
    for t in range(T):
        h[:, t], cache_t = rnn_step_forward(x[:, t], h0, Wx, Wh, b)
        caches.append(cache_t)
    return h, caches
''',
        "time_major_output": '''
def rnn_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    h = np.zeros((T, N, h0.shape[1]))
    caches = []
    prev_h = h0
    for t in range(T):
        prev_h, cache_t = rnn_step_forward(x[:, t], prev_h, Wx, Wh, b)
        h[t] = prev_h
        caches.append(cache_t)
    return h, caches
''',
        "stores_previous_state": '''
def rnn_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]))
    caches = []
    prev_h = h0
    for t in range(T):
        h[:, t] = prev_h
        prev_h, cache_t = rnn_step_forward(x[:, t], prev_h, Wx, Wh, b)
        caches.append(cache_t)
    return h, caches
''',
        "reads_x_time_major": '''
def rnn_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]))
    caches = []
    prev_h = h0
    for t in range(T):
        prev_h, cache_t = rnn_step_forward(x[t], prev_h, Wx, Wh, b)
        h[:, t] = prev_h
        caches.append(cache_t)
    return h, caches
''',
        "time_reversed": '''
def rnn_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]))
    caches = [None] * T
    prev_h = h0
    for t in reversed(range(T)):
        prev_h, caches[t] = rnn_step_forward(x[:, t], prev_h, Wx, Wh, b)
        h[:, t] = prev_h
    return h, caches
''',
    },
    "rnn.rnn_backward": {
        "upstream_only_at_last_step": '''
def rnn_backward(dh, cache):
    N, T, H = dh.shape
    dx = [None] * T
    dprev_h = dh[:, -1]
    dWx = dWh = db = 0
    for t in reversed(range(T)):
        dx[t], dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dprev_h, cache[t])
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return np.stack(dx, axis=1), dprev_h, dWx, dWh, db
''',
        "no_gradient_from_the_future": '''
def rnn_backward(dh, cache):
    N, T, H = dh.shape
    dx = [None] * T
    dWx = dWh = db = 0
    for t in reversed(range(T)):
        dx[t], dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t], cache[t])
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return np.stack(dx, axis=1), dprev_h, dWx, dWh, db
''',
        "time_forward_order": '''
def rnn_backward(dh, cache):
    N, T, H = dh.shape
    dx = [None] * T
    dprev_h = np.zeros((N, H))
    dWx = dWh = db = 0
    for t in range(T):
        dx[t], dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + dprev_h, cache[t])
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return np.stack(dx, axis=1), dprev_h, dWx, dWh, db
''',
        "weight_grads_overwritten": '''
def rnn_backward(dh, cache):
    N, T, H = dh.shape
    dx = [None] * T
    dprev_h = np.zeros((N, H))
    for t in reversed(range(T)):
        dx[t], dprev_h, dWx, dWh, db = rnn_step_backward(dh[:, t] + dprev_h, cache[t])
    return np.stack(dx, axis=1), dprev_h, dWx, dWh, db
''',
        "weight_grads_averaged_over_time": '''
def rnn_backward(dh, cache):
    N, T, H = dh.shape
    dx = [None] * T
    dprev_h = np.zeros((N, H))
    dWx = dWh = db = 0
    for t in reversed(range(T)):
        dx[t], dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + dprev_h, cache[t])
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return np.stack(dx, axis=1), dprev_h, dWx / T, dWh / T, db / T
''',
        "dh0_is_upstream_of_first_step": '''
def rnn_backward(dh, cache):
    N, T, H = dh.shape
    dx = [None] * T
    dprev_h = np.zeros((N, H))
    dWx = dWh = db = 0
    for t in reversed(range(T)):
        dx[t], dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + dprev_h, cache[t])
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return np.stack(dx, axis=1), dh[:, 0], dWx, dWh, db
''',
        "dx_time_major": '''
def rnn_backward(dh, cache):
    N, T, H = dh.shape
    dx = [None] * T
    dprev_h = np.zeros((N, H))
    dWx = dWh = db = 0
    for t in reversed(range(T)):
        dx[t], dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + dprev_h, cache[t])
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return np.stack(dx, axis=0), dprev_h, dWx, dWh, db
''',
    },
    "rnn.hidden_grad_norms": {
        "reversed_index": '''
def hidden_grad_norms(dh_last, cache):
    T = len(cache)
    norms = np.zeros(T)
    dh_t = dh_last
    for t in reversed(range(T)):
        norms[T - 1 - t] = np.linalg.norm(dh_t)
        dh_t = rnn_step_backward(dh_t, cache[t])[1]
    return norms
''',
        "off_by_one_step": '''
def hidden_grad_norms(dh_last, cache):
    T = len(cache)
    norms = np.zeros(T)
    dh_t = dh_last
    for t in reversed(range(T)):
        dh_t = rnn_step_backward(dh_t, cache[t])[1]
        norms[t] = np.linalg.norm(dh_t)
    return norms
''',
        "norms_of_dWh": '''
def hidden_grad_norms(dh_last, cache):
    T = len(cache)
    norms = np.zeros(T)
    dh_t = dh_last
    for t in reversed(range(T)):
        _, dh_t, _, dWh, _ = rnn_step_backward(dh_t, cache[t])
        norms[t] = np.linalg.norm(dWh)
    return norms
''',
        "mean_of_per_sample_norms": '''
def hidden_grad_norms(dh_last, cache):
    T = len(cache)
    norms = np.zeros(T)
    dh_t = dh_last
    for t in reversed(range(T)):
        norms[t] = np.linalg.norm(dh_t, axis=1).mean()
        dh_t = rnn_step_backward(dh_t, cache[t])[1]
    return norms
''',
        "follows_dx_not_dprev_h": '''
def hidden_grad_norms(dh_last, cache):
    T = len(cache)
    norms = np.zeros(T)
    dh_t = dh_last
    for t in reversed(range(T)):
        norms[t] = np.linalg.norm(dh_t)
        dh_t = rnn_step_backward(dh_t, cache[t])[0]
    return norms
''',
        "upstream_added_at_every_step": '''
def hidden_grad_norms(dh_last, cache):
    T = len(cache)
    norms = np.zeros(T)
    dfuture = np.zeros_like(dh_last)
    for t in reversed(range(T)):
        dh_t = dh_last + dfuture
        norms[t] = np.linalg.norm(dh_t)
        dfuture = rnn_step_backward(dh_t, cache[t])[1]
    return norms
''',
        "sum_of_abs_values": '''
def hidden_grad_norms(dh_last, cache):
    T = len(cache)
    norms = np.zeros(T)
    dh_t = dh_last
    for t in reversed(range(T)):
        norms[t] = np.abs(dh_t).sum()
        dh_t = rnn_step_backward(dh_t, cache[t])[1]
    return norms
''',
    },
    "rnn.clip_grad_norm": {
        # a stub: copies of the gradients leave the inputs alone, and nothing else is right
        "returns_copies_and_zero_norm": '''
def clip_grad_norm(grads, max_norm):
    return [g.copy() for g in grads], 0.0
''',
        "per_array_norm": '''
def clip_grad_norm(grads, max_norm):
    clipped = []
    for g in grads:
        norm = np.sqrt(np.sum(g**2))
        clipped.append(g * (max_norm / (norm + 1e-6)) if norm > max_norm else g.copy())
    total_norm = float(np.sqrt(sum(np.sum(g**2) for g in grads)))
    return clipped, total_norm
''',
        "always_rescales": '''
def clip_grad_norm(grads, max_norm):
    total_norm = float(np.sqrt(sum(np.sum(g**2) for g in grads)))
    scale = max_norm / (total_norm + 1e-6)
    return [g * scale for g in grads], total_norm
''',
        "returns_norm_after_clipping": '''
def clip_grad_norm(grads, max_norm):
    total_norm = float(np.sqrt(sum(np.sum(g**2) for g in grads)))
    scale = max_norm / (total_norm + 1e-6) if total_norm > max_norm else 1.0
    clipped = [g * scale for g in grads]
    return clipped, float(np.sqrt(sum(np.sum(g**2) for g in clipped)))
''',
        "sum_of_array_norms": '''
def clip_grad_norm(grads, max_norm):
    total_norm = float(sum(np.linalg.norm(g) for g in grads))
    scale = max_norm / (total_norm + 1e-6) if total_norm > max_norm else 1.0
    return [g * scale for g in grads], total_norm
''',
        "squared_norm": '''
def clip_grad_norm(grads, max_norm):
    total_norm = float(sum(np.sum(g**2) for g in grads))
    scale = max_norm / (total_norm + 1e-6) if total_norm > max_norm else 1.0
    return [g * scale for g in grads], total_norm
''',
        "clips_values_elementwise": '''
def clip_grad_norm(grads, max_norm):
    total_norm = float(np.sqrt(sum(np.sum(g**2) for g in grads)))
    return [np.clip(g, -max_norm, max_norm) for g in grads], total_norm
''',
        "inverted_factor": '''
def clip_grad_norm(grads, max_norm):
    total_norm = float(np.sqrt(sum(np.sum(g**2) for g in grads)))
    scale = total_norm / max_norm if total_norm > max_norm else 1.0
    return [g * scale for g in grads], total_norm
''',
        # scales the caller's arrays in place (and returns them): right values, inputs destroyed
        "scales_in_place": '''
def clip_grad_norm(grads, max_norm):
    total_norm = float(np.sqrt(sum(np.sum(g**2) for g in grads)))
    if total_norm > max_norm:
        for g in grads:
            g *= max_norm / (total_norm + 1e-6)
    return list(grads), total_norm
''',
        "norm_of_first_array_only": '''
def clip_grad_norm(grads, max_norm):
    total_norm = float(np.linalg.norm(grads[0]))
    scale = max_norm / (total_norm + 1e-6) if total_norm > max_norm else 1.0
    return [g * scale for g in grads], total_norm
''',
    },
}

# ---------------------------------------------------------------- a learner's own cache layout
#
# A cache is the learner's to design. Their step forward, step backward and sequence
# functions agree on it, and the grader keeps a learner's earlier pieces when those pass,
# so such a chain is graded as a whole: each variant below swaps several definitions.

# CS231n's assignment order: the weights first, the output last; the sequence backward
# reads D from a step cache to preallocate dx.
_WEIGHTS_FIRST_STEP_FORWARD = '''
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(prev_h.dot(Wh) + x.dot(Wx) + b)
    cache = (Wx, Wh, b, x, prev_h, next_h)
    return next_h, cache
'''
_WEIGHTS_FIRST_STEP_BACKWARD = '''
def rnn_step_backward(dnext_h, cache):
    Wx, Wh, b, x, prev_h, next_h = cache
    dtanh = (1 - next_h * next_h) * dnext_h
    return dtanh.dot(Wx.T), dtanh.dot(Wh.T), x.T.dot(dtanh), prev_h.T.dot(dtanh), np.sum(dtanh, axis=0)
'''
_WEIGHTS_FIRST_BACKWARD = '''
def rnn_backward(dh, cache):
    N, T, H = dh.shape
    Wx, Wh, b, x, prev_h, next_h = cache[0]
    D = x.shape[1]
    dx = np.zeros((N, T, D))
    dWx, dWh, db = np.zeros((D, H)), np.zeros((H, H)), np.zeros(H)
    dprev_h = np.zeros((N, H))
    for t in range(T - 1, -1, -1):
        dx[:, t, :], dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t, :] + dprev_h, cache[t])
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db
'''

# a dict per step holding the pre-activation (tanh' recomputed from it), and a sequence
# cache of its own: a dict with the step caches and the input width
_DICT_STEP_FORWARD = '''
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    a = x @ Wx + prev_h @ Wh + b
    return np.tanh(a), {"x": x, "h_prev": prev_h, "W_xh": Wx, "W_hh": Wh, "a": a}
'''
_DICT_STEP_BACKWARD = '''
def rnn_step_backward(dnext_h, cache):
    da = dnext_h / np.cosh(cache["a"]) ** 2
    return (da @ cache["W_xh"].T, da @ cache["W_hh"].T, cache["x"].T @ da, cache["h_prev"].T @ da,
            da.sum(axis=0))
'''
_DICT_FORWARD = '''
def rnn_forward(x, h0, Wx, Wh, b):
    steps, hs = [], []
    h = h0
    for t in range(x.shape[1]):
        h, step = rnn_step_forward(x[:, t], h, Wx, Wh, b)
        hs.append(h)
        steps.append(step)
    return np.stack(hs, axis=1), {"steps": steps, "D": x.shape[2]}
'''
_DICT_BACKWARD = '''
def rnn_backward(dh, cache):
    N, T, H = dh.shape
    dx = np.empty((N, T, cache["D"]))
    grads = None
    dfuture = np.zeros((N, H))
    for t in reversed(range(T)):
        dx[:, t], dfuture, *dW = rnn_step_backward(dh[:, t] + dfuture, cache["steps"][t])
        grads = dW if grads is None else [g + d for g, d in zip(grads, dW)]
    return (dx, dfuture, *grads)
'''
_DICT_NORMS = '''
def hidden_grad_norms(dh_last, cache):
    steps = cache["steps"]
    norms = np.empty(len(steps))
    g = dh_last
    for t in range(len(steps) - 1, -1, -1):
        norms[t] = np.sqrt(np.sum(g ** 2))
        g = rnn_step_backward(g, steps[t])[1]
    return norms
'''

# a cache as a namedtuple, read by field name (a style some courses teach)
_NAMEDTUPLE_STEP_FORWARD = '''
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    from collections import namedtuple

    StepCache = namedtuple("StepCache", "x prev_h Wx Wh next_h")
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, StepCache(x=x, prev_h=prev_h, Wx=Wx, Wh=Wh, next_h=next_h)
'''

_NAMEDTUPLE_STEP_BACKWARD = '''
def rnn_step_backward(dnext_h, cache):
    da = dnext_h * (1 - cache.next_h ** 2)
    return (da @ cache.Wx.T, da @ cache.Wh.T, cache.x.T @ da, cache.prev_h.T @ da, da.sum(axis=0))
'''

RIGHT = {
    "rnn.rnn_step_forward": {
        "einsum": '''
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    a = np.einsum("nd,dh->nh", x, Wx) + np.einsum("nk,kh->nh", prev_h, Wh) + b[None, :]
    next_h = np.tanh(a)
    return next_h, (x, prev_h, Wx, Wh, next_h)
''',
        "concatenated_weights": '''
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    xh = np.concatenate([x, prev_h], axis=1)          # (N, D + H)
    W = np.concatenate([Wx, Wh], axis=0)              # (D + H, H)
    next_h = np.tanh(xh.dot(W) + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)
''',
        "stable_tanh_by_exp": '''
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    a = x @ Wx + prev_h @ Wh + b
    e = np.exp(-2 * np.abs(a))
    next_h = np.sign(a) * (1 - e) / (1 + e)
    return next_h, (x, prev_h, Wx, Wh, next_h)
''',
    },
    "rnn.rnn_step_backward": {
        "own_cache_weights_first": {"rnn.rnn_step_forward": _WEIGHTS_FIRST_STEP_FORWARD,
                                    "rnn.rnn_step_backward": _WEIGHTS_FIRST_STEP_BACKWARD},
        "own_cache_dict_of_preactivation": {"rnn.rnn_step_forward": _DICT_STEP_FORWARD,
                                            "rnn.rnn_step_backward": _DICT_STEP_BACKWARD},
        "own_cache_namedtuple_read_by_name": {"rnn.rnn_step_forward": _NAMEDTUPLE_STEP_FORWARD,
                                              "rnn.rnn_step_backward": _NAMEDTUPLE_STEP_BACKWARD},
        "einsum": '''
def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h - dnext_h * next_h * next_h
    dx = np.einsum("nh,dh->nd", da, Wx)
    dprev_h = np.einsum("nh,kh->nk", da, Wh)
    dWx = np.einsum("nd,nh->dh", x, da)
    dWh = np.einsum("nk,nh->kh", prev_h, da)
    db = np.einsum("nh->h", da)
    return dx, dprev_h, dWx, dWh, db
''',
        "loop_over_batch": '''
def rnn_step_backward(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - np.square(next_h))
    dWx = np.zeros_like(Wx)
    dWh = np.zeros_like(Wh)
    db = np.zeros(Wh.shape[0])
    for n in range(x.shape[0]):
        dWx += np.outer(x[n], da[n])
        dWh += np.outer(prev_h[n], da[n])
        db += da[n]
    return np.dot(da, Wx.T), np.dot(da, Wh.T), dWx, dWh, db
''',
    },
    "rnn.rnn_forward": {
        "stack_list": '''
def rnn_forward(x, h0, Wx, Wh, b):
    hs, caches = [], []
    h = h0
    for x_t in x.transpose(1, 0, 2):                  # (N, D) per step
        h, c = rnn_step_forward(x_t, h, Wx, Wh, b)
        hs.append(h)
        caches.append(c)
    return np.stack(hs, axis=1), caches
''',
        "preallocated_time_major": '''
def rnn_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    out = np.empty((T, N, Wh.shape[0]), dtype=x.dtype)
    caches = []
    for t in range(T):
        out[t], c = rnn_step_forward(x[:, t, :], out[t - 1] if t else h0, Wx, Wh, b)
        caches.append(c)
    return np.ascontiguousarray(out.transpose(1, 0, 2)), caches
''',
    },
    "rnn.rnn_backward": {
        "own_cache_weights_first_reads_D": {"rnn.rnn_step_forward": _WEIGHTS_FIRST_STEP_FORWARD,
                                            "rnn.rnn_step_backward": _WEIGHTS_FIRST_STEP_BACKWARD,
                                            "rnn.rnn_backward": _WEIGHTS_FIRST_BACKWARD},
        "own_cache_dicts": {"rnn.rnn_step_forward": _DICT_STEP_FORWARD,
                            "rnn.rnn_step_backward": _DICT_STEP_BACKWARD,
                            "rnn.rnn_forward": _DICT_FORWARD,
                            "rnn.rnn_backward": _DICT_BACKWARD},
        "lists_summed_at_the_end": '''
def rnn_backward(dh, cache):
    T = dh.shape[1]
    dxs, dWxs, dWhs, dbs = [], [], [], []
    dfuture = np.zeros_like(dh[:, 0])
    for t in range(T - 1, -1, -1):
        dx_t, dfuture, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + dfuture, cache[t])
        dxs.insert(0, dx_t)
        dWxs.append(dWx_t)
        dWhs.append(dWh_t)
        dbs.append(db_t)
    return np.stack(dxs, axis=1), dfuture, sum(dWxs), sum(dWhs), sum(dbs)
''',
        "preallocated_after_last_step": '''
def rnn_backward(dh, cache):
    N, T, H = dh.shape
    dx_t, dprev, dWx, dWh, db = rnn_step_backward(dh[:, T - 1], cache[T - 1])
    dx = np.zeros((N, T, dx_t.shape[1]))
    dx[:, T - 1] = dx_t
    for t in range(T - 2, -1, -1):
        dx[:, t], dprev, gWx, gWh, gb = rnn_step_backward(dh[:, t] + dprev, cache[t])
        dWx += gWx
        dWh += gWh
        db += gb
    return dx, dprev, dWx, dWh, db
''',
    },
    "rnn.hidden_grad_norms": {
        "own_cache_weights_first": {"rnn.rnn_step_forward": _WEIGHTS_FIRST_STEP_FORWARD,
                                    "rnn.rnn_step_backward": _WEIGHTS_FIRST_STEP_BACKWARD},
        "own_cache_dicts": {"rnn.rnn_step_forward": _DICT_STEP_FORWARD,
                            "rnn.rnn_step_backward": _DICT_STEP_BACKWARD,
                            "rnn.rnn_forward": _DICT_FORWARD,
                            "rnn.hidden_grad_norms": _DICT_NORMS},
        "list_then_reverse": '''
def hidden_grad_norms(dh_last, cache):
    out = []
    g = dh_last
    for c in reversed(cache):
        out.append(np.sqrt((g * g).sum()))
        _, g, _, _, _ = rnn_step_backward(g, c)
    return np.array(out[::-1])
''',
        "ravel_norm": '''
def hidden_grad_norms(dh_last, cache):
    T = len(cache)
    grads = [None] * T
    grads[T - 1] = dh_last
    for t in range(T - 1, 0, -1):
        grads[t - 1] = rnn_step_backward(grads[t], cache[t])[1]
    return np.array([np.linalg.norm(g.ravel()) for g in grads])
''',
    },
    "rnn.clip_grad_norm": {
        "concatenate_and_clamp": '''
def clip_grad_norm(grads, max_norm):
    total_norm = float(np.linalg.norm(np.concatenate([g.ravel() for g in grads])))
    coef = min(1.0, max_norm / (total_norm + 1e-6))     # as torch does it
    return [g * coef for g in grads], total_norm
''',
        "no_epsilon": '''
def clip_grad_norm(grads, max_norm):
    total_norm = np.sqrt(sum(float(np.vdot(g, g)) for g in grads))
    if total_norm <= max_norm:
        return [np.array(g, copy=True) for g in grads], float(total_norm)
    return [g * (max_norm / total_norm) for g in grads], float(total_norm)
''',
    },
}
