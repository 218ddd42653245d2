"""python -m tinynet: train the notebooks' models on the C engine and print what they learned.

1. notebook 001's "hello" RNN (full BPTT): the greedy prediction from 'h';
2. notebook 002's letter classifier: accuracy and final loss after its 500 epochs;
3. notebook 003's makemore MLP, trained for --steps steps (default 60,000; makemore's full
   run is 200,000, see notebooks/003_makemore_manual_backprop.ipynb): train and dev
   losses and 10 sampled names.  Reads names.txt with tinynet.data.load_names (the copy
   inside the package); if that fails, this part is skipped with the reason.

The notebooks in notebooks/ tell each model's story, after the original notebook it
reruns; this is the compact version.  Their shared set-up is tinynet.recipes.
"""
import argparse
import math
import sys
import time

import numpy as np

import tinynet as tn
from tinynet import data, recipes

try:
    from tqdm.auto import tqdm
except ImportError:  # tqdm is optional (pip install tinynet[notebooks]): a minimal stand-in
    def tqdm(iterable, desc="", total=None, **_):
        total = len(iterable) if total is None else total
        step = max(1, total // 10)
        for i, item in enumerate(iterable):
            if i % step == 0:
                print(f"\r  {desc}: {100 * i // total:3d}%", end="", file=sys.stderr, flush=True)
            yield item
        print(f"\r  {desc}: 100%", file=sys.stderr, flush=True)


def hello_rnn(seed=0, epochs=1000, lr=0.01, hidden=3):
    """Notebook 001: a tanh RNN (hidden 3) learns "hello" with full BPTT."""
    chars = sorted(set("hello"))  # e h l o
    stoi = {ch: i for i, ch in enumerate(chars)}
    inputs, targets = [stoi[ch] for ch in "hell"], [stoi[ch] for ch in "ello"]
    V = len(chars)
    rng = np.random.RandomState(seed)  # the notebook's np.random.randn, seeded
    params = {"W_xh": rng.randn(hidden, V) * 0.1, "W_hh": rng.randn(hidden, hidden) * 0.1,
              "b_h": np.zeros(hidden), "W_hy": rng.randn(V, hidden) * 0.1, "b_y": np.zeros(V)}
    t0 = time.perf_counter()
    for epoch in range(epochs):
        loss, grads, _ = tn.rnn_lm_loss(inputs, targets, None, **params)
        for name, p in params.items():
            tn.sgd_step_(p, grads[name], lr)
        if epoch % 200 == 0 or epoch == epochs - 1:
            print(f"  epoch {epoch:4d}  loss {loss / len(inputs):.4f}")
    seconds = time.perf_counter() - t0
    out = tn.rnn_sample(None, stoi["h"], 4, params["W_xh"], params["W_hh"], params["b_h"], params["W_hy"],
                        params["b_y"], greedy=True)
    prediction = "h" + "".join(chars[i] for i in out)
    print(f"  greedy sample from 'h': {prediction!r}  ({epochs} epochs in {seconds * 1e3:.1f} ms)")
    return prediction


def letter_classifier(epochs=500, lr=0.05):
    """Notebook 002: [26, 64, 26], ReLU, sigmoid output then softmax; per-example SGD."""
    model = recipes.letter_classifier("c")
    params, eye = model.parameters(), np.eye(26)
    t0 = time.perf_counter()
    for epoch in tqdm(range(1, epochs + 1), desc="letter classifier", leave=False):
        total = 0.0
        for i in range(26):
            target = np.array([i])
            loss, probs = tn.cross_entropy_forward(model(eye[i:i + 1]), target, reduction="sum")
            total += loss
            model.backward(tn.cross_entropy_backward(probs, target, reduction="sum"))
            for p, g in zip(params, model.grads()):
                tn.sgd_step_(p, g, lr)
    seconds = time.perf_counter() - t0
    final_loss = total / 26
    probs = tn.softmax(model(eye))
    correct = int(np.sum(probs.argmax(axis=1) == np.arange(26)))
    confidence = float(probs.max(axis=1).mean())
    print(f"  accuracy {correct}/26, final loss {final_loss:.6f} (the original: 2.338166), "
          f"{epochs} epochs in {seconds:.2f} s")
    print(f"  mean confidence {confidence:.2%}: a softmax over sigmoid outputs cannot exceed "
          f"e/(e+25) = {math.e / (math.e + 25):.2%}")
    return correct, final_loss


def makemore(steps=60_000, batch_size=32, n_embd=10, n_hidden=64, block_size=3, n_samples=10):
    """Notebook 003: makemore's MLP with BatchNorm, trained; None without names.txt."""
    try:
        words = data.load_names()
    except (OSError, data.NamesFormatError) as e:  # DataNotFoundError is an OSError
        print(f"  skipped: {e}")
        return None
    train_words, dev_words, _ = data.split_words(words, 278)
    Xtr, Ytr = data.build_dataset(train_words, block_size)
    Xdev, Ydev = data.build_dataset(dev_words, block_size)
    P, randint, source = recipes.makemore_init(27, block_size, n_embd, n_hidden)
    t0 = time.perf_counter()
    for i in tqdm(range(steps), desc="makemore", leave=False, mininterval=0.25):
        ix = randint(Xtr.shape[0], batch_size)
        loss, grads = recipes.makemore_forward_backward(tn, P, Xtr[ix], Ytr[ix])
        lr = 0.1 if i < steps // 2 else 0.01
        for name, p in P.items():
            tn.sgd_step_(p, grads[name], lr)
    seconds = time.perf_counter() - t0
    bnmean, bnvar = recipes.makemore_calibrate(tn, P, Xtr)
    train_loss = recipes.makemore_split_loss(tn, P, Xtr, Ytr, bnmean, bnvar)
    dev_loss = recipes.makemore_split_loss(tn, P, Xdev, Ydev, bnmean, bnvar)
    print(f"  {steps} steps in {seconds:.1f} s (weights from the {source} generator, lr 0.1 -> 0.01 at "
          f"{steps // 2}); BatchNorm calibrated on the training set")
    print(f"  train loss {train_loss:.4f}, dev loss {dev_loss:.4f}  (200,000 steps reach ~2.145 / ~2.157)")
    names = recipes.makemore_sample(tn, P, bnmean, bnvar, n_samples, block_size)
    print("  samples: " + ", ".join(names))
    return train_loss, dev_loss, names


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tinynet", description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60_000,
                        help="makemore training steps (default 60,000; makemore's full run is 200,000)")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    print("tinynet: the notebooks' models on the C engine\n")
    print('1. "hello" RNN (notebook 001: hidden 3, full BPTT, 1000 epochs of SGD, lr 0.01)')
    hello_rnn()
    print("\n2. Letter classifier (notebook 002: [26, 64, 26], 500 epochs of per-example SGD, lr 0.05)")
    letter_classifier()
    print(f"\n3. makemore MLP (notebook 003: names.txt, block 3, n_embd 10, n_hidden 64, BatchNorm, "
          f"batch 32, {args.steps} steps)")
    makemore(args.steps)
    print(f"\ndone in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
