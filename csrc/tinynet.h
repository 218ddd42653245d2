/*
 * tinynet.h -- the public header of tinynet's C core, and its documentation.
 *
 * Forward and backward passes of small neural networks on raw, C-contiguous buffers:
 * a vanilla tanh RNN with (truncated) backpropagation through time, a fused character
 * language-model loss, MLP layers, and in-place optimizers.  C11, no Python, no
 * allocation: scratch memory comes from the caller through a `work` pointer whose
 * minimal size (in elements of the dtype) is given by the matching *_work() function.
 *
 * Conventions
 *   - Every kernel exists for float (suffix _f32) and double (suffix _f64); both are
 *     instantiated from one body (each layer file, through tn_template.h).
 *   - Argument order (after llm.c): outputs first, then inputs, then sizes, then
 *     options and the workspace.  Outputs are overwritten, never accumulated into; a
 *     NULL output pointer means "do not compute it" where noted.
 *   - Shapes in the comments use size letters: N rows (batch), D inputs, H hidden /
 *     outputs, V vocabulary, E embedding width, C channels, T time steps, B batch.
 *     Weights are (out, in), as in PyTorch: y = x @ W^T + b.
 *   - Sequences are time-major: x (T, B, D), hs (T, B, H).
 *   - Token and index buffers are int64_t and must already be in range: the caller
 *     validates (the Python wrapper does, before any computation).
 *   - Sizes are size_t.  Any product of sizes a caller forms must go through
 *     tn_size_mul(); the kernels only form products bounded by buffers that exist.
 *   - Kernels are deterministic: the same inputs give bit-identical outputs for any
 *     thread count (fixed reduction order).
 */
#ifndef TINYNET_H
#define TINYNET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* *out = a * b; returns 0 on success, -1 if the product overflows size_t. */
int tn_size_mul(size_t a, size_t b, size_t *out);
/* *out = a + b; returns 0 on success, -1 on overflow. */
int tn_size_add(size_t a, size_t b, size_t *out);

/* Threads used by the large kernels (GEMM, RNN).  n <= 0 means TINYNET_NUM_THREADS when
 * set, else one per CPU the process may use (affinity mask, cgroup CPU quota). */
void tn_set_num_threads(int n);
int tn_get_num_threads(void);
/* Name of the instruction set the GEMM microkernels dispatch to ("avx512", "avx2"
 * or "generic"), chosen once at run time. */
const char *tn_simd_name(void);

/* The machine's limit: run `iters` rounds of independent fused multiply-adds with the
 * GEMM's instruction set (float, or double if dbl) and return the flops done; time it
 * to get the peak FLOP/s of one core. */
double tn_fma_flops(int dbl, size_t iters);

/* Workspace sizes, in elements of the kernel's dtype; SIZE_MAX if it would overflow. */
size_t tn_gemm_work(size_t M, size_t N, size_t K);
size_t tn_linear_forward_work(size_t N, size_t D, size_t H);
size_t tn_linear_work(size_t N, size_t D, size_t H); /* backward (and either) */
size_t tn_rnn_forward_work(size_t T, size_t B, size_t D, size_t H);
size_t tn_rnn_backward_work(size_t T, size_t B, size_t D, size_t H, size_t bptt_steps);
size_t tn_rnn_lm_loss_work(size_t T, size_t B, size_t D, size_t H, size_t V, size_t bptt_steps);
size_t tn_rnn_sample_work(size_t B, size_t D, size_t H, size_t V);
size_t tn_lstm_forward_work(size_t T, size_t B, size_t D, size_t H);
size_t tn_lstm_backward_work(size_t T, size_t B, size_t D, size_t H);
size_t tn_gru_forward_work(size_t T, size_t B, size_t D, size_t H);
size_t tn_gru_backward_work(size_t T, size_t B, size_t D, size_t H);
size_t tn_linear_batchnorm_tanh_forward_work(size_t N, size_t D, size_t H);
size_t tn_linear_batchnorm_tanh_backward_work(size_t N, size_t D, size_t H);
size_t tn_linear_cross_entropy_work(size_t N, size_t D, size_t V);
size_t tn_layernorm_backward_work(size_t N, size_t C);
size_t tn_attention_forward_work(size_t T, size_t C, size_t n_head, int threads);
size_t tn_attention_backward_work(size_t T, size_t C, size_t n_head, int threads);
/* The threads worth using for attention of these sizes (1 for small ones, at most
 * tn_get_num_threads()); any count gives the same results. */
