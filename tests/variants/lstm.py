"""Variants of the lstm exercises for tests/test_variants.py.

WRONG: mistakes learners really make; each must lose points in the hidden suite.
RIGHT: correct implementations written differently; each must keep full marks.
Each string is a whole top-level ``def`` swapped into a copy of solutions/lstm.py, so the
module's own names (np, sigmoid, the other lstm functions) are available. A variant that
swaps one definition keeps the reference cache layout (step cache:
(x, prev_h, prev_c, Wx, Wh, i, f, g, o, tanh_c); sequence cache: the step caches in order):
its backward receives the reference forward's cache. A variant given as a dict
{exercise_id: source, ...} swaps several definitions at once, e.g. a step forward, step
backward and sequence backward that agree on a cache layout of their own.
"""

# ---------------------------------------------------------------- lstm_step_forward

_STEP_FORWARD_HEAD = '''def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
'''
_STEP_FORWARD_TAIL = '''    cache = (x, prev_h, prev_c, Wx, Wh, i, f, g, o, tanh_c)
    return next_h, next_c, cache
'''


def _step_forward(body: str) -> str:
    return _STEP_FORWARD_HEAD + body + _STEP_FORWARD_TAIL


STEP_FORWARD_WRONG = {
    # CS231n's order: output gate in block 2, candidate in block 3
    "gate_order_ifog": _step_forward('''    i = sigmoid(a[:, 0 * H:1 * H])
    f = sigmoid(a[:, 1 * H:2 * H])
    o = sigmoid(a[:, 2 * H:3 * H])
    g = np.tanh(a[:, 3 * H:4 * H])
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
'''),
    # TensorFlow's LSTMCell order i, g, f, o
    "gate_order_igfo": _step_forward('''    i = sigmoid(a[:, 0 * H:1 * H])
    g = np.tanh(a[:, 1 * H:2 * H])
    f = sigmoid(a[:, 2 * H:3 * H])
    o = sigmoid(a[:, 3 * H:4 * H])
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
'''),
    "sigmoid_on_candidate": _step_forward('''    i = sigmoid(a[:, 0 * H:1 * H])
    f = sigmoid(a[:, 1 * H:2 * H])
    g = sigmoid(a[:, 2 * H:3 * H])
    o = sigmoid(a[:, 3 * H:4 * H])
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
'''),
    "tanh_on_output_gate": _step_forward('''    i = sigmoid(a[:, 0 * H:1 * H])
    f = sigmoid(a[:, 1 * H:2 * H])
    g = np.tanh(a[:, 2 * H:3 * H])
    o = np.tanh(a[:, 3 * H:4 * H])
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
'''),
    "no_tanh_on_cell": _step_forward('''    i = sigmoid(a[:, 0 * H:1 * H])
    f = sigmoid(a[:, 1 * H:2 * H])
    g = np.tanh(a[:, 2 * H:3 * H])
    o = sigmoid(a[:, 3 * H:4 * H])
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    next_h = o * next_c
'''),
    "h_from_prev_c": _step_forward('''    i = sigmoid(a[:, 0 * H:1 * H])
    f = sigmoid(a[:, 1 * H:2 * H])
    g = np.tanh(a[:, 2 * H:3 * H])
    o = sigmoid(a[:, 3 * H:4 * H])
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(prev_c)
    next_h = o * tanh_c
'''),
    "missing_input_gate": _step_forward('''    i = sigmoid(a[:, 0 * H:1 * H])
    f = sigmoid(a[:, 1 * H:2 * H])
    g = np.tanh(a[:, 2 * H:3 * H])
    o = sigmoid(a[:, 3 * H:4 * H])
    next_c = f * prev_c + g
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
'''),
    # forget gate read as "how much to forget"
    "forget_gate_inverted": _step_forward('''    i = sigmoid(a[:, 0 * H:1 * H])
    f = sigmoid(a[:, 1 * H:2 * H])
    g = np.tanh(a[:, 2 * H:3 * H])
    o = sigmoid(a[:, 3 * H:4 * H])
    next_c = (1 - f) * prev_c + i * g
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
'''),
}

