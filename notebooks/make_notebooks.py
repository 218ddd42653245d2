"""Write the notebooks (notebooks/0*.ipynb) from the cell texts below: the four seed
notebooks 000-003, and 004, the character-level LSTM next to the vanilla RNN.

    python notebooks/make_notebooks.py            # (re)write the notebooks, without outputs
    python notebooks/make_notebooks.py --check    # exit 1 if a committed notebook differs

The notebooks are committed without outputs or execution counts and with fixed cell
ids, so regenerating them gives byte-identical files and a review reads this script.
tests/test_notebooks.py checks both, and runs every notebook on both engines.

Each notebook's first code cell is tagged "parameters" (papermill-style) and holds
ENGINE = "c" ("numpy" selects tinynet's NumPy reference engine) and, for 003, STEPS;
for 004, STEPS and HIDDEN.
The last cell prints one line: RESULT {json}.
"""
import pathlib
import sys
import textwrap

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = pathlib.Path(__file__).resolve().parent


def md(text):
    return ("markdown", text)


def code(text, tags=None):
    return ("code", text, tags)


def parameters(*more):
    """Each notebook's parameters cell (tagged for papermill-style runners): ENGINE, then
    any further parameter lines."""
    lines = ['ENGINE = "c"  # "c": tinynet\'s C engine; "numpy": the NumPy reference engine (same API, same numbers)',
             *more]
    return code("\n" + "\n".join(lines) + "\n", tags=["parameters"])


# ------------------------------------------------------------------------------------ 000

NB000 = [
    md(r"""
# Seed 000 — a "hello" RNN with fixed weights, on tinynet

**The original:** `class9_rnn.ipynb` in zhou1126/Marquette_teaching_finance, a class
notebook that trains a tiny character RNN on "hello" and prints every intermediate value
so that the class can follow the arithmetic by hand.

* Vocabulary `h`=0, `e`=1, `l`=2, `o`=3. The network reads `h, e, l, l` and should
  predict `e, l, l, o`.
* Hidden size 4. The weights were once drawn with `np.random.randn(...) * 0.1` and then
  **pasted in as constants**, so every run prints the same numbers; the biases are zero.
* The gradient is **per step**: at each step `dh = W_hyᵀ dy`, with nothing carried back
  from later steps (this is *not* backpropagation through time). The four steps'
  gradients are added up and applied once per epoch by SGD, learning rate 0.1, 2 epochs.
* The printed loss adds `1e-8` inside the log, `-log(p[target] + 1e-8)`, summed over the
  4 steps: 5.527646895941318 in epoch 0 and 5.307358547512624 in epoch 1.

This notebook does the same computation through tinynet. The next cell holds the
parameters: `ENGINE = "c"` runs tinynet's C engine, `ENGINE = "numpy"` its NumPy
reference engine — the same functions, the same numbers.
"""),
    parameters(),
    code(r'''
import json

import numpy as np

import tinynet

tn = tinynet.engine(ENGINE)  # the one line that picks the engine
print(f"engine: {ENGINE} ({tn.__name__})")
'''),
    md(r"""
## The data

The seed one-hot encodes each character as a column vector. tinynet's RNN functions take
the **token ids** instead: the one-hot input is implied (`W_xh @ one_hot(i)` is column `i`
of `W_xh`). `np.eye(4)[X]` below is the seed's one-hot matrix.
"""),
    code(r'''
char_to_idx = {'h': 0, 'e': 1, 'l': 2, 'o': 3}
idx_to_char = {i: c for c, i in char_to_idx.items()}

inputs = ['h', 'e', 'l', 'l']
targets = ['e', 'l', 'l', 'o']
X = np.array([char_to_idx[ch] for ch in inputs])   # the inputs' token ids
Y = np.array([char_to_idx[ch] for ch in targets])  # the targets' token ids

input_size = hidden_size = output_size = 4
learning_rate = 0.1

print("X, one-hot as the seed shows it:")
print(np.eye(input_size)[X])
print("Y:", Y)
'''),
    md(r"""
## The seed's weights

Exactly the numbers pasted into the seed. The layout is the seed's (and PyTorch's):
`W_xh` is (hidden, input), so that `h = tanh(W_xh x + W_hh h_prev + b_h)`. The biases are
vectors of shape (4,) here rather than the seed's (4, 1) columns.
"""),
    code(r'''
# W_xh = np.random.randn(hidden_size, input_size) * 0.1   # how the seed once drew them
W_xh = np.array([[ 0.13309074,  0.17127598, -0.15813858, -0.04525709],
                 [-0.09057376, -0.14782509,  0.06502781,  0.14093142],
                 [ 0.04669049,  0.01720516,  0.03336642,  0.1781491 ],
                 [-0.07548864, -0.02664684,  0.11772184, -0.07503803]])

W_hh = np.array([[ 0.07809908, -0.13063158,  0.05358797,  0.05681267],
                 [ 0.01768576,  0.15217173,  0.23846673,  0.09969253],
                 [ 0.09635959,  0.06631399, -0.17052794,  0.00988055],
                 [ 0.01199125, -0.01561548,  0.10577997,  0.10847363]])

W_hy = np.array([[ 0.0247689 , -0.11553708,  0.21316413,  0.08569605],
                 [-0.05522459, -0.0882109 ,  0.00430406, -0.00389115],
                 [ 0.17101969, -0.2330526 , -0.04581541,  0.06289344],
                 [ 0.07365608,  0.006953  ,  0.08645168,  0.14256647]])

b_h = np.zeros(hidden_size)
b_y = np.zeros(output_size)

params = {"W_xh": W_xh, "W_hh": W_hh, "b_h": b_h, "W_hy": W_hy, "b_y": b_y}
initial = {name: p.copy() for name, p in params.items()}  # kept for a check further down
'''),
    md(r"""
## Training: the forward pass step by step, the backward pass per step

Every step prints what the seed prints: the pre-activation
`mid_h = W_xh x + W_hh h_prev + b_h`, the hidden state `h = tanh(mid_h)`, the logits
`W_hy h + b_y` and their softmax `y_pred`.

The backward pass is three tinynet calls for the whole sequence:

* `tn.cross_entropy_backward(probs, Y, reduction="sum")` is the seed's
  `dy = y_pred; dy[target] -= 1`, for every step at once;
* `tn.linear_backward(dy, hs, W_hy)` returns each step's `dh = W_hyᵀ dy`, and `dW_hy`,
  `db_y` summed over the steps;
* `tn.rnn_backward(dh, X, None, hs, W_xh, W_hh, bptt_steps=1)` takes each step's `dh`
  through its tanh into `dW_xh`, `dW_hh`, `db_h` **without** carrying it to earlier
  steps: `bptt_steps=1` is exactly the seed's per-step gradient.

The update is `tn.sgd_step_(param, grad, learning_rate)`: `param -= learning_rate * grad`
in place.
"""),
    code(r'''
epoch_losses, trace = [], []
for epoch in range(2):
    h_prev = np.zeros(hidden_size)
    loss = 0.0
    hs, logits, probs = [], [], []
    for t in range(len(X)):
        x = np.eye(input_size)[X[t]]  # the seed's one-hot input
        mid_h = tn.linear_forward(x, W_xh) + tn.linear_forward(h_prev, W_hh, b_h)
        h = tn.tanh_forward(mid_h)
        y_logits = tn.linear_forward(h, W_hy, b_y)
        y_pred = tn.softmax(y_logits)
        print(f"epoch {epoch}, step {t}: {inputs[t]!r} -> {targets[t]!r}")
        print("  mid_h ", mid_h)
        print("  h     ", h)
        print("  logits", y_logits)
        print("  y_pred", y_pred)
        loss += -np.log(y_pred[Y[t]] + 1e-8)  # the seed's loss, 1e-8 and all
        hs.append(h)
        logits.append(y_logits)
        probs.append(y_pred)
        h_prev = h  # move to the next time step
    hs, logits, probs = np.array(hs), np.array(logits), np.array(probs)

    # backward: each step's own gradient (no carry through time), summed over the steps
    dy = tn.cross_entropy_backward(probs, Y, reduction="sum")
    dh, dW_hy, db_y = tn.linear_backward(dy, hs, W_hy)
    _, _, dW_xh, dW_hh, db_h = tn.rnn_backward(dh, X, None, hs, W_xh, W_hh, bptt_steps=1)
    grads = {"W_xh": dW_xh, "W_hh": dW_hh, "b_h": db_h, "W_hy": dW_hy, "b_y": db_y}
    if epoch == 0:
        first_grads = grads

    for name, p in params.items():  # update the weights
        tn.sgd_step_(p, grads[name], learning_rate)

    epoch_losses.append(float(loss))
    trace.append({"h": hs, "logits": logits, "probs": probs})
    print(f"Epoch {epoch}, Loss: {loss:.4f}")
    print()
'''),
    md(r"""
The seed's last cell shows `np.exp(y_logits)` of the last step of epoch 1:
"""),
    code(r'''
np.exp(y_logits)
'''),
    md(r"""
## The same epoch in one call

`tn.rnn_lm_loss` is min-char-rnn's `lossFun`: the forward pass, the loss and every
gradient in one call. With `bptt_steps=1` and the initial weights it gives epoch 0's
gradients. Its loss is the exact cross-entropy, without the seed's `+ 1e-8`, so it
differs from the printed one in the 8th digit.
"""),
    code(r'''
loss_fused, grads_fused, _ = tn.rnn_lm_loss(X, Y, None, **initial, bptt_steps=1)
for name, g in grads_fused.items():
    print(f"d{name:5s} max |fused - step by step| = {np.max(np.abs(g - first_grads[name])):.1e}")
print(f"exact loss {loss_fused:.12f}, the seed's formula {epoch_losses[0]:.12f}")
'''),
    md(r"""
## What changed from the seed, and why

* **Updates:** the seed updates with `exec(f"{param} -= learning_rate * grads[param]")`,
  which works only because NumPy's `-=` modifies the arrays in place. Here
  `tn.sgd_step_` does the same in-place update explicitly.
* **Aliasing:** the seed's `dy = y_pred; dy[target] -= 1` also changes `y_pred`.
  tinynet's backward functions return fresh arrays and never modify their inputs.
* **Printing:** the seed prints the loss only when `epoch % 100 == 0`, i.e. for epoch 0
  alone; both epochs are printed here. Column vectors became 1-D arrays, and the
  `components` and `next h` prints were left out (`next h` is `h`).
* **Loss:** kept as the seed computes it, `+ 1e-8` inside the log, so that the printed
  numbers are the seed's (tinynet's own loss is the exact one, above).
"""),
    code(r'''
result = {
    "engine": ENGINE,
    "epoch_losses": epoch_losses,
    "h_first": trace[0]["h"][0].tolist(),
    "logits_first": trace[0]["logits"][0].tolist(),
    "y_pred_first": trace[0]["probs"][0].tolist(),
    "y_pred_last": trace[1]["probs"][-1].tolist(),
    "exp_logits_last": np.exp(trace[1]["logits"][-1]).tolist(),
    "fused_loss": loss_fused,
}
print("RESULT " + json.dumps(result))
'''),
]