int tn_attention_threads(size_t B, size_t T, size_t C, size_t n_head);

/* The random generator of rnn_sample: splitmix64, a uniform double in [0, 1) from the
 * top 53 bits.  tinynet.reference implements the same generator. */
uint64_t tn_rng_next(uint64_t *state);
double tn_rng_uniform(uint64_t *state);

/* ---- The kernels, each for float (_f32) and double (_f64), written once in csrc/tn_<layer>.c.
 * Each comment covers the pair below it. */

/* C(M,N) = alpha * op(A)(M,K) @ op(B)(K,N) + beta * C, row-major; op(X) = X or X^T
 * (trans_a / trans_b nonzero).  beta == 0 ignores C's old contents (even NaN).
 * work: tn_gemm_work(M, N, K) elements. */
void tn_gemm_f32(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha, const float *A, size_t lda,
                 const float *B, size_t ldb, float beta, float *C, size_t ldc, float *work);
void tn_gemm_f64(int trans_a, int trans_b, size_t M, size_t N, size_t K, double alpha, const double *A, size_t lda,
                 const double *B, size_t ldb, double beta, double *C, size_t ldc, double *work);

/* y(N,H) = x(N,D) @ W(H,D)^T + b(H); b may be NULL.  work: tn_linear_forward_work. */
void tn_linear_forward_f32(float *y, const float *x, const float *W, const float *b, size_t N, size_t D, size_t H,
                           float *work);
void tn_linear_forward_f64(double *y, const double *x, const double *W, const double *b, size_t N, size_t D, size_t H,
                           double *work);
/* dx(N,D) = dy @ W;  dW(H,D) = dy^T @ x;  db(H) = sum_n dy.  Any output may be NULL. */
void tn_linear_backward_f32(float *dx, float *dW, float *db, const float *dy, const float *x, const float *W, size_t N,
                            size_t D, size_t H, float *work);
void tn_linear_backward_f64(double *dx, double *dW, double *db, const double *dy, const double *x, const double *W,
                            size_t N, size_t D, size_t H, double *work);

/* Elementwise over n values.  Backward passes take the forward output y (GELU's, below,
 * its input x). */
/* y = tanh(x) */
void tn_tanh_forward_f32(float *y, const float *x, size_t n);
void tn_tanh_forward_f64(double *y, const double *x, size_t n);
/* dy (1 - y^2) */
void tn_tanh_backward_f32(float *dx, const float *dy, const float *y, size_t n);
void tn_tanh_backward_f64(double *dx, const double *dy, const double *y, size_t n);
/* y = 1 / (1 + e^-x) */
void tn_sigmoid_forward_f32(float *y, const float *x, size_t n);
void tn_sigmoid_forward_f64(double *y, const double *x, size_t n);
/* dy y(1-y) */
void tn_sigmoid_backward_f32(float *dx, const float *dy, const float *y, size_t n);
void tn_sigmoid_backward_f64(double *dx, const double *dy, const double *y, size_t n);
/* y = max(x, 0) */
void tn_relu_forward_f32(float *y, const float *x, size_t n);
void tn_relu_forward_f64(double *y, const double *x, size_t n);
/* dy [y > 0] */
void tn_relu_backward_f32(float *dx, const float *dy, const float *y, size_t n);
void tn_relu_backward_f64(double *dx, const double *dy, const double *y, size_t n);

/* GELU, x Phi(x) with Phi the standard normal CDF, (1 + erf(x / sqrt 2)) / 2 (PyTorch's
 * approximate="none"): float Phi from a vectorised approximation, the same bits on every
 * instruction set (tn_linear.c gives its error), double from libm's erfc. */