STEP_FORWARD_RIGHT = {
    "einsum": '''def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[1]
    a = np.einsum("nd,dk->nk", x, Wx) + np.einsum("nh,hk->nk", prev_h, Wh) + b[None, :]
    i, f, g, o = np.split(a, 4, axis=1)
    i, f, g, o = sigmoid(i), sigmoid(f), np.tanh(g), sigmoid(o)
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, g, o, tanh_c)
''',
    "separate_gates_tanh_sigmoid": '''def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[1]

    def pre(k):
        cols = slice(k * H, (k + 1) * H)
        return np.dot(x, Wx[:, cols]) + np.dot(prev_h, Wh[:, cols]) + b[cols]

    def logistic(z):
        return 0.5 * (1.0 + np.tanh(0.5 * z))

    i, f, g, o = logistic(pre(0)), logistic(pre(1)), np.tanh(pre(2)), logistic(pre(3))
    next_c = np.add(np.multiply(f, prev_c), np.multiply(i, g))
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
    cache = (x, prev_h, prev_c, Wx, Wh, i, f, g, o, tanh_c)
    return next_h, next_c, cache
''',
    "explicit_loops": '''def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    N, H = prev_h.shape
    a = np.array(b, dtype=np.float64)[None, :].repeat(N, axis=0)
    for n in range(N):
        for d in range(x.shape[1]):
            a[n] += x[n, d] * Wx[d]
        for k in range(H):
            a[n] += prev_h[n, k] * Wh[k]
    i = sigmoid(a[:, :H])
    f = sigmoid(a[:, H:2 * H])
    g = np.tanh(a[:, 2 * H:3 * H])
    o = sigmoid(a[:, 3 * H:])
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, g, o, tanh_c)
''',
}

# ---------------------------------------------------------------- lstm_step_backward

_STEP_BACKWARD_HEAD = '''def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, i, f, g, o, tanh_c = cache
'''
_STEP_BACKWARD_AFFINE = '''    dx = da @ Wx.T
    dprev_h = da @ Wh.T
    dWx = x.T @ da
    dWh = prev_h.T @ da
'''


def _step_backward(body: str, db: str = "da.sum(axis=0)") -> str:
    return (_STEP_BACKWARD_HEAD + body + _STEP_BACKWARD_AFFINE
            + f"    db = {db}\n    return dx, dprev_h, dprev_c, dWx, dWh, db\n")


_GATE_GRADS = '''    di = dc * g
    df = dc * prev_c
    dg = dc * i
    dprev_c = dc * f
'''
_DA = '''    da = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - g ** 2), do * o * (1 - o)], axis=1)
'''
_DC = '''    do = dnext_h * tanh_c
    dc = dnext_c + dnext_h * o * (1 - tanh_c ** 2)
'''

STEP_BACKWARD_WRONG = {
    # forgets that next_h = o * tanh(next_c) also sends gradient into next_c
    "no_path_from_dnext_h_to_c": _step_backward('''    do = dnext_h * tanh_c
    dc = dnext_c
''' + _GATE_GRADS + _DA),
    "tanh_path_without_derivative": _step_backward('''    do = dnext_h * tanh_c
    dc = dnext_c + dnext_h * o
''' + _GATE_GRADS + _DA),
    "missing_forget_factor_on_dprev_c": _step_backward(_DC + '''    di = dc * g
    df = dc * prev_c
    dg = dc * i
    dprev_c = dc
''' + _DA),
    "swapped_f_and_prev_c": _step_backward(_DC + '''    di = dc * g
    df = dc * f
    dg = dc * i
    dprev_c = dc * prev_c
''' + _DA),
    "db_mean_over_batch": _step_backward(_DC + _GATE_GRADS + _DA, db="da.mean(axis=0)"),
    "db_first_example_only": _step_backward(_DC + _GATE_GRADS + _DA, db="da[0]"),
    # applies sigmoid' to the stored activations as if they were pre-activations
    "sigmoid_grad_of_activation": _step_backward(_DC + _GATE_GRADS + '''    si, sf, so = sigmoid(i), sigmoid(f), sigmoid(o)
    da = np.concatenate([di * si * (1 - si), df * sf * (1 - sf), dg * (1 - g ** 2), do * so * (1 - so)], axis=1)
'''),
    "gate_grads_order_ifog": _step_backward(_DC + _GATE_GRADS + '''    da = np.concatenate([di * i * (1 - i), df * f * (1 - f), do * o * (1 - o), dg * (1 - g ** 2)], axis=1)
'''),
}