# ------------------------------------------------------------------------------------ 001

NB001 = [
    md(r"""
# Seed 001 — a "hello" RNN trained with backpropagation through time, on tinynet

**The original:** a blog post, "simple RNN" on ai-codemath.com (no repository). It builds
a vanilla RNN in NumPy that learns to spell "hello": one-hot characters, a tanh hidden
state of size 3, a softmax output, backpropagation through time (BPTT) written out by
hand, 1000 epochs of SGD with learning rate 0.01, and a greedy autoregressive
`predict('h')` that should print `hello`.

Two details matter for reproducing it: the loss it **prints** is the mean over the 4
steps, but the gradients it **applies** are those of the sum; and its weights come from
`np.random.randn(...) * 0.1`, unseeded (299 of 300 random initialisations learn "hello";
here `np.random.seed(0)` fixes one that does).

The next cell holds the parameters: `ENGINE = "c"` runs tinynet's C engine,
`ENGINE = "numpy"` its NumPy reference engine.
"""),
    parameters(),
    code(r'''
import json
import time

import matplotlib.pyplot as plt
import numpy as np

import tinynet

%matplotlib inline

tn = tinynet.engine(ENGINE)  # the one line that picks the engine
print(f"engine: {ENGINE} ({tn.__name__})")
'''),
    md(r"""
## Characters and one-hot vectors

The text is the single word "hello"; its sorted characters give the vocabulary.
(In the blog this was the cell that failed with `NameError: name 'np' is not defined`:
it ran before the cell importing NumPy. The import is at the top now.)
"""),
    code(r'''
text = "hello"
chars = sorted(set(text))
print(chars)
char_to_idx = {ch: i for i, ch in enumerate(chars)}
idx_to_char = {i: ch for i, ch in enumerate(chars)}
print("char_to_idx:", char_to_idx)
print("idx_to_char:", idx_to_char)


def one_hot_encode(char, char_to_idx):
    one_hot = np.zeros(len(char_to_idx))
    one_hot[char_to_idx[char]] = 1
    return one_hot


char = 'h'
one_hot_vector = one_hot_encode(char, char_to_idx)
print(f"One-hot encoding for '{char}': {one_hot_vector}")
'''),
    md(r"""
## The hidden state

$h_t = \tanh(W_{xh} x_t + W_{hh} h_{t-1} + b_h)$ — the blog runs it over "hello" with
random weights to show that the same character `l` gives a different hidden state at
different time steps: the state remembers what came before. `tn.rnn_forward` computes
every $h_t$ of a sequence in one call (given token ids, the one-hot inputs are implied).
The blog's weights were `np.random.rand(...)`, unseeded; they are seeded here so that the
printout is the same on every run.
"""),
    code(r'''
demo = np.random.RandomState(1)
W_xh_demo = demo.rand(3, len(chars))  # input to hidden weights
W_hh_demo = demo.rand(3, 3)           # hidden to hidden weights
b_h_demo = demo.rand(3)               # hidden bias
hs_demo = tn.rnn_forward([char_to_idx[c] for c in text], None, W_xh_demo, W_hh_demo, b_h_demo)
for char, h in zip(text, hs_demo):
    print(f"'{char}' h = {np.round(h, 4)}")
'''),
    md(r"""
## Training data

The inputs are the first four characters, the targets the next character of each:
X = `hell`, Y = `ello`. tinynet takes the token ids; the one-hot vectors are printed as the
blog prints them.
"""),
    code(r'''
input_chars = text[:-1]
target_chars = text[1:]
print("input_chars:", input_chars)
print("target_chars:", target_chars)

inputs = [char_to_idx[c] for c in input_chars]    # token ids: one-hot implied
targets = [char_to_idx[c] for c in target_chars]
print("input_vectors:")
for c in input_chars:
    print(f"'{c}': {one_hot_encode(c, char_to_idx)}")
print("target_vectors:")
for c, t in zip(target_chars, targets):
    print(f"'{c}': {t}")
'''),
    md(r"""
## Forward pass and loss

The weights are `randn * 0.1`, the biases zero. `forward_pass` runs the RNN over the
sequence (`tn.rnn_forward`), the output layer over every hidden state
(`tn.linear_forward`), and the softmax cross-entropy (`tn.cross_entropy_forward`, stable:
it subtracts the maximum, as the blog does). The blog divides the summed loss by the
number of steps before printing it: that is `reduction="mean"`.
"""),
    code(r'''
hidden_size = 3
input_size = len(chars)    # length of the one-hot vector
output_size = len(chars)   # number of unique characters

np.random.seed(0)  # the blog does not seed; seed 0 is one of the many inits that learn "hello"
W_xh = np.random.randn(hidden_size, input_size) * 0.1
W_hh = np.random.randn(hidden_size, hidden_size) * 0.1
b_h = np.zeros(hidden_size)
W_hy = np.random.randn(output_size, hidden_size) * 0.1
b_y = np.zeros(output_size)
print("W_xh:", W_xh.shape, " W_hh:", W_hh.shape, " W_hy:", W_hy.shape)


def forward_pass(inputs, targets):
    hs = tn.rnn_forward(inputs, None, W_xh, W_hh, b_h)             # (T, H): h_1 .. h_T, from h_0 = 0
    logits = tn.linear_forward(hs, W_hy, b_y)                      # (T, V): y_t = W_hy h_t + b_y
    total_loss, probs = tn.cross_entropy_forward(logits, targets)  # mean over the T steps, as printed
    return total_loss, hs, probs
'''),
    md(r"""
## Backpropagation through time

The blog's `backward_pass` walks back from the last step, adding each step's output error
`W_hyᵀ dy_t` to the error arriving from the future, `dh_next = W_hhᵀ dtanh_{t+1}`. In
tinynet that is:

* `tn.cross_entropy_backward(probs, targets, reduction="sum")`: `dy_t = p_t - onehot(target_t)`
  for every step — the gradient of the **sum**, as in the blog (not divided by 4);
* `tn.linear_backward(dy, hs, W_hy)`: `W_hyᵀ dy_t` for every step, and `dW_hy`, `db_y`;
* `tn.rnn_backward(dhs, inputs, None, hs, W_xh, W_hh)`: the loop through time, with
  `bptt_steps=None` (full BPTT): `dW_xh`, `dW_hh`, `db_h`.
"""),
    code(r'''
def backward_pass(inputs, targets, hs, probs):
    dy = tn.cross_entropy_backward(probs, targets, reduction="sum")  # output error of every step
    dhs, dW_hy, db_y = tn.linear_backward(dy, hs, W_hy)              # W_hy.T @ dy_t, and dW_hy, db_y
    _, _, dW_xh, dW_hh, db_h = tn.rnn_backward(dhs, inputs, None, hs, W_xh, W_hh)  # through time
    return dW_xh, dW_hh, db_h, dW_hy, db_y
'''),
    md(r"""
## Training

1000 epochs, learning rate 0.01; the loss is printed every 10 epochs as in the blog.
`tn.sgd_step_(W, dW, lr)` is the blog's `W -= lr * dW` (in place).
"""),
    code(r'''
lr = 0.01
losses = []
t0 = time.perf_counter()
for epoch in range(1000):
    total_loss, hs, probs = forward_pass(inputs, targets)
    dW_xh, dW_hh, db_h, dW_hy, db_y = backward_pass(inputs, targets, hs, probs)
    for W, dW in [(W_xh, dW_xh), (W_hh, dW_hh), (W_hy, dW_hy), (b_h, db_h), (b_y, db_y)]:
        tn.sgd_step_(W, dW, lr)  # W -= lr * dW
    losses.append(total_loss)
    if epoch % 10 == 0:
        print(f"Epoch {epoch}, Loss: {total_loss:.4f}")
seconds = time.perf_counter() - t0
print(f"1000 epochs in {seconds * 1e3:.1f} ms on the {ENGINE} engine")
'''),
    code(r'''
plt.figure(figsize=(6, 3.5))
plt.plot(losses)
plt.yscale("log")
plt.xlabel("epoch")
plt.ylabel("mean loss per step")
plt.title(f'"hello" RNN, full BPTT ({ENGINE} engine)')
plt.show()
'''),
    md(r"""
## The same thing in one call

`tn.rnn_lm_loss` (min-char-rnn's `lossFun`) does `forward_pass` and `backward_pass` in one
call. With the default `reduction="sum"` it returns the summed loss (the printed loss is
that divided by 4) and the gradients of the sum — the blog's.
"""),
    code(r'''
loss_sum, grads, h_last = tn.rnn_lm_loss(inputs, targets, None, W_xh, W_hh, b_h, W_hy, b_y)
total_loss, hs, probs = forward_pass(inputs, targets)
print(f"rnn_lm_loss / 4 = {loss_sum / len(inputs):.12f}   forward_pass = {total_loss:.12f}")
for name, g in zip(["W_xh", "W_hh", "b_h", "W_hy", "b_y"], backward_pass(inputs, targets, hs, probs)):
    print(f"d{name:5s} max |difference| = {np.max(np.abs(grads[name] - g)):.1e}")
'''),
    md(r"""
## Prediction

The blog's `predict` starts from `h = 0` and the seed character, takes the most likely
next character (argmax), feeds it back as the next input, and repeats: greedy
autoregressive generation. `tn.rnn_sample(..., greedy=True)` is that loop.
"""),
    code(r'''
def predict(seed_char, n_chars=4):
    tokens = tn.rnn_sample(None, char_to_idx[seed_char], n_chars, W_xh, W_hh, b_h, W_hy, b_y, greedy=True)
    return seed_char + "".join(idx_to_char[int(i)] for i in tokens)


prediction = predict('h')
print(prediction)  # should output: hello
'''),
    md(r"""
## What changed from the blog, and why

* **The import** comes first; in the blog the one-hot cell ran before it (`NameError`).
* **Seeds:** `np.random.seed(0)` before the weights, and a seeded generator for the
  hidden-state demo (the blog's `np.random.rand` cannot be reproduced).
* **The computation** is tinynet's: `forward_pass` / `backward_pass` keep the blog's names
  and its conventions (printed loss = mean, gradients = those of the sum, full BPTT).
"""),
    code(r'''
result = {
    "engine": ENGINE,
    "prediction": prediction,
    "final_loss": losses[-1],
    "loss_epoch0": losses[0],
    "loss_epoch990": losses[990],
    "seconds": seconds,
}
print("RESULT " + json.dumps(result))
'''),
]