void tn_gelu_forward_f32(float *y, const float *x, size_t n);
void tn_gelu_forward_f64(double *y, const double *x, size_t n);
/* dx = dy (Phi(x) + x exp(-x^2 / 2) / sqrt(2 pi)).  GELU's backward passes take the input x. */
void tn_gelu_backward_f32(float *dx, const float *dy, const float *x, size_t n);
void tn_gelu_backward_f64(double *dx, const double *dy, const double *x, size_t n);
/* GPT-2's GELU (approximate="tanh"): y = x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2 */
void tn_gelu_tanh_forward_f32(float *y, const float *x, size_t n);
void tn_gelu_tanh_forward_f64(double *y, const double *x, size_t n);
/* its derivative times dy, from the input x */
void tn_gelu_tanh_backward_f32(float *dx, const float *dy, const float *x, size_t n);
void tn_gelu_tanh_backward_f64(double *dx, const double *dy, const double *x, size_t n);

/* probs(N,V) = softmax over each row of logits, max-subtracted. */
void tn_softmax_f32(float *probs, const float *logits, size_t N, size_t V);
void tn_softmax_f64(double *probs, const double *logits, size_t N, size_t V);
/* Returns the cross-entropy loss, sum_n (logsumexp(logits_n) - logits_n[t_n]),
 * divided by N when mean != 0; probs (N,V) may be NULL. */
double tn_cross_entropy_forward_f32(float *probs, const float *logits, const int64_t *targets, size_t N, size_t V,
                                    int mean);
double tn_cross_entropy_forward_f64(double *probs, const double *logits, const int64_t *targets, size_t N, size_t V,
                                    int mean);
/* ... over the rows whose target is not ignore_index, divided by their count when mean
 * != 0 (NaN for none): targets lie in [0,V) or equal ignore_index (a value outside
 * [0,V), e.g. -1, ignores none: the function above). */
double tn_cross_entropy_forward_ex_f32(float *probs, const float *logits, const int64_t *targets, size_t N, size_t V,
                                       int mean, int64_t ignore_index);
double tn_cross_entropy_forward_ex_f64(double *probs, const double *logits, const int64_t *targets, size_t N,
                                       size_t V, int mean, int64_t ignore_index);
/* dlogits(N,V) = (probs - onehot(targets)) / (N if mean else 1). */
void tn_cross_entropy_backward_f32(float *dlogits, const float *probs, const int64_t *targets, size_t N, size_t V,
                                   int mean);
void tn_cross_entropy_backward_f64(double *dlogits, const double *probs, const int64_t *targets, size_t N, size_t V,
                                   int mean);
/* ... with the rows whose target is ignore_index 0, the others divided by their count
 * when mean != 0. */
void tn_cross_entropy_backward_ex_f32(float *dlogits, const float *probs, const int64_t *targets, size_t N, size_t V,
                                      int mean, int64_t ignore_index);
void tn_cross_entropy_backward_ex_f64(double *dlogits, const double *probs, const int64_t *targets, size_t N,
                                      size_t V, int mean, int64_t ignore_index);

/* out(n, E) = table(V, E)[idx(n)]. */
void tn_embedding_forward_f32(float *out, const float *table, const int64_t *idx, size_t n, size_t E);
void tn_embedding_forward_f64(double *out, const double *table, const int64_t *idx, size_t n, size_t E);
/* dtable(V, E) = 0, then dtable[idx[i]] += dout[i] for i = 0..n-1 in order. */
void tn_embedding_backward_f32(float *dtable, const float *dout, const int64_t *idx, size_t n, size_t V, size_t E);
void tn_embedding_backward_f64(double *dtable, const double *dout, const int64_t *idx, size_t n, size_t V, size_t E);

/* Batch normalisation over N rows of x (N, C), per channel:
 *   mean = sum x / N;  var = sum (x - mean)^2 / (N - correction);
 *   invstd = 1 / sqrt(var + eps);  y = gamma (x - mean) invstd + beta.
 * Requires N > correction (the caller checks). */
void tn_batchnorm_forward_f32(float *y, float *mean, float *invstd, const float *x, const float *gamma,
                              const float *beta, size_t N, size_t C, float eps, size_t correction);
void tn_batchnorm_forward_f64(double *y, double *mean, double *invstd, const double *x, const double *gamma,
                              const double *beta, size_t N, size_t C, double eps, size_t correction);