STEP_BACKWARD_RIGHT = {
    "einsum": '''def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, i, f, g, o, tanh_c = cache
    dc = dnext_c + dnext_h * o * (1 - tanh_c * tanh_c)
    da = np.hstack([
        dc * g * i * (1 - i),
        dc * prev_c * f * (1 - f),
        dc * i * (1 - g * g),
        dnext_h * tanh_c * o * (1 - o),
    ])
    dx = np.einsum("nk,dk->nd", da, Wx)
    dprev_h = np.einsum("nk,hk->nh", da, Wh)
    dWx = np.einsum("nd,nk->dk", x, da)
    dWh = np.einsum("nh,nk->hk", prev_h, da)
    db = np.einsum("nk->k", da)
    return dx, dprev_h, dc * f, dWx, dWh, db
''',
    "per_gate_blocks": '''def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, i, f, g, o, tanh_c = cache
    H = prev_h.shape[1]
    dc = dnext_c + dnext_h * o * (1 - tanh_c ** 2)
    das = [dc * g * i * (1 - i), dc * prev_c * f * (1 - f), dc * i * (1 - g ** 2), dnext_h * tanh_c * o * (1 - o)]
    dx = np.zeros_like(x)
    dprev_h = np.zeros_like(prev_h)
    dWx = np.zeros_like(Wx)
    dWh = np.zeros_like(Wh)
    db = np.zeros(4 * H)
    for k, dak in enumerate(das):
        cols = slice(k * H, (k + 1) * H)
        dx += dak @ Wx[:, cols].T
        dprev_h += dak @ Wh[:, cols].T
        dWx[:, cols] = x.T @ dak
        dWh[:, cols] = prev_h.T @ dak
        db[cols] = dak.sum(axis=0)
    return dx, dprev_h, dc * f, dWx, dWh, db
''',
    "outer_product_loop": '''def lstm_step_backward(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, i, f, g, o, tanh_c = cache
    dc = dnext_c + dnext_h * o * (1 - tanh_c ** 2)
    da = np.concatenate([dc * g * i * (1 - i), dc * prev_c * f * (1 - f),
                         dc * i * (1 - g ** 2), dnext_h * tanh_c * o * (1 - o)], axis=1)
    dWx = np.zeros(Wx.shape)
    dWh = np.zeros(Wh.shape)
    db = np.zeros(da.shape[1])
    for n in range(x.shape[0]):
        dWx += np.outer(x[n], da[n])
        dWh += np.outer(prev_h[n], da[n])
        db += da[n]
    return da @ Wx.T, da @ Wh.T, f * dc, dWx, dWh, db
''',
}

# ---------------------------------------------------------------- lstm_forward

_FORWARD = '''def lstm_forward(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    H = h0.shape[1]
    h = np.empty((N, T, H))
{init}
    cache = []
    for t in {steps}:
{step}
        h[:, t] = {store}
        cache.append(step_cache)
    return h, cache
'''


def _forward(init="    prev_h, prev_c = h0, np.zeros_like(h0)", steps="range(T)",
             step="        prev_h, prev_c, step_cache = lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)",
             store="prev_h") -> str:
    return _FORWARD.format(init=init, steps=steps, step=step, store=store)