# ------------------------------------------------------------------------------------ 002

NB002 = [
    md(r"""
# Seed 002 — an MLP from scratch: the letter classifier, on tinynet

**The original:** `tutorials/01-mlp-from-scratch/` in NathanMaine/smallest-ai-tutorial: a
lesson in seven chapters (math, a neuron, the forward pass, losses, backpropagation with
a gradient check, the training loop) that ends in chapter 7's letter classifier, all in
pure Python lists.

Chapter 7: each letter a..z is a 26-dimensional one-hot vector, and a
`BackpropNetwork([26, 64, 26])` — a ReLU hidden layer and a **sigmoid output layer
followed by a softmax** — learns to give each letter back. Xavier-uniform weights drawn
with Python's `random` (seeded 42 for the first layer, 43 for the second), zero biases,
per-example SGD with learning rate 0.05, 500 epochs, examples in a..z order. The seed's
code gets loss 2.338166 at epoch 500, 26/26 letters right — and a confidence of only
about 9.65% per letter, which this notebook explains.

The next cell holds the parameters: `ENGINE = "c"` runs tinynet's C engine,
`ENGINE = "numpy"` its NumPy reference engine.
"""),
    parameters(),
    code(r'''
import json
import math
import time

import matplotlib.pyplot as plt
import numpy as np
from tqdm.auto import tqdm

import tinynet
from tinynet import nn, seeds

%matplotlib inline

tn = tinynet.engine(ENGINE)  # the one line that picks the engine
print(f"engine: {ENGINE} ({tn.__name__})")
'''),
    md(r"""
## Chapters 1–2: a neuron

A neuron is a weighted sum and an activation: `z = dot(weights, inputs) + bias`,
`a = activation(z)`. A layer of neurons is a matrix of weights, one row per neuron:
`tn.linear_forward(x, W, b)` computes `W @ x + b`; the activations are
`tn.sigmoid_forward` and `tn.relu_forward`.
"""),
    code(r'''
weights = [0.5, -0.3, 0.8]
inputs = [1.0, 2.0, 3.0]
z = tn.linear_forward(inputs, [weights], [0.1])  # one neuron = a layer with one row
print("z =", z, " sigmoid(z) =", tn.sigmoid_forward(z), " relu(z) =", tn.relu_forward(z))
'''),
    md(r"""
## Chapter 3: the network and its initial weights

`BackpropNetwork([26, 64, 26])` is four tinynet layers: `Linear(26, 64)`, `ReLU`,
`Linear(64, 26)`, `Sigmoid`. Xavier initialisation draws each weight uniformly from
$[-\sqrt{6/(\text{fan\_in}+\text{fan\_out})}, +\sqrt{6/(\text{fan\_in}+\text{fan\_out})}]$.
`seeds.xavier_uniform_python` draws exactly the seed's numbers: `random.seed(42)` (first
layer) or `random.seed(43)` (second layer), then `random.uniform(-limit, limit)` row by
row. The biases start at zero.
"""),
    code(r'''
def build_model():
    model = nn.Sequential([
        nn.Linear(26, 64, engine=ENGINE, init="xavier_uniform", rng=0),  # zero biases; the weights
        nn.ReLU(engine=ENGINE),                                          # are replaced just below
        nn.Linear(64, 26, engine=ENGINE, init="xavier_uniform", rng=0),
        nn.Sigmoid(engine=ENGINE),
    ])
    model[0].weight[...] = seeds.xavier_uniform_python(42, 26, 64)  # the seed's numbers
    model[2].weight[...] = seeds.xavier_uniform_python(43, 64, 26)
    return model


model = build_model()
n_params = sum(p.size for p in model.parameters())
print(model)
print(f"{n_params} parameters")  # 26*64 + 64 + 64*26 + 26
'''),
    md(r"""
## Chapter 4: the loss

The output layer's sigmoid gives 26 numbers $a_j \in (0, 1)$; the seed then takes the
softmax of these and the cross-entropy with the target letter. In tinynet the sigmoid
outputs are the "logits" of `tn.cross_entropy_forward`. For a single example,
`reduction="sum"` and `"mean"` are the same.
"""),
    code(r'''
eye = np.eye(26)  # the 26 one-hot letters
letters = "abcdefghijklmnopqrstuvwxyz"
a = model(eye[0:1])  # the letter 'a'
loss, probs = tn.cross_entropy_forward(a, [0], reduction="sum")
print(f"loss for 'a' before training: {loss:.6f} (ln 26 = {math.log(26):.6f})")
'''),
    md(r"""
## Chapter 5: backpropagation, and checking it

The output gradient is `softmax(a) - target` (`tn.cross_entropy_backward`), then through
the sigmoid's derivative `a (1 - a)` and back through the layers: `model.backward`.
Chapter 5 checks the analytic gradients against central differences,
`(loss(w + eps) - loss(w - eps)) / (2 eps)`, with eps = 1e-5 and a tolerance of 1e-4
in its code. `tinynet.gradcheck` does that for every one of the 3,418 parameters and
reports each tensor's largest error relative to the size of its gradient.
"""),
    code(r'''
check = build_model()
target = [2]  # the letter 'c'


def loss_and_grads(W1, b1, W2, b2):
    for p, value in zip(check.parameters(), (W1, b1, W2, b2)):
        p[...] = value
    loss, probs = tn.cross_entropy_forward(check(eye[2:3]), target, reduction="sum")
    check.backward(tn.cross_entropy_backward(probs, target, reduction="sum"))
    return loss, dict(zip(["W1", "b1", "W2", "b2"], check.grads()))


start = dict(zip(["W1", "b1", "W2", "b2"], (p.copy() for p in check.parameters())))
errors = tinynet.gradcheck(loss_and_grads, start, eps=1e-5)
for name, err in errors.items():
    print(f"{name}: relative error {err:.1e}  {'ok' if err < 1e-4 else 'FAILED'} (tolerance 1e-4)")
'''),
    md(r"""
## Chapters 6–7: training the letter classifier

Per-example SGD: for each letter in a..z order, forward, loss, backward, and an update of
every parameter (`tn.sgd_step_`). The epoch's loss is the mean of the 26 losses, each
computed before its own update (the seed's `train_epoch`).
"""),
    code(r'''
def train_epoch(model, lr=0.05):
    params = model.parameters()
    total = 0.0
    for i in range(26):
        target = np.array([i])
        a = model(eye[i:i + 1])                                              # (1, 26) sigmoid outputs
        loss, probs = tn.cross_entropy_forward(a, target, reduction="sum")  # softmax, then -log p[target]
        total += loss
        model.backward(tn.cross_entropy_backward(probs, target, reduction="sum"))  # softmax(a) - target ...
        for p, g in zip(params, model.grads()):
            tn.sgd_step_(p, g, lr)                                           # p -= lr * g
    return total / 26


EPOCHS = 500
losses = {}
t0 = time.perf_counter()
for epoch in tqdm(range(1, EPOCHS + 1), desc="epochs"):
    losses[epoch] = train_epoch(model)
    if epoch == 1 or epoch % 100 == 0:
        print(f"Epoch {epoch:3d}: loss = {losses[epoch]:.6f}")
seconds = time.perf_counter() - t0
print(f"{EPOCHS} epochs in {seconds:.2f} s on the {ENGINE} engine")
'''),
    code(r'''
plt.figure(figsize=(6, 3.5))
plt.plot(list(losses), list(losses.values()), label="epoch loss")
plt.axhline(-math.log(math.e / (math.e + 25)), color="gray", linestyle="--", label="the lowest possible loss")
plt.xlabel("epoch")
plt.ylabel("mean loss")
plt.legend()
plt.title(f"letter classifier ({ENGINE} engine)")
plt.show()
'''),
    md(r"""
## Results
"""),
    code(r'''
probs = tn.softmax(model(eye))  # (26, 26): softmax over the sigmoid outputs
predicted = probs.argmax(axis=1)
correct = int(np.sum(predicted == np.arange(26)))
confidence = probs[np.arange(26), predicted]
print("  ".join(f"{letters[i]}->{letters[j]} {c:.2%}" for i, (j, c) in enumerate(zip(predicted, confidence))))
print(f"accuracy: {correct}/26, final loss {losses[EPOCHS]:.6f}, mean confidence {confidence.mean():.2%}")
'''),
    md(r"""
## Why every letter is right but only 9.7% sure

The lesson promises "95%+ accuracy" — and gets 100% accuracy: every letter's largest
output is the right one. But the network is only ≈9.65% *confident* in each answer, and
the loss stops near 2.34 instead of going to 0. That is not a training problem: it is
the architecture. The softmax is taken over the **sigmoid outputs**, which lie in
(0, 1). The most a softmax over 26 such numbers can give one of them is when that one is
(nearly) 1 and the other 25 are (nearly) 0:

$$p_{\max} = \frac{e^1}{e^1 + 25\,e^0} = \frac{e}{e + 25} \approx 9.81\%, \qquad
\text{loss} \ge -\ln\frac{e}{e+25} \approx 2.3221.$$

The usual design applies the softmax to the last layer's *unbounded* outputs: without
the sigmoid the same network, from the same weights, becomes confident within a few
epochs (below: 100 epochs).
"""),
    code(r'''
ceiling = math.e / (math.e + 25)
print(f"ceiling e/(e+25) = {ceiling:.4%}; lowest possible loss = {-math.log(ceiling):.4f}")
print(f"this run: mean confidence {confidence.mean():.4%}, loss {losses[EPOCHS]:.6f}")

no_sigmoid = build_model()[:3]  # Linear, ReLU, Linear: the same weights, no output sigmoid
for epoch in tqdm(range(100), desc="no sigmoid"):
    loss_no_sigmoid = train_epoch(no_sigmoid)
probs_ns = tn.softmax(no_sigmoid(eye))
confidence_ns = probs_ns[np.arange(26), probs_ns.argmax(axis=1)]
print(f"without the sigmoid, after 100 epochs: loss {loss_no_sigmoid:.6f}, "
      f"mean confidence {confidence_ns.mean():.2%}")
'''),
    md(r"""
## What changed from the seed

Nothing in the numbers: the initial weights, the order of the examples and the updates
are the seed's, and so are its losses at epochs 1, 100, …, 500 (3.260734 … 2.338166, to
the 6 decimals it prints). The pure-Python list arithmetic became tinynet calls (through
`tinynet.nn` layers), and chapter 5's gradient check became `tinynet.gradcheck`.
"""),
    code(r'''
result = {
    "engine": ENGINE,
    "accuracy": correct / 26,
    "correct": correct,
    "final_loss": losses[EPOCHS],
    "parameters": n_params,
    "epoch_losses": {str(e): losses[e] for e in (1, 100, 200, 300, 400, 500)},
    "confidence_mean": float(confidence.mean()),
    "confidence_ceiling": ceiling,
    "gradcheck_max_error": max(errors.values()),
    "no_sigmoid_loss": loss_no_sigmoid,
    "no_sigmoid_confidence_mean": float(confidence_ns.mean()),
    "seconds": seconds,
}
print("RESULT " + json.dumps(result))
'''),
]