/* xhat = (x - mean) invstd;  g = dy gamma;
 * dx = invstd (g - mean_n g - xhat sum_n(g xhat) / (N - correction));
 * dgamma = sum_n dy xhat;  dbeta = sum_n dy. */
void tn_batchnorm_backward_f32(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                               const float *gamma, const float *mean, const float *invstd, size_t N, size_t C,
                               size_t correction);
void tn_batchnorm_backward_f64(double *dx, double *dgamma, double *dbeta, const double *dy, const double *x,
                               const double *gamma, const double *mean, const double *invstd, size_t N, size_t C,
                               size_t correction);
/* The running statistics of training mode, as PyTorch: running_mean = (1 - momentum)
 * running_mean + momentum mean, running_var likewise with the unbiased variance
 * sum_n (x - mean)^2 / (N - 1) of x (N, C) about its mean (C).  Requires N >= 2.
 * work: C elements. */
void tn_batchnorm_running_f32(float *running_mean, float *running_var, const float *x, const float *mean, size_t N,
                              size_t C, double momentum, float *work);
void tn_batchnorm_running_f64(double *running_mean, double *running_var, const double *x, const double *mean,
                              size_t N, size_t C, double momentum, double *work);
/* y = gamma (x - running_mean) / sqrt(running_var + eps) + beta. */
void tn_batchnorm_inference_f32(float *y, const float *x, const float *gamma, const float *beta,
                                const float *running_mean, const float *running_var, size_t N, size_t C, float eps);
void tn_batchnorm_inference_f64(double *y, const double *x, const double *gamma, const double *beta,
                                const double *running_mean, const double *running_var, size_t N, size_t C, double eps);

/* Layer normalisation of each row of x (N, C) over its C values:
 *   mean = x_0 + sum (x - x_0) / C (a constant row's mean exactly);  var = sum (x - mean)^2 / C;
 *   rstd = 1 / sqrt(var + eps);  y = (x - mean) rstd weight + bias.
 * weight, bias (C) may be NULL (1 and 0); mean, rstd (N).  C = 0: mean and rstd are NaN. */
void tn_layernorm_forward_f32(float *y, float *mean, float *rstd, const float *x, const float *weight,
                              const float *bias, size_t N, size_t C, float eps);
void tn_layernorm_forward_f64(double *y, double *mean, double *rstd, const double *x, const double *weight,
                              const double *bias, size_t N, size_t C, double eps);
/* xhat = (x - mean) rstd;  g = dy weight (dy when weight is NULL);
 * dx = rstd (g - sum_c g / C - xhat sum_c(g xhat) / C);
 * dweight = sum_n dy xhat (not computed when NULL);  dbias = sum_n dy.
 * work: tn_layernorm_backward_work(N, C). */
void tn_layernorm_backward_f32(float *dx, float *dweight, float *dbias, const float *dy, const float *x,
                               const float *weight, const float *mean, const float *rstd, size_t N, size_t C,
                               float *work);
void tn_layernorm_backward_f64(double *dx, double *dweight, double *dbias, const double *dy, const double *x,
                               const double *weight, const double *mean, const double *rstd, size_t N, size_t C,
                               double *work);

/* Fused MLP steps (tn_mlp.c), each the composition of the kernels above in the same
 * order, with the same bits.  A hidden block, x (N,D) -> h (N,H):
 *   hpre = x W^T + b (b may be NULL);  h = tanh(batchnorm(hpre)) as batchnorm_forward;
 * writes h, hpre (N,H), mean, invstd (H).  Requires N > correction.
 * work: tn_linear_batchnorm_tanh_forward_work(N, D, H). */
void tn_linear_batchnorm_tanh_forward_f32(float *h, float *hpre, float *mean, float *invstd, const float *x,
    const float *W, const float *b, const float *gamma, const float *beta, size_t N, size_t D, size_t H, float eps,
    size_t correction, float *work);
void tn_linear_batchnorm_tanh_forward_f64(double *h, double *hpre, double *mean, double *invstd, const double *x,
    const double *W, const double *b, const double *gamma, const double *beta, size_t N, size_t D, size_t H, double eps,
    size_t correction, double *work);