FORWARD_WRONG = {
    "cell_starts_at_h0": _forward(init="    prev_h, prev_c = h0, h0"),
    "cell_not_carried": _forward(
        step="        prev_h, _, step_cache = lstm_step_forward(x[:, t], prev_h, np.zeros_like(h0), Wx, Wh, b)"),
    "hidden_not_carried": _forward(
        step="        prev_h, prev_c, step_cache = lstm_step_forward(x[:, t], h0, prev_c, Wx, Wh, b)"),
    "stores_cell_state": _forward(store="prev_c"),
    "time_reversed": _forward(steps="reversed(range(T))"),
    # forgets to return the state of the last step: h[:, t] holds the state before step t
    "stores_previous_state": _forward(step='''        h[:, t] = prev_h
        prev_h, prev_c, step_cache = lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)''',
                                      store="h[:, t]"),
}

FORWARD_RIGHT = {
    "stack_and_tuple_cache": '''def lstm_forward(x, h0, Wx, Wh, b):
    hs, caches = [], []
    state = (h0, np.zeros(h0.shape))
    for x_t in np.moveaxis(x, 1, 0):
        h_t, c_t, step_cache = lstm_step_forward(x_t, state[0], state[1], Wx, Wh, b)
        state = (h_t, c_t)
        hs.append(h_t)
        caches.append(step_cache)
    return np.stack(hs, axis=1), tuple(caches)
''',
    "while_loop": '''def lstm_forward(x, h0, Wx, Wh, b):
    N, T, D = x.shape
    h = np.zeros((N, T, h0.shape[1]), dtype=np.float64)
    c = np.zeros_like(h0, dtype=np.float64)
    hh = h0
    cache = [None] * T
    t = 0
    while t < T:
        hh, c, cache[t] = lstm_step_forward(x[:, t, :], hh, c, Wx, Wh, b)
        h[:, t, :] = hh
        t += 1
    return h, cache
''',
}

# ---------------------------------------------------------------- lstm_backward

_BACKWARD = '''def lstm_backward(dh, cache):
    N, T, H = dh.shape
    dprev_h = np.zeros((N, H))
    dprev_c = np.zeros((N, H))
    dWx = dWh = db = 0.0
    dxs = [None] * T
    for t in {steps}:
        dxs[t], dh_t, dc_t, dWx_t, dWh_t, db_t = lstm_step_backward({dnext_h}, {dnext_c}, cache[t])
        dprev_h, dprev_c = dh_t, {carry_c}
        {accumulate}
    dx = np.stack(dxs, axis=1)
    return dx, {dh0}, dWx, dWh, db
'''


def _backward(steps="reversed(range(T))", dnext_h="dh[:, t] + dprev_h", dnext_c="dprev_c",
              carry_c="dc_t", accumulate="dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t",
              dh0="dprev_h") -> str:
    return _BACKWARD.format(steps=steps, dnext_h=dnext_h, dnext_c=dnext_c, carry_c=carry_c,
                            accumulate=accumulate, dh0=dh0)


BACKWARD_WRONG = {
    # only the last step's upstream gradient is used, as if the loss saw only h_T
    "forgets_upstream_dh_t": '''def lstm_backward(dh, cache):
    N, T, H = dh.shape
    dprev_h = dh[:, -1]
    dprev_c = np.zeros((N, H))
    dWx = dWh = db = 0.0
    dxs = [None] * T
    for t in reversed(range(T)):
        dxs[t], dprev_h, dprev_c, dWx_t, dWh_t, db_t = lstm_step_backward(dprev_h, dprev_c, cache[t])
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return np.stack(dxs, axis=1), dprev_h, dWx, dWh, db
''',
    "drops_recurrent_dh": _backward(dnext_h="dh[:, t]"),
    "cell_grad_not_carried": _backward(dnext_c="np.zeros((N, H))"),
    "cell_grad_carried_as_hidden": _backward(dnext_h="dh[:, t] + dprev_h + dprev_c"),
    "time_forward": _backward(steps="range(T)"),
    "weights_overwritten": _backward(accumulate="dWx, dWh, db = dWx_t, dWh_t, db_t"),
    "returns_dc_as_dh0": _backward(dh0="dprev_c"),
}

