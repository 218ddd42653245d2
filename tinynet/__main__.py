"""python -m tinynet: train the seed models on the C engine and print what they learned."""
import time

import numpy as np

import tinynet as tn


def hello_rnn(seed=0, epochs=1000, lr=0.01, hidden=3):
    """Seed notebook 001: a tanh RNN (hidden 3) learns "hello" with full BPTT."""
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


def main():
    print("tinynet: the seed models on the C engine\n")
    print('1. "hello" RNN (seed 001: hidden 3, full BPTT, 1000 epochs of SGD, lr 0.01)')
    hello_rnn()


if __name__ == "__main__":
    main()