/* ... and its gradients from dh = dL/dh: tanh_backward, batchnorm_backward,
 * linear_backward in turn.  work: tn_linear_batchnorm_tanh_backward_work(N, D, H). */
void tn_linear_batchnorm_tanh_backward_f32(float *dx, float *dW, float *db, float *dgamma, float *dbeta,
    const float *dh, const float *h, const float *x, const float *W, const float *gamma, const float *hpre,
    const float *mean, const float *invstd, size_t N, size_t D, size_t H, size_t correction, float *work);
void tn_linear_batchnorm_tanh_backward_f64(double *dx, double *dW, double *db, double *dgamma, double *dbeta,
    const double *dh, const double *h, const double *x, const double *W, const double *gamma, const double *hpre,
    const double *mean, const double *invstd, size_t N, size_t D, size_t H, size_t correction, double *work);
/* The output layer and its loss, forward and backward at once: logits = x W^T + b
 * (V classes; b may be NULL), returns cross_entropy_forward's loss against targets
 * (N) in [0,V) or equal to ignore_index, and writes dx (N,D), dW (V,D), db (V) from its
 * gradient.  work: tn_linear_cross_entropy_work(N, D, V). */
double tn_linear_cross_entropy_f32(float *dx, float *dW, float *db, const float *x, const float *W, const float *b,
                                   const int64_t *targets, size_t N, size_t D, size_t V, int mean,
                                   int64_t ignore_index, float *work);
double tn_linear_cross_entropy_f64(double *dx, double *dW, double *db, const double *x, const double *W,
                                   const double *b, const int64_t *targets, size_t N, size_t D, size_t V, int mean,
                                   int64_t ignore_index, double *work);

/* Causal multi-head self-attention (GPT-2's; llm.c's attention_forward), from the packed
 * projections qkv (B,T,3C): q, k, v side by side, each split into n_head heads of
 * hs = C / n_head columns (head h: columns h hs .. h hs + hs - 1 of each).  Per sequence b
 * and head h, for j <= i:
 *   att[b,h,i,j] = softmax over j of (q_i . k_j / sqrt(hs)), 0 for j > i (max-subtracted
 *   over j <= i);  out[b,i,h hs + d] = sum over j <= i of att[b,h,i,j] v_j[d].
 * out (B,T,C), att (B,n_head,T,T).  Requires n_head >= 1 dividing C (hs = 0 gives
 * logits of 0).  Runs on up to `threads` threads (tn_attention_threads: as many as the
 * size pays for), with the same bits for any count.
 * work: tn_attention_forward_work(T, C, n_head, threads). */
void tn_attention_forward_f32(float *out, float *att, const float *qkv, size_t B, size_t T, size_t C, size_t n_head,
                              int threads, float *work);
void tn_attention_forward_f64(double *out, double *att, const double *qkv, size_t B, size_t T, size_t C,
                              size_t n_head, int threads, double *work);
/* ... and dqkv (B,T,3C) from dout = dL/dout (B,T,C) and the forward's att, whose upper
 * triangle is not read (dS = att (datt - rowsum(att datt)), datt = dout_h v_h^T):
 *   dq_h = dS k_h / sqrt(hs),  dk_h = dS^T q_h / sqrt(hs),  dv_h = att^T dout_h.
 * A token's results never depend on a later token's values, inf and NaN included.
 * work: tn_attention_backward_work(T, C, n_head, threads). */
void tn_attention_backward_f32(float *dqkv, const float *dout, const float *qkv, const float *att, size_t B, size_t T,
                               size_t C, size_t n_head, int threads, float *work);
void tn_attention_backward_f64(double *dqkv, const double *dout, const double *qkv, const double *att, size_t B,
                               size_t T, size_t C, size_t n_head, int threads, double *work);

/* Vanilla RNN: h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h), h_{-1} = h0.
 * Input is either x (T,B,D) floats or tokens (T,B) in [0,D) (one-hot implied); the
 * other pointer is NULL.  h0 (B,H) may be NULL for zeros.  hs (T,B,H) out. */
void tn_rnn_forward_f32(float *hs, const float *x, const int64_t *tokens, const float *h0, const float *W_xh,
                        const float *W_hh, const float *b_h, size_t T, size_t B, size_t D, size_t H, float *work);