# ------------------------------------------------------------------------------------ 003

NB003 = [
    md(r"""
# Seed 003 — makemore's MLP with manual backprop, on tinynet

**The original:** `mlp_backprop.ipynb` in samitha278/multilayer-perceptron-char-lm,
after Andrej Karpathy's *makemore part 4: becoming a backprop ninja*
(karpathy/nn-zero-to-hero). It reads the 32,033 names of `names.txt`, builds a
character-level MLP language model (3 characters of context → embedding → hidden layer
with BatchNorm → tanh → 27 logits), runs one forward pass broken into atomic steps, and
backpropagates through every step **by hand**, comparing each gradient with PyTorch's
autograd (`cmp(...)`: exact / approximate / maxdiff). It never trains the model.

Here tinynet's layer functions do the forward and the backward pass; the same comparison
table checks them against an independent computation (PyTorch autograd in float64 when
PyTorch is installed, else tinynet's other engine); and then the model is trained as
makemore trains it — 200,000 steps of batch 32, learning rate 0.1 then 0.01 — evaluated
on the train and dev splits, and sampled.

**What changed from the seed, and why**

* **The data:** the seed's `!wget https://github.com/.../blob/main/data/names.txt` saves
  GitHub's HTML page, not the names. `tinynet.data.load_names()` reads `names.txt` from
  `$TINYNET_DATA`, the cache, or downloads the *raw* file once, and checks it is names.
* **BatchNorm parameters:** the seed draws `bngain`, `bnbias` from torch's *unseeded*
  global generator, so its printed first loss (3.4314) cannot be reproduced. Here
  `bngain = 1`, `bnbias = 0` (their usual initialisation); the other parameters come from
  `torch.Generator().manual_seed(2147483647)` as in the seed (first-batch loss 3.439766),
  or from a NumPy generator when PyTorch is not installed.
* **Order:** the seed's cells ran out of order; this notebook runs top to bottom.
* **Precision:** the comparison is in float64 (the seed's was float32).
* **Training, evaluation and sampling** are added, following makemore.

The next cell holds the parameters: `ENGINE` (`"c"` or `"numpy"`) and `STEPS`, the number
of training steps (makemore: 200,000; the learning rate drops at `STEPS // 2`).
"""),
    parameters("STEPS = 200_000  # training steps (makemore: 200,000); the learning rate drops from 0.1 to 0.01 at STEPS // 2"),
    code(r'''
import json
import time

import matplotlib.pyplot as plt
import numpy as np
from tqdm.auto import tqdm

import tinynet
from tinynet import data, seeds

try:
    import torch  # optional: the seed's initial weights, and autograd for the comparison
except ImportError:
    torch = None

%matplotlib inline

tn = tinynet.engine(ENGINE)  # the one line that picks the engine
print(f"engine: {ENGINE} ({tn.__name__}); PyTorch: {torch.__version__ if torch else 'not installed'}")
'''),
    md(r"""
## The names
"""),
    code(r'''
words = data.load_names()
print(len(words))
print(max(len(w) for w in words))
print(words[:8])

stoi, itos = data.build_vocab(words)  # '.' = 0, a..z = 1..26
vocab_size = len(itos)
print(itos)
print(vocab_size)
'''),
    md(r"""
### Build the dataset

`data.split_words(words, 278)` shuffles as the seed does (`random.seed(278);
random.shuffle(words)`) and cuts 80% / 10% / 10%; `data.build_dataset` makes every
(3 previous characters → next character) example.
"""),
    code(r'''
block_size = 3  # context length: how many characters we take to predict the next one

train_words, dev_words, test_words = data.split_words(words, 278)
Xtr, Ytr = data.build_dataset(train_words, block_size)     # 80%
Xdev, Ydev = data.build_dataset(dev_words, block_size)     # 10%
Xte, Yte = data.build_dataset(test_words, block_size)      # 10%
for X, Y in [(Xtr, Ytr), (Xdev, Ydev), (Xte, Yte)]:
    print(X.shape, Y.shape)
'''),
    md(r"""
### The MLP's parameters

`seeds.makemore_init` draws them as the seed does: from
`g = torch.Generator().manual_seed(2147483647)`, in the order C, W1, b1, W2, b2 with the
seed's scales, and the minibatch indices later from the same `g` (without PyTorch, from
`np.random.default_rng(2147483647)`). The values are converted to float64, and the
weights are stored as tinynet (and `torch.nn.Linear`) store them, (out, in): tinynet's
`W1` is the seed's `W1.T`, so `embcat @ W1` becomes `tn.linear_forward(embcat, W1, b1)`.
`b1` is useless before BatchNorm (BatchNorm subtracts the mean), as the seed notes; it is
kept so that the parameter count is the seed's.
"""),
    code(r'''
n_embd = 10      # the dimensionality of the character embedding vectors
n_hidden = 64    # the number of neurons in the hidden layer of the MLP
batch_size = 32

P, randint, source = seeds.makemore_init(vocab_size, block_size, n_embd, n_hidden)
n_params = sum(p.size for p in P.values())
print(f"initial weights from the {source} generator")
print({name: p.shape for name, p in P.items()})
print(n_params)
'''),
    md(r"""
## Forward pass

The seed spells the forward pass out in atomic operations so that each can be
backpropagated by hand. tinynet's functions are whole layers, each with its own backward:

| the seed's steps | tinynet |
|---|---|
| `emb = C[Xb]` | `tn.embedding_forward(C, Xb)` |
| `embcat = emb.view(n, -1)` | `emb.reshape(n, -1)` |
| `hprebn = embcat @ W1 + b1` | `tn.linear_forward(embcat, W1, b1)` |
| `bnmeani`, `bndiff`, `bndiff2`, `bnvar` (n − 1), `bnvar_inv`, `bnraw`, `hpreact = bngain * bnraw + bnbias` | `tn.batchnorm_forward(hprebn, bngain, bnbias, 1e-5, correction=1)` |
| `h = torch.tanh(hpreact)` | `tn.tanh_forward(hpreact)` |
| `logits = h @ W2 + b2` | `tn.linear_forward(h, W2, b2)` |
| `logit_maxes`, `norm_logits`, `counts`, `counts_sum`, `counts_sum_inv`, `probs`, `logprobs`, `loss = -logprobs[range(n), Yb].mean()` | `tn.cross_entropy_forward(logits, Yb)` (log-sum-exp) |

`correction=1` is the seed's Bessel correction: the batch variance divides by n − 1.
"""),
    code(r'''
def forward(P, Xb, Yb, tn=tn):
    n = Xb.shape[0]
    emb = tn.embedding_forward(P["C"], Xb)                # (n, 3, 10) characters into vectors
    embcat = emb.reshape(n, -1)                            # (n, 30) concatenate the vectors
    hprebn = tn.linear_forward(embcat, P["W1"], P["b1"])  # (n, 64) hidden layer pre-activation
    hpreact, bnmean, bninvstd = tn.batchnorm_forward(hprebn, P["bngain"], P["bnbias"], 1e-5, 1)
    h = tn.tanh_forward(hpreact)                           # (n, 64) hidden layer
    logits = tn.linear_forward(h, P["W2"], P["b2"])       # (n, 27) output layer
    loss, probs = tn.cross_entropy_forward(logits, Yb)    # mean cross-entropy
    cache = dict(Xb=Xb, emb=emb, embcat=embcat, hprebn=hprebn, bnmean=bnmean, bninvstd=bninvstd, h=h,
                 probs=probs)
    return loss, cache


ix = randint(Xtr.shape[0], batch_size)  # the minibatch, from the same generator
Xb, Yb = Xtr[ix], Ytr[ix]
loss, cache = forward(P, Xb, Yb)
print(loss)
'''),
    md(r"""
## Backprop — with tinynet

Each layer's backward function, in reverse order. Each returns fresh arrays (the later
version of the seed has an aliasing bug, `dhprebn = dbndiff` followed by `+=`, that
cannot happen here).
"""),
    code(r'''
def backward(P, Yb, cache, tn=tn):
    dlogits = tn.cross_entropy_backward(cache["probs"], Yb)                  # (probs - onehot) / n
    dh, dW2, db2 = tn.linear_backward(dlogits, cache["h"], P["W2"])
    dhpreact = tn.tanh_backward(dh, cache["h"])                              # dh * (1 - h**2)
    dhprebn, dbngain, dbnbias = tn.batchnorm_backward(dhpreact, cache["hprebn"], P["bngain"],
                                                      cache["bnmean"], cache["bninvstd"], 1)
    dembcat, dW1, db1 = tn.linear_backward(dhprebn, cache["embcat"], P["W1"])
    demb = dembcat.reshape(cache["emb"].shape)
    dC = tn.embedding_backward(demb, cache["Xb"], P["C"].shape[0])           # scatter-add into the rows used
    inter = dict(logits=dlogits, h=dh, hpreact=dhpreact, hprebn=dhprebn, embcat=dembcat, emb=demb)
    grads = dict(C=dC, W1=dW1, b1=db1, W2=dW2, b2=db2, bngain=dbngain, bnbias=dbnbias)
    return inter, grads


dinter, grads = backward(P, Yb, cache)
'''),
    md(r"""
### Comparing tinynet's gradients with an independent computation

With PyTorch installed, the reference is the seed's own forward pass — every atomic
step — run in float64 and differentiated by autograd (`retain_grad` on the intermediates,
`loss.backward()`). Without PyTorch it is tinynet's other engine. `cmp` prints the seed's
table: whether the two gradients are bit-for-bit equal, whether they are `allclose`,
and the largest difference.
"""),
    code(r'''
names = ["logits", "h", "hpreact", "hprebn", "embcat", "emb", "W2", "b2", "bngain", "bnbias", "W1", "b1", "C"]

if torch is not None:
    reference = "PyTorch autograd (float64)"
    T = {k: torch.tensor(v, requires_grad=True) for k, v in P.items()}  # float64 tensors
    n = batch_size
    Xt, Yt = torch.from_numpy(Xb), torch.from_numpy(Yb)
    emb = T["C"][Xt]
    embcat = emb.view(emb.shape[0], -1)
    hprebn = embcat @ T["W1"].T + T["b1"]  # tinynet's W1 is the seed's W1.T
    bnmeani = 1 / n * hprebn.sum(0, keepdim=True)
    bndiff = hprebn - bnmeani
    bndiff2 = bndiff ** 2
    bnvar = 1 / (n - 1) * bndiff2.sum(0, keepdim=True)  # Bessel's correction
    bnvar_inv = (bnvar + 1e-5) ** -0.5
    bnraw = bndiff * bnvar_inv
    hpreact = T["bngain"] * bnraw + T["bnbias"]
    h = torch.tanh(hpreact)
    logits = h @ T["W2"].T + T["b2"]
    logit_maxes = logits.max(1, keepdim=True).values
    norm_logits = logits - logit_maxes
    counts = norm_logits.exp()
    counts_sum = counts.sum(1, keepdims=True)
    counts_sum_inv = counts_sum ** -1
    probs = counts * counts_sum_inv
    logprobs = probs.log()
    loss_ref = -logprobs[range(n), Yt].mean()
    inter_t = dict(logits=logits, h=h, hpreact=hpreact, hprebn=hprebn, embcat=embcat, emb=emb)
    for t in inter_t.values():
        t.retain_grad()
    loss_ref.backward()
    ref_loss = loss_ref.item()
    ref = {k: t.grad.numpy() for k, t in inter_t.items()} | {k: t.grad.numpy() for k, t in T.items()}
else:
    other = "numpy" if ENGINE == "c" else "c"
    reference = f"tinynet's {other} engine (PyTorch is not installed)"
    ref_loss, ref_cache = forward(P, Xb, Yb, tinynet.engine(other))
    ref_inter, ref_grads = backward(P, Yb, ref_cache, tinynet.engine(other))
    ref = ref_inter | ref_grads


def cmp(s, dt, t):
    ex = bool(np.all(dt == t))
    app = bool(np.allclose(dt, t))
    maxdiff = float(np.max(np.abs(dt - t)))
    print(f'{s:15s} | exact: {str(ex):5s} | approximate: {str(app):5s} | maxdiff: {maxdiff}')
    return maxdiff


print(f"tinynet ({ENGINE}) vs {reference}; loss {loss:.6f} vs {ref_loss:.6f}")
ours = dinter | grads
max_grad_diff = max(cmp(name, ours[name], ref[name]) for name in names)
print(f"largest difference: {max_grad_diff:.1e}")
'''),
    md(r"""
"exact: False" with a maxdiff around 1e-16 is rounding: tinynet computes the same
derivatives in fewer, fused steps (`probs - onehot` directly instead of the chain through
`logprobs`, `probs`, `counts_sum_inv`…; BatchNorm's backward in closed form), so the last
bits differ. `b1`'s true gradient is exactly zero — BatchNorm removes any constant added
before it — so both sides of that row are rounding noise of order 1e-17.

## Training

makemore's loop: start again from the same initial weights and generator, so that step
0's batch is the batch above; sample a minibatch, forward, backward, SGD update; the
learning rate is 0.1, then 0.01 from `STEPS // 2` on.
"""),
    code(r'''
P, randint, _ = seeds.makemore_init(vocab_size, block_size, n_embd, n_hidden)  # the same start
lossi = []
t0 = time.perf_counter()
for i in tqdm(range(STEPS), desc="training", mininterval=0.5):
    ix = randint(Xtr.shape[0], batch_size)
    Xb, Yb = Xtr[ix], Ytr[ix]
    loss, cache = forward(P, Xb, Yb)
    _, grads = backward(P, Yb, cache)
    lr = 0.1 if i < STEPS // 2 else 0.01  # step learning rate decay
    for name, p in P.items():
        tn.sgd_step_(p, grads[name], lr)
    if i % 10000 == 0:  # print every once in a while
        print(f"{i:7d}/{STEPS:7d}: {loss:.4f}")
    lossi.append(loss)
seconds = time.perf_counter() - t0
print(f"{STEPS} steps in {seconds:.1f} s on the {ENGINE} engine ({seconds / max(STEPS, 1) * 1e6:.0f} µs per step)")
'''),
    code(r'''
lossi_arr = np.array(lossi)
window = max(1, STEPS // 200)
smooth = lossi_arr[: len(lossi_arr) // window * window].reshape(-1, window).mean(axis=1)
plt.figure(figsize=(7, 3.5))
plt.plot(np.log10(lossi_arr), alpha=0.25, label="log10 loss, per step")
plt.plot((np.arange(len(smooth)) + 0.5) * window, np.log10(smooth), label=f"mean of {window} steps")
plt.xlabel("step")
plt.ylabel("log10(loss)")
plt.legend()
plt.title(f"makemore MLP ({ENGINE} engine)")
plt.show()
'''),
    md(r"""
## Evaluation: calibrated batch statistics

During training BatchNorm normalises with each batch's own statistics. To evaluate, it
needs fixed ones. This notebook does what makemore part 4 does, **"calibrate the batch
norm at the end of training"**: one pass over the whole training set gives the mean and
the (n − 1) variance of the pre-BatchNorm activations (`seeds.makemore_calibrate`), and
every split is then evaluated with `tn.batchnorm_inference` using those
(`seeds.makemore_split_loss`). (The alternative, running statistics updated during
training, is what `tinynet.nn.BatchNorm1d` keeps for `eval()`.)
"""),
    code(r'''
bnmean, bnvar = seeds.makemore_calibrate(tn, P, Xtr)
train_loss = seeds.makemore_split_loss(tn, P, Xtr, Ytr, bnmean, bnvar)
val_loss = seeds.makemore_split_loss(tn, P, Xdev, Ydev, bnmean, bnvar)
print("train", train_loss)
print("val", val_loss)
'''),
    md(r"""
## Sampling from the model

Start from `...`, draw the next character from the model's softmax, shift it into the
context, stop at `.` (`seeds.makemore_sample`, with a NumPy generator seeded
2147483647 + 10, so both engines draw the same names).
"""),
    code(r'''
samples = seeds.makemore_sample(tn, P, bnmean, bnvar, 20, block_size)
for name in samples:
    print(name)
'''),
    code(r'''
result = {
    "engine": ENGINE,
    "split": [int(Xtr.shape[0]), int(Xdev.shape[0]), int(Xte.shape[0])],
    "parameters": n_params,
    "source": source,
    "reference": reference,
    "max_grad_diff": max_grad_diff,
    "first_loss": lossi[0] if lossi else None,
    "steps": STEPS,
    "train_loss": train_loss,
    "val_loss": val_loss,
    "samples": samples,
    "seconds": seconds,
}
print("RESULT " + json.dumps(result))
'''),
]