BACKWARD_RIGHT = {
    "preallocated": '''def lstm_backward(dh, cache):
    N, T, H = dh.shape
    dnext_h = np.zeros((N, H))
    dnext_c = np.zeros((N, H))
    dx = dWx = dWh = db = None
    for t in range(T - 1, -1, -1):
        dx_t, dnext_h, dnext_c, dWx_t, dWh_t, db_t = lstm_step_backward(dh[:, t, :] + dnext_h, dnext_c, cache[t])
        if dx is None:
            dx = np.zeros((N, T, dx_t.shape[1]))
            dWx, dWh, db = np.zeros_like(dWx_t), np.zeros_like(dWh_t), np.zeros_like(db_t)
        dx[:, t, :] = dx_t
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dnext_h, dWx, dWh, db
''',
    "collect_then_sum": '''def lstm_backward(dh, cache):
    N, T, H = dh.shape
    carry_h, carry_c = np.zeros((N, H)), np.zeros((N, H))
    grads = []
    for t in reversed(range(len(cache))):
        out = lstm_step_backward(np.add(dh[:, t], carry_h), carry_c, cache[t])
        carry_h, carry_c = out[1], out[2]
        grads.append(out)
    grads.reverse()
    dx = np.stack([gr[0] for gr in grads], axis=1)
    dWx = np.sum([gr[3] for gr in grads], axis=0)
    dWh = np.sum([gr[4] for gr in grads], axis=0)
    db = np.sum([gr[5] for gr in grads], axis=0)
    return dx, carry_h, dWx, dWh, db
''',
}

# ---------------------------------------------------------------- a learner's own cache layout
#
# A cache is the learner's to design. Their step forward, step backward and sequence
# functions agree on it, and the grader keeps a learner's earlier pieces when those pass,
# so such a chain is graded as a whole: each variant below swaps several definitions.

# CS231n-style: a tuple in an order of its own with the new cell state (tanh of it is
# recomputed); the sequence backward reads D from a step cache to preallocate dx
_TUPLE_STEP_FORWARD = '''def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[1]
    a = x.dot(Wx) + prev_h.dot(Wh) + b
    ai, af, ag, ao = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
    i, f, o, g = sigmoid(ai), sigmoid(af), sigmoid(ao), np.tanh(ag)
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    cache = (i, f, o, g, next_c, x, prev_h, prev_c, Wx, Wh, b)
    return next_h, next_c, cache
'''
_TUPLE_STEP_BACKWARD = '''def lstm_step_backward(dnext_h, dnext_c, cache):
    i, f, o, g, next_c, x, prev_h, prev_c, Wx, Wh, b = cache
    tanh_c = np.tanh(next_c)
    dc = dnext_c + dnext_h * o * (1 - tanh_c ** 2)
    dai = dc * g * i * (1 - i)
    daf = dc * prev_c * f * (1 - f)
    dag = dc * i * (1 - g ** 2)
    dao = dnext_h * tanh_c * o * (1 - o)
    da = np.hstack((dai, daf, dag, dao))
    return da.dot(Wx.T), da.dot(Wh.T), dc * f, x.T.dot(da), prev_h.T.dot(da), np.sum(da, axis=0)
'''
_TUPLE_BACKWARD = '''def lstm_backward(dh, cache):
    N, T, H = dh.shape
    D = cache[0][5].shape[1]
    dx = np.zeros((N, T, D))
    dWx, dWh, db = np.zeros((D, 4 * H)), np.zeros((H, 4 * H)), np.zeros(4 * H)
    dprev_h, dprev_c = np.zeros((N, H)), np.zeros((N, H))
    for t in range(T - 1, -1, -1):
        dx[:, t, :], dprev_h, dprev_c, dWx_t, dWh_t, db_t = lstm_step_backward(
            dh[:, t, :] + dprev_h, dprev_c, cache[t])
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db
'''