void tn_rnn_forward_f64(double *hs, const double *x, const int64_t *tokens, const double *h0, const double *W_xh,
                        const double *W_hh, const double *b_h, size_t T, size_t B, size_t D, size_t H, double *work);
/* Backpropagation through time from dhs = dL/dhs (T,B,H).  bptt_steps == 0 is full
 * BPTT; k > 0 lets the gradient of step t's loss reach steps t..t-k+1 only (and h0 /
 * x_s / the weights through those steps).  dx (T,B,D) must be NULL for token input;
 * dh0 (B,H), dW_xh (H,D), dW_hh (H,H), db_h (H) are written (NULL skips dx, dh0). */
void tn_rnn_backward_f32(float *dx, float *dh0, float *dW_xh, float *dW_hh, float *db_h, const float *dhs,
                         const float *x, const int64_t *tokens, const float *h0, const float *hs, const float *W_xh,
                         const float *W_hh, size_t T, size_t B, size_t D, size_t H, size_t bptt_steps, float *work);
void tn_rnn_backward_f64(double *dx, double *dh0, double *dW_xh, double *dW_hh, double *db_h, const double *dhs,
                         const double *x, const int64_t *tokens, const double *h0, const double *hs, const double *W_xh,
                         const double *W_hh, size_t T, size_t B, size_t D, size_t H, size_t bptt_steps, double *work);
/* min-char-rnn's lossFun in one call: forward over tokens (T,B) in [0,D), logits =
 * W_hy h_t + b_y over V classes, cross-entropy against targets (T,B) in [0,V), summed
 * (mean != 0: averaged over T*B), and BPTT.  Writes the five gradients and h_last
 * (B,H); returns the loss.  h0 may be NULL for zeros. */
double tn_rnn_lm_loss_f32(float *dW_xh, float *dW_hh, float *db_h, float *dW_hy, float *db_y, float *h_last,
                          const int64_t *inputs, const int64_t *targets, const float *h0, const float *W_xh,
                          const float *W_hh, const float *b_h, const float *W_hy, const float *b_y, size_t T, size_t B,
                          size_t D, size_t H, size_t V, size_t bptt_steps, int mean, float *work);
double tn_rnn_lm_loss_f64(double *dW_xh, double *dW_hh, double *db_h, double *dW_hy, double *db_y, double *h_last,
                          const int64_t *inputs, const int64_t *targets, const double *h0, const double *W_xh,
                          const double *W_hh, const double *b_h, const double *W_hy, const double *b_y, size_t T,
                          size_t B, size_t D, size_t H, size_t V, size_t bptt_steps, int mean, double *work);
/* Generate n tokens for each of B sequences: h = tanh(W_xh[:, tok] + W_hh h + b_h),
 * p = softmax((W_hy h + b_y) / temperature), next tok = argmax p (greedy; first max,
 * NaN counts as max, as np.argmax) or a draw from p with tn_rng_uniform(rng): the
 * first i with u < cumsum(p)[i] (cumsum in double), else the last i with p_i > 0.
 * out (n, B); start (B) in [0, D); output tokens index W_xh columns, so V <= D. */
void tn_rnn_sample_f32(int64_t *out, const float *h0, const int64_t *start, size_t n, const float *W_xh,
                       const float *W_hh, const float *b_h, const float *W_hy, const float *b_y, size_t B, size_t D,
                       size_t H, size_t V, float temperature, int greedy, uint64_t *rng, float *work);
void tn_rnn_sample_f64(int64_t *out, const double *h0, const int64_t *start, size_t n, const double *W_xh,
                       const double *W_hh, const double *b_h, const double *W_hy, const double *b_y, size_t B, size_t D,
                       size_t H, size_t V, double temperature, int greedy, uint64_t *rng, double *work);