# ------------------------------------------------------------------------------------ 004

NB004 = [
    md(r"""
# 004 — a character-level LSTM on names, next to the vanilla RNN

Notebooks 000 and 001 trained a vanilla RNN on the single word "hello"; notebook 003
trained makemore's MLP on the 32,033 names of `names.txt`, predicting each character from
the 3 characters before it. This notebook trains two **recurrent** language models on
those names, with 003's train / dev split:

* the **vanilla RNN** of 000 and 001 (and of min-char-rnn),
  $h_t = \tanh(W_{xh} x_t + W_{hh} h_{t-1} + b_h)$;
* an **LSTM** (long short-term memory) with the same hidden size.

Both read a text of names one character at a time and predict the next character; both
are trained with Adam on the same batches, for the same number of steps, from the same
output layer. Then: their losses on the train and dev splits, the loss curves, and names
sampled from the LSTM. It is not a seed notebook: it follows makemore's data and
Karpathy's char-rnn (min-char-rnn's model, with batches of streams and an LSTM).

The next cell holds the parameters: `ENGINE` (`"c"`: tinynet's C engine, `"numpy"`: its
NumPy reference engine, the same numbers only slower), `STEPS` (training steps for each
model; the learning rate drops from 0.01 to 0.001 for the last quarter) and `HIDDEN`
(the hidden size of both models).
"""),
    parameters("STEPS = 1500  # Adam steps for each model (one pass over the training text is 178 steps)",
               "HIDDEN = 96  # the hidden size of both models"),
    code(r'''
import json
import time

import matplotlib.pyplot as plt
import numpy as np
from tqdm.auto import tqdm

import tinynet
from tinynet import data, nn

%matplotlib inline

tn = tinynet.engine(ENGINE)  # the one line that picks the engine
print(f"engine: {ENGINE} ({tn.__name__})")
'''),
    md(r"""
## The data: each split as one text

The names and the split are notebook 003's: `data.split_words(words, 278)` shuffles them
as the seed does (`random.seed(278); random.shuffle(words)`) and cuts 80% / 10% / 10%.

An MLP looks at a fixed window of characters; a recurrent model reads a text from the
start, carrying what it has seen in its hidden state. So each split becomes **one text**:
its names joined with `.`, with a `.` at both ends, `.emma.olivia.ava.…`. `.` is
makemore's start/end token: after a `.` the model has to predict the first letter of a
name, after a name's last letter it has to predict `.`. The inputs are the text's
characters but the last, the targets the characters but the first — exactly the
(context → next character) pairs of 003's dataset, 182,418 / 22,885 / 22,843 of them,
except that the context is everything read so far instead of 3 characters. The losses
below are therefore per character, comparable with 003's MLP (train ≈ 2.145,
dev ≈ 2.157).

The names are shuffled, so a name says nothing about the next one: what the model
should learn from `.` is "start afresh".
"""),
    code(r'''
words = data.load_names()
stoi, itos = data.build_vocab(words)  # '.' = 0, a..z = 1..26
vocab_size = len(itos)
train_words, dev_words, test_words = data.split_words(words, 278)  # notebook 003's split


def text_ids(words):
    """The names as one text, '.' before and after each name, as token ids."""
    return np.array(data.encode("." + ".".join(words) + ".", stoi))


train_ids, dev_ids, test_ids = text_ids(train_words), text_ids(dev_words), text_ids(test_words)
for split, ws, ids in [("train", train_words, train_ids), ("dev", dev_words, dev_ids),
                       ("test", test_words, test_ids)]:
    print(f"{split:5s} {len(ws):6d} names, {len(ids) - 1:7d} next-character predictions")
print(repr(data.decode(train_ids[:64], itos)))
'''),
    md(r"""
## Batches: B streams, read in chunks of T steps

Reading 182,418 characters one after another would keep the engine multiplying single
vectors by matrices. Instead, as char-rnn and PyTorch's word-language-model example do,
the text is cut into `B = 32` equal pieces laid side by side as the columns of an
`(L, B)` array: column `b` is the `b`-th piece, read from top to bottom. A training step
takes the next `T = 32` rows: a `(T, B)` chunk of inputs — 32 streams of 32 characters,
read in parallel — and the `(T, B)` chunk of their targets, the characters one position
further on. Sequences are time-major, as in tinynet's recurrent functions and in PyTorch.

**The hidden state is carried from one chunk to the next**: column `b` of the next chunk
continues the text of column `b`, so the last hidden state of a chunk (`hs[-1]`, and the
LSTM's last cell state) is the initial state of the next. **The gradient is not**: the
backward pass runs through the `T` steps of its own chunk (full backpropagation through
time inside it) and treats the carried state as a constant — with NumPy arrays there is
nothing to detach, it is simply not backpropagated into (the layers' `dh0` is ignored).
This is **truncated backpropagation through time**: the model can *use* context from
before the chunk, but learns only from dependencies at most `T` steps long — plenty for
names, whose longest is 15 letters.

After the last whole chunk (`L // T` = 178 steps: one pass over the text, an epoch)
training starts again at the top, from zero states (the last `L mod T` = 4 rows, too few
for a chunk, are read only in evaluation). The last few predictions of a text, which
would not fill the `B` columns evenly (18 of the 182,418 train predictions, 5 of the
22,885 dev ones), are left out, in training and in evaluation alike.
"""),
    code(r'''
B, T = 32, 32  # streams, and steps per chunk (truncated BPTT)


def batchify(ids, B):
    """(X, Y): the text's inputs and next characters as (L, B) arrays, column b the b-th of B equal pieces."""
    L = (len(ids) - 1) // B
    X = ids[:L * B].reshape(B, L).T.copy()
    Y = ids[1:L * B + 1].reshape(B, L).T.copy()
    return X, Y


Xtr, Ytr = batchify(train_ids, B)
Xdev, Ydev = batchify(dev_ids, B)
steps_per_epoch = Xtr.shape[0] // T
print(f"train {Xtr.shape}, dev {Xdev.shape}: {Ytr.size} and {Ydev.size} predictions; "
      f"{steps_per_epoch} chunks of ({T}, {B}) per pass over the training text")
for b in range(3):  # the first chunk, as three of its streams read it
    print(f"stream {b}: input  {data.decode(Xtr[:T, b], itos)!r}")
    print(f"          target {data.decode(Ytr[:T, b], itos)!r}")
'''),
    md(r"""
## The two models

Both take the characters as token ids (the one-hot input is implied, input size 27), run
one recurrent layer of `HIDDEN` units, and map every hidden state to 27 logits with the
same kind of output layer, `nn.Linear(HIDDEN, 27)`.

**The vanilla RNN** (`nn.RNN`) rewrites its whole state at every step:
$h_t = \tanh(W_{xh} x_t + W_{hh} h_{t-1} + b_h)$.

**The LSTM** (`nn.LSTM`, exactly `torch.nn.LSTM` with its gate order i, f, g, o) keeps a
second state, the cell $c_t$, and three gates — vectors of numbers in (0, 1) computed
from the input and the previous hidden state — that decide what happens to it:

$$
\begin{aligned}
i_t &= \sigma(W_{ii} x_t + W_{hi} h_{t-1} + b_i) &&\text{input gate: how much of the candidate to write}\\
f_t &= \sigma(W_{if} x_t + W_{hf} h_{t-1} + b_f) &&\text{forget gate: how much of the old cell to keep}\\
g_t &= \tanh(W_{ig} x_t + W_{hg} h_{t-1} + b_g) &&\text{the candidate values}\\
o_t &= \sigma(W_{io} x_t + W_{ho} h_{t-1} + b_o) &&\text{output gate: how much of the cell to show}\\
c_t &= f_t \odot c_{t-1} + i_t \odot g_t\\
h_t &= o_t \odot \tanh(c_t)
\end{aligned}
$$

($\sigma$ is the sigmoid, $\odot$ the elementwise product; in PyTorch's layout the four
$W_{i\cdot}$ are stacked into `weight_ih_l0` (4H, 27), the four $W_{h\cdot}$ into
`weight_hh_l0` (4H, H), and each bias is `bias_ih_l0 + bias_hh_l0`.)

**Why the gates help.** To learn that a character depends on one seen k steps earlier,
the gradient has to travel back k steps. In the vanilla RNN each step back multiplies it
by the transposed Jacobian of one step,
$\partial L / \partial h_{t-1} = W_{hh}^\top \big((1 - h_t^2) \odot \partial L / \partial h_t\big)$:
a matrix product and a tanh derivative (at most 1) every step, so over k steps its size
shrinks (or grows) roughly geometrically — the vanishing and exploding gradients that
make long dependencies hard for the vanilla RNN to learn. The LSTM's cell is updated by
*addition*, and one step back its gradient is only scaled, elementwise, by the forget
gate: $\partial L / \partial c_{t-1} = f_t \odot \partial L / \partial c_t$ (plus what
reaches $c_{t-1}$ through the gates). Where $f \approx 1$, information and gradient pass
through many steps unchanged; where the model wants to forget (at a `.`, say) it can set
$f \approx 0$. And since the gates depend on the input, the model chooses, unit by unit
and step by step, what to write, keep and show, instead of mixing everything into one
state.

At the same hidden size the LSTM has four times the recurrent weights (four blocks of
rows instead of one), so it is also the bigger model; the counts are printed below.
Both recurrent layers start from PyTorch's initialisation, $U(-1/\sqrt{H}, 1/\sqrt{H})$,
seeded; the two output layers start from the same weights.
"""),
    code(r'''
class CharLM:
    """A recurrent layer ("rnn": nn.RNN, "lstm": nn.LSTM) on one-hot characters, then
    nn.Linear from each hidden state to the logits of the next character."""

    def __init__(self, kind, hidden_size, seed=1):
        self.kind = kind
        Recurrent = {"rnn": nn.RNN, "lstm": nn.LSTM}[kind]
        self.rnn = Recurrent(vocab_size, hidden_size, engine=ENGINE, rng=seed)
        self.head = nn.Linear(hidden_size, vocab_size, engine=ENGINE, rng=0)  # the same for both models
        self.layers = {"rnn": self.rnn, "head": self.head}

    def named_parameters(self):
        return [(f"{layer}.{name}", p) for layer, m in self.layers.items() for name, p in m.named_parameters()]

    def named_grads(self):
        return [(f"{layer}.{name}", g) for layer, m in self.layers.items() for name, g in m.named_grads()]

    def forward(self, x, state=None):
        """x: token ids (T, B); state: the previous chunk's last state, None for zeros.
        Returns the logits (T * B, V), row t * B + b for step t of stream b, and the last state."""
        if self.kind == "lstm":
            hs, (h_n, c_n) = self.rnn(x, state)  # state = (h0, c0), as torch.nn.LSTM
            state = (h_n, c_n)
        else:
            hs = self.rnn(x, state)              # state = h0
            state = hs[-1]
        steps, streams = x.shape
        logits = self.head(hs.reshape(steps * streams, -1))
        return logits, state

    def backward(self, dlogits, steps, streams):
        """Backpropagate dL/dlogits through the output layer and the T steps of the chunk."""
        dhs = self.head.backward(dlogits)
        self.rnn.backward(dhs.reshape(steps, streams, -1))  # the gradient stops at the chunk's initial state


for kind in ["rnn", "lstm"]:
    model = CharLM(kind, HIDDEN)
    print(f"{kind:4s}", {name: p.shape for name, p in model.named_parameters()},
          sum(p.size for _, p in model.named_parameters()), "parameters")
'''),
    md(r"""
## The loss, and how a split is evaluated

A training step's loss is the mean cross-entropy of its chunk's `T·B` predictions
(`tn.cross_entropy_forward`, log-sum-exp inside). A split's loss is the mean over *all*
its predictions: `evaluate` reads the split's `(L, B)` array chunk by chunk, carrying the
state exactly as training does (zero states at the top), with no backward pass, and adds
up the summed losses (`reduction="sum"`). The same function gives the train loss, on the
train split, and the dev loss.
"""),
    code(r'''
def evaluate(model, X, Y):
    """The mean loss per character over the whole (L, B) text, read as in training."""
    total, state = 0.0, None
    for j in range(0, X.shape[0], T):
        logits, state = model.forward(X[j:j + T], state)
        loss, _ = tn.cross_entropy_forward(logits, Y[j:j + T].reshape(-1), reduction="sum")
        total += loss
    return total / Y.size
'''),
    md(r"""
## Training

The same loop for both models: the chunks in the same order, `STEPS` steps, Adam with
learning rate 0.01, then 0.001 for the last quarter of the steps.
`tn.adam_step_(p, grad, m, v, t, lr)` is `torch.optim.AdamW`'s update (here with its
default `weight_decay=0`, i.e. Adam): running means of the gradient (`m`) and of its
square (`v`), bias-corrected for the first steps (`t` counts from 1), and the step
`lr · m̂ / (√v̂ + ε)`, in place. Dividing by $\sqrt{\hat v}$ gives every weight a step of
about `lr` whatever the size of its gradient; neither model needed gradient clipping
here.

Every `STEPS // 10` steps the dev loss is measured for the curves below.
"""),
    code(r'''
def train(model, steps):
    params = model.named_parameters()
    m = {name: np.zeros_like(p) for name, p in params}  # Adam's running means
    v = {name: np.zeros_like(p) for name, p in params}
    losses, dev_curve = [], []
    eval_every = max(1, steps // 10)
    state = None
    for step in tqdm(range(steps), desc=model.kind, mininterval=0.5):
        j = step % steps_per_epoch
        if j == 0:
            state = None  # the top of the text: zero states
        x, y = Xtr[j * T:(j + 1) * T], Ytr[j * T:(j + 1) * T].reshape(-1)
        logits, state = model.forward(x, state)  # the state carries over to the next chunk
        loss, probs = tn.cross_entropy_forward(logits, y)
        model.backward(tn.cross_entropy_backward(probs, y), T, B)
        lr = 0.01 if step < steps * 3 // 4 else 0.001
        for (name, p), (_, g) in zip(params, model.named_grads()):
            tn.adam_step_(p, g, m[name], v[name], step + 1, lr=lr)
        losses.append(loss)
        if (step + 1) % eval_every == 0 or step + 1 == steps:
            dev_curve.append((step + 1, evaluate(model, Xdev, Ydev)))
    return losses, dev_curve


models, curves, seconds = {}, {}, {}
for kind in ["rnn", "lstm"]:
    models[kind] = CharLM(kind, HIDDEN)
    t0 = time.perf_counter()
    curves[kind] = train(models[kind], STEPS)
    seconds[kind] = time.perf_counter() - t0
    losses, dev_curve = curves[kind]
    print(f"{kind:4s}: {STEPS} steps in {seconds[kind]:.1f} s on the {ENGINE} engine; "
          f"first loss {losses[0]:.4f} (ln 27 = {np.log(27):.4f}), dev loss {dev_curve[-1][1]:.4f}")
'''),
    md(r"""
## The loss curves

The training loss of every step (each on its own chunk, so it is noisy; the thick lines
average a pass over the text) and the dev loss measured during training. The dashed line
is 003's MLP on the same dev split.
"""),
    code(r'''
window = min(steps_per_epoch, STEPS)
plt.figure(figsize=(8, 4.5))
for kind, color in [("rnn", "tab:blue"), ("lstm", "tab:orange")]:
    losses, dev_curve = curves[kind]
    steps_axis = np.arange(1, len(losses) + 1)
    smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
    plt.plot(steps_axis, losses, color=color, alpha=0.2, linewidth=0.8)
    plt.plot(steps_axis[window - 1:], smooth, color=color, linewidth=2,
             label=f"{kind.upper()}: train (mean of {window} steps)")
    plt.plot(*zip(*dev_curve), "o--", color=color, markersize=4, label=f"{kind.upper()}: dev")
plt.axhline(2.157, color="gray", linestyle=":", label="003's MLP, dev")
plt.ylim(1.8, 2.6)
plt.xlabel("step")
plt.ylabel("loss per character")
plt.title(f"vanilla RNN vs LSTM, hidden size {HIDDEN} ({ENGINE} engine)")
plt.legend()
plt.show()
'''),
    md(r"""
## Train and dev loss

Both splits evaluated the same way (`evaluate` above), after training.
"""),
    code(r'''
final = {kind: {"train": evaluate(models[kind], Xtr, Ytr), "dev": evaluate(models[kind], Xdev, Ydev)}
         for kind in ["rnn", "lstm"]}
print(f"{'':5s} {'train':>8s} {'dev':>8s}  parameters")
for kind in ["rnn", "lstm"]:
    n_params = sum(p.size for _, p in models[kind].named_parameters())
    print(f"{kind.upper():5s} {final[kind]['train']:8.4f} {final[kind]['dev']:8.4f}  {n_params}")
print(f"dev loss, vanilla RNN minus LSTM: {final['rnn']['dev'] - final['lstm']['dev']:+.4f}")
'''),
    md(r"""
With the full `STEPS` (1,500) both recurrent models beat 003's MLP (dev ≈ 2.157), which
sees only the last 3 characters: they see the whole name so far (the vanilla RNN reaches
dev ≈ 2.08). The LSTM gets clearly lower still, dev ≈ 2.01, and lower on the train split
too. Its train loss is further below its dev loss than the RNN's: with four times the
recurrent weights it also starts to memorise the training names — trained for longer, or
with a larger hidden size, without the learning-rate drop, its dev loss turns back up.
(A short run, with a small `STEPS`, stops long before any of this.) The test split is not
used here; as in makemore, it is kept for a last, once-only measurement.

## What the forget gate learned

`tn.lstm_forward` returns the gate values of every step, so the LSTM's gates can be
looked at directly. Running the trained LSTM over the dev text: the mean forget gate
after each character.
"""),
    code(r'''
lstm = models["lstm"].rnn
x = Xdev[:8 * T]  # the first 256 rows of the dev streams
hs, cs, gates = tn.lstm_forward(x, None, None, lstm.weight_ih_l0, lstm.weight_hh_l0,
                                lstm.bias_ih_l0, lstm.bias_hh_l0)
i_gate, f_gate, g_gate, o_gate = np.split(gates, 4, axis=-1)  # PyTorch's order: i, f, g, o
forget_mean = f_gate.mean(axis=-1)                              # (steps, streams): mean over the units
forget_dot = float(forget_mean[x == 0].mean())
forget_letters = float(forget_mean[x != 0].mean())
print(f"mean forget gate reading '.': {forget_dot:.3f}, reading a letter: {forget_letters:.3f}")
'''),
    md(r"""
After the full training the forget gate is about 0.26 on average when the LSTM reads a
`.`, against about 0.44 when it reads a letter: at the end of a name it throws away more
of its cell — the previous name — which is the "start afresh" the data asks for. The
vanilla RNN has no such switch; it has to learn the same thing through `W_hh` and `tanh`.
"""),
    md(r"""
## Sampling names from the LSTM

Generation runs the model on its own output: start from zero states and a `.`, compute
the logits of the next character, draw one from their softmax, feed it back as the next
input, and so on; every `.` ends a name, and the next name starts from the state the
previous one left, as in the training text. The draws come from a
NumPy generator with a fixed seed, so both engines sample the same names. The same
sampler, with the same seed, on the vanilla RNN for comparison; names that also occur in
the training split are marked.
"""),
    code(r'''
def sample_names(model, n, seed=2147483647):
    """n names generated one character at a time, as one stream of text."""
    rng = np.random.default_rng(seed)
    names, name, state = [], [], None
    ix = 0  # '.': the start
    while len(names) < n:
        logits, state = model.forward(np.array([[ix]]), state)  # one step of one stream
        probs = tn.softmax(logits[0])
        ix = int(rng.choice(vocab_size, p=probs))
        if ix == 0:  # '.': the name is complete
            names.append("".join(name))
            name = []
        else:
            name.append(itos[ix])
    return names


train_set = set(train_words)
samples = sample_names(models["lstm"], 20)
rnn_samples = sample_names(models["rnn"], 20)
print(f"{'LSTM':16s} vanilla RNN    (* = a name of the training split)")
for a, b in zip(samples, rnn_samples):
    print(f"{a + ('*' if a in train_set else ''):16s} {b + ('*' if b in train_set else '')}")
'''),
    code(r'''
result = {
    "engine": ENGINE,
    "steps": STEPS,
    "hidden": HIDDEN,
    "batch": [T, B],
    "predictions": [int(Ytr.size), int(Ydev.size)],
    "parameters": {kind: int(sum(p.size for _, p in models[kind].named_parameters())) for kind in models},
    "first_loss": curves["lstm"][0][0],
    "rnn_first_loss": curves["rnn"][0][0],
    "dev_curve": curves["lstm"][1],
    "rnn_dev_curve": curves["rnn"][1],
    "train_loss": final["lstm"]["train"],
    "val_loss": final["lstm"]["dev"],
    "rnn_train_loss": final["rnn"]["train"],
    "rnn_val_loss": final["rnn"]["dev"],
    "forget_gate": [forget_dot, forget_letters],
    "samples": samples,
    "rnn_samples": rnn_samples,
    "seconds": seconds,
}
print("RESULT " + json.dumps(result))
'''),
]

NOTEBOOKS = {
    "000_hello_rnn_fixed_weights.ipynb": NB000,
    "001_hello_rnn_bptt.ipynb": NB001,
    "002_mlp_letter_classifier.ipynb": NB002,
    "003_makemore_manual_backprop.ipynb": NB003,
    "004_char_lstm.ipynb": NB004,
}


def build(cells, prefix):
    """An nbformat v4 notebook without outputs, with deterministic cell ids."""
    nb = new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for i, cell in enumerate(cells):
        source = textwrap.dedent(cell[1]).strip("\n")
        if cell[0] == "markdown":
            c = new_markdown_cell(source)
        else:
            c = new_code_cell(source)
            if cell[2]:
                c.metadata["tags"] = list(cell[2])
        c.id = f"{prefix}-{i:02d}"
        nb.cells.append(c)
    nbformat.validate(nb)
    return nb


def notebooks():
    """{file name: notebook text} as this script writes them."""
    return {name: nbformat.writes(build(cells, name[:3])) + "\n" for name, cells in NOTEBOOKS.items()}


def main(argv):
    check = "--check" in argv
    stale = []
    for name, text in notebooks().items():
        path = HERE / name
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print("out of date (run python notebooks/make_notebooks.py): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