# a dict per step holding only the inputs and the pre-activation (the gates are recomputed
# in the backward pass), and a sequence cache of its own: a dict with the steps and D
_DICT_STEP_FORWARD = '''def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    z = x @ Wx + prev_h @ Wh + b
    i, f, g, o = np.split(z, 4, axis=1)
    next_c = sigmoid(f) * prev_c + sigmoid(i) * np.tanh(g)
    next_h = sigmoid(o) * np.tanh(next_c)
    return next_h, next_c, {"x": x, "h": prev_h, "c": prev_c, "W_x": Wx, "W_h": Wh, "z": z}
'''
_DICT_STEP_BACKWARD = '''def lstm_step_backward(dnext_h, dnext_c, cache):
    zi, zf, zg, zo = np.split(cache["z"], 4, axis=1)
    i, f, g, o = sigmoid(zi), sigmoid(zf), np.tanh(zg), sigmoid(zo)
    c = f * cache["c"] + i * g
    dc = dnext_c + dnext_h * o * (1 - np.tanh(c) ** 2)
    dz = np.concatenate([dc * g * i * (1 - i), dc * cache["c"] * f * (1 - f), dc * i * (1 - g ** 2),
                         dnext_h * np.tanh(c) * o * (1 - o)], axis=1)
    return (dz @ cache["W_x"].T, dz @ cache["W_h"].T, dc * f,
            cache["x"].T @ dz, cache["h"].T @ dz, dz.sum(axis=0))
'''
_DICT_FORWARD = '''def lstm_forward(x, h0, Wx, Wh, b):
    h, c = h0, np.zeros_like(h0)
    hs, steps = [], []
    for t in range(x.shape[1]):
        h, c, step = lstm_step_forward(x[:, t], h, c, Wx, Wh, b)
        hs.append(h)
        steps.append(step)
    return np.stack(hs, axis=1), {"steps": steps, "D": x.shape[2]}
'''
_DICT_BACKWARD = '''def lstm_backward(dh, cache):
    N, T, H = dh.shape
    dx = np.empty((N, T, cache["D"]))
    dh_next, dc_next = np.zeros((N, H)), np.zeros((N, H))
    weight_grads = None
    for t in reversed(range(T)):
        dx[:, t], dh_next, dc_next, *dW = lstm_step_backward(dh[:, t] + dh_next, dc_next, cache["steps"][t])
        weight_grads = dW if weight_grads is None else [acc + d for acc, d in zip(weight_grads, dW)]
    return (dx, dh_next, *weight_grads)
'''

STEP_BACKWARD_RIGHT.update({
    "own_cache_tuple_with_next_c": {"lstm.lstm_step_forward": _TUPLE_STEP_FORWARD,
                                    "lstm.lstm_step_backward": _TUPLE_STEP_BACKWARD},
    "own_cache_dict_of_preactivation": {"lstm.lstm_step_forward": _DICT_STEP_FORWARD,
                                        "lstm.lstm_step_backward": _DICT_STEP_BACKWARD},
})

BACKWARD_RIGHT.update({
    "own_cache_tuple_reads_D": {"lstm.lstm_step_forward": _TUPLE_STEP_FORWARD,
                                "lstm.lstm_step_backward": _TUPLE_STEP_BACKWARD,
                                "lstm.lstm_backward": _TUPLE_BACKWARD},
    "own_cache_dicts": {"lstm.lstm_step_forward": _DICT_STEP_FORWARD,
                        "lstm.lstm_step_backward": _DICT_STEP_BACKWARD,
                        "lstm.lstm_forward": _DICT_FORWARD,
                        "lstm.lstm_backward": _DICT_BACKWARD},
})

WRONG = {
    "lstm.lstm_step_forward": STEP_FORWARD_WRONG,
    "lstm.lstm_step_backward": STEP_BACKWARD_WRONG,
    "lstm.lstm_forward": FORWARD_WRONG,
    "lstm.lstm_backward": BACKWARD_WRONG,
}

RIGHT = {
    "lstm.lstm_step_forward": STEP_FORWARD_RIGHT,
    "lstm.lstm_step_backward": STEP_BACKWARD_RIGHT,
    "lstm.lstm_forward": FORWARD_RIGHT,
    "lstm.lstm_backward": BACKWARD_RIGHT,
}