/* LSTM, one layer, as torch.nn.LSTM: for each step, a = W_ih x_t + b_ih + W_hh h_{t-1}
 * + b_hh (4H, blocks i, f, g, o); i, f, o = sigmoid, g = tanh of their blocks;
 * c_t = f c_{t-1} + i g; h_t = o tanh(c_t).  Input x (T,B,D) floats or tokens (T,B) in
 * [0,D) (the other NULL); W_ih (4H,D), W_hh (4H,H); h0, c0 (B,H), b_ih, b_hh (4H) may be
 * NULL (zeros).  Writes hs, cs (T,B,H) and gates (T,B,4H): i, f, g, o as activated. */
void tn_lstm_forward_f32(float *hs, float *cs, float *gates, const float *x, const int64_t *tokens, const float *h0,
                         const float *c0, const float *W_ih, const float *W_hh, const float *b_ih, const float *b_hh,
                         size_t T, size_t B, size_t D, size_t H, float *work);
void tn_lstm_forward_f64(double *hs, double *cs, double *gates, const double *x, const int64_t *tokens,
                         const double *h0, const double *c0, const double *W_ih, const double *W_hh, const double *b_ih,
                         const double *b_hh, size_t T, size_t B, size_t D, size_t H, double *work);
/* Full BPTT through tn_lstm_forward from dhs = dL/dhs (T,B,H) and dc_n = dL/dc_{T-1}
 * (B,H; NULL: zeros).  Writes dW_ih (4H,D), dW_hh (4H,H), db_ih (4H) and, unless NULL,
 * dx (T,B,D; NULL for token input), dh0, dc0 (B,H), db_hh (4H, equal to db_ih). */
void tn_lstm_backward_f32(float *dx, float *dh0, float *dc0, float *dW_ih, float *dW_hh, float *db_ih, float *db_hh,
                          const float *dhs, const float *dc_n, const float *x, const int64_t *tokens, const float *h0,
                          const float *c0, const float *hs, const float *cs, const float *gates, const float *W_ih,
                          const float *W_hh, size_t T, size_t B, size_t D, size_t H, float *work);
void tn_lstm_backward_f64(double *dx, double *dh0, double *dc0, double *dW_ih, double *dW_hh, double *db_ih,
                          double *db_hh, const double *dhs, const double *dc_n, const double *x, const int64_t *tokens,
                          const double *h0, const double *c0, const double *hs, const double *cs, const double *gates,
                          const double *W_ih, const double *W_hh, size_t T, size_t B, size_t D, size_t H, double *work);
/* GRU, one layer, as torch.nn.GRU: gi = W_ih x_t + b_ih, gh = W_hh h_{t-1} + b_hh (3H,
 * blocks r, z, n); r = sigmoid(gi_r + gh_r), z = sigmoid(gi_z + gh_z),
 * n = tanh(gi_n + r gh_n), h_t = (1 - z) n + z h_{t-1}.  Inputs as for the LSTM, with
 * W_ih (3H,D), W_hh (3H,H), b_ih, b_hh (3H).  Writes hs (T,B,H), gates (T,B,3H): r, z, n,
 * and gh_n (T,B,H), the n block of gh. */
void tn_gru_forward_f32(float *hs, float *gates, float *gh_n, const float *x, const int64_t *tokens, const float *h0,
                        const float *W_ih, const float *W_hh, const float *b_ih, const float *b_hh, size_t T, size_t B,
                        size_t D, size_t H, float *work);
void tn_gru_forward_f64(double *hs, double *gates, double *gh_n, const double *x, const int64_t *tokens,
                        const double *h0, const double *W_ih, const double *W_hh, const double *b_ih,
                        const double *b_hh, size_t T, size_t B, size_t D, size_t H, double *work);
/* Full BPTT through tn_gru_forward from dhs = dL/dhs (T,B,H).  Writes dW_ih (3H,D),
 * dW_hh (3H,H), db_ih, db_hh (3H) and, unless NULL, dx (T,B,D; NULL for token input) and
 * dh0 (B,H). */
void tn_gru_backward_f32(float *dx, float *dh0, float *dW_ih, float *dW_hh, float *db_ih, float *db_hh,
                         const float *dhs, const float *x, const int64_t *tokens, const float *h0, const float *hs,
                         const float *gates, const float *gh_n, const float *W_ih, const float *W_hh, size_t T,
                         size_t B, size_t D, size_t H, float *work);
