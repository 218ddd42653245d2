/* wrap/functions.h -- the one list of tinynet's functions, in the order of the API table.
 *
 * TN_FUNCTION(name, layer): the Python function `name`, its entry point py_<name> in
 * csrc/wrap/<layer>.h, its kernels tn_<name>_f32 / tn_<name>_f64 (the trailing "_" of
 * an in-place name dropped) in csrc/tn_<layer>.c, and its NumPy twin
 * tinynet.reference.<name>, whose docstring both engines show.  From this list come the
 * module's method table and tinynet._core.FUNCTIONS (and so tinynet.__all__, the stubs'
 * check and the tests' function lists).  Included with TN_FUNCTION defined, as often as
 * a list is needed: no include guard. */

/* layers: forward / backward pairs */
TN_FUNCTION(linear_forward, linear)
TN_FUNCTION(linear_backward, linear)
TN_FUNCTION(tanh_forward, linear)
TN_FUNCTION(tanh_backward, linear)
TN_FUNCTION(sigmoid_forward, linear)
TN_FUNCTION(sigmoid_backward, linear)
TN_FUNCTION(relu_forward, linear)
TN_FUNCTION(relu_backward, linear)
TN_FUNCTION(gelu_forward, linear)
TN_FUNCTION(gelu_backward, linear)
TN_FUNCTION(softmax, linear)
TN_FUNCTION(cross_entropy_forward, linear)
TN_FUNCTION(cross_entropy_backward, linear)
TN_FUNCTION(embedding_forward, embedding)
TN_FUNCTION(embedding_backward, embedding)
TN_FUNCTION(batchnorm_forward, norm)
TN_FUNCTION(batchnorm_backward, norm)
TN_FUNCTION(batchnorm_inference, norm)
TN_FUNCTION(layernorm_forward, norm)
TN_FUNCTION(layernorm_backward, norm)
/* an MLP's steps, fused */
TN_FUNCTION(linear_batchnorm_tanh_forward, mlp)
TN_FUNCTION(linear_batchnorm_tanh_backward, mlp)
TN_FUNCTION(linear_cross_entropy, mlp)
/* the transformer's causal self-attention */
TN_FUNCTION(attention_forward, attention)
TN_FUNCTION(attention_backward, attention)
/* the vanilla RNN */
TN_FUNCTION(rnn_forward, rnn)
TN_FUNCTION(rnn_backward, rnn)
TN_FUNCTION(rnn_lm_loss, rnn)
TN_FUNCTION(rnn_sample, rnn)
/* the gated recurrent layers */
TN_FUNCTION(lstm_forward, lstm)
TN_FUNCTION(lstm_backward, lstm)
TN_FUNCTION(gru_forward, gru)
TN_FUNCTION(gru_backward, gru)
/* optimizers and helpers, in place */
TN_FUNCTION(sgd_step_, optim)
TN_FUNCTION(adagrad_step_, optim)
TN_FUNCTION(adam_step_, optim)
TN_FUNCTION(clip_, optim)
/* torch.optim's algorithms over a whole model, one call (tinynet.optim) */
TN_FUNCTION(sgd_foreach_, optim)
TN_FUNCTION(adam_foreach_, optim)
TN_FUNCTION(adagrad_foreach_, optim)