void tn_gru_backward_f64(double *dx, double *dh0, double *dW_ih, double *dW_hh, double *db_ih, double *db_hh,
                         const double *dhs, const double *x, const int64_t *tokens, const double *h0, const double *hs,
                         const double *gates, const double *gh_n, const double *W_ih, const double *W_hh, size_t T,
                         size_t B, size_t D, size_t H, double *work);

/* In-place optimizers over n values. */
/* p -= lr g */
void tn_sgd_step_f32(float *param, const float *grad, size_t n, float lr);
void tn_sgd_step_f64(double *param, const double *grad, size_t n, double lr);
/* mem += g^2;  p -= lr g / sqrt(mem + eps)   (min-char-rnn's Adagrad) */
void tn_adagrad_step_f32(float *param, const float *grad, float *mem, size_t n, float lr, float eps);
void tn_adagrad_step_f64(double *param, const double *grad, double *mem, size_t n, double lr, double eps);
/* AdamW exactly as PyTorch's single-tensor path, step t >= 1:
 * p *= 1 - lr wd;  m += (g - m)(1 - b1);  v = b2 v + (1 - b2) g^2;
 * p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps). */
void tn_adam_step_f32(float *param, const float *grad, float *m, float *v, size_t n, int64_t t, double lr, double beta1,
                      double beta2, double eps, double weight_decay);
void tn_adam_step_f64(double *param, const double *grad, double *m, double *v, size_t n, int64_t t, double lr,
                      double beta1, double beta2, double eps, double weight_decay);
/* torch.optim's algorithms over `count` tensors at once, tensor i of n[i] values (its
 * param[i], grad[i] and states); grad[i] NULL skips tensor i.  *step[i] counts tensor
 * i's steps: incremented before use (t, from 1), as torch's state["step"].
 * SGD: g = grad + weight_decay p; with momentum != 0, buf = g on the first step, else
 * buf = momentum buf + (1 - dampening) g, and g = g + momentum buf (nesterov) or buf;
 * p -= lr g.  buf and step are not used without momentum (NULL allowed).  Without
 * momentum and weight decay: tn_sgd_step's arithmetic. */
void tn_sgd_foreach_f32(float *const *param, const float *const *grad, float *const *buf, int64_t *const *step,
                        const size_t *n, size_t count, double lr, double momentum, double dampening,
                        double weight_decay, int nesterov);
void tn_sgd_foreach_f64(double *const *param, const double *const *grad, double *const *buf, int64_t *const *step,
                        const size_t *n, size_t count, double lr, double momentum, double dampening,
                        double weight_decay, int nesterov);
/* Adam: decoupled != 0 is AdamW, tn_adam_step for each tensor; else torch.optim.Adam,
 * the weight decay added to the gradient (g = grad + weight_decay p, no decay of p). */
void tn_adam_foreach_f32(float *const *param, const float *const *grad, float *const *m, float *const *v,
                         int64_t *const *step, const size_t *n, size_t count, double lr, double beta1, double beta2,
                         double eps, double weight_decay, int decoupled);
void tn_adam_foreach_f64(double *const *param, const double *const *grad, double *const *m, double *const *v,
                         int64_t *const *step, const size_t *n, size_t count, double lr, double beta1, double beta2,
                         double eps, double weight_decay, int decoupled);
/* torch.optim.Adagrad: g = grad + weight_decay p; sum += g^2;
 * p -= lr / (1 + (t - 1) lr_decay) * g / (sqrt(sum) + eps)   (eps outside the root). */
void tn_adagrad_foreach_f32(float *const *param, const float *const *grad, float *const *sum, int64_t *const *step,
                            const size_t *n, size_t count, double lr, double eps, double weight_decay,
                            double lr_decay);
void tn_adagrad_foreach_f64(double *const *param, const double *const *grad, double *const *sum,
                            int64_t *const *step, const size_t *n, size_t count, double lr, double eps,
                            double weight_decay, double lr_decay);
/* g = min(max(g, lo), hi); NaN stays NaN. */
void tn_clip_f32(float *g, size_t n, float lo, float hi);
void tn_clip_f64(double *g, size_t n, double lo, double hi);

#ifdef __cplusplus
}
#endif

#endif /* TINYNET_H */
