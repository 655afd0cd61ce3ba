"""Models derived from the graph: the deployable QKeras model hls4ml converts, and the float reference.

The QKeras model carries the graph's quantised weights (on the grid, so QKeras' quantisers keep
them), the quantisers of every node and, for the sum of squares, a ``Dot(axes=1)`` layer, which
hls4ml converts exactly when its accumulator type is set (:mod:`aa_trigger.firmware.hls.writer`);
element-wise squares are a ``Multiply`` layer with an exact result type, computed in float64 like
the plain ``Dense`` that weights them (float32 would round their weighted sum; the weights are on
their grid already, so no quantiser is needed there).
The float reference is the same network with the trained float weights and no quantisation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from aa_trigger.firmware.graph import Dense, FixedGraph, Quantize, Relu, Squares


def keras_model(graph: FixedGraph) -> Any:
    """The deployable QKeras model of the graph (layer names of the graph's nodes)."""
    import tensorflow as tf
    from qkeras import QActivation, QDense

    x = inp = tf.keras.Input((graph.n_features,), name=graph.input_name)
    weights = []
    wide = False  # after element-wise squares: float64 (float32 would round the weighted sum)
    hgq = any(isinstance(n, Quantize) for n in graph.nodes)  # HGQ's proxy layers: plain Dense, exact outputs
    for node in graph.nodes:
        if isinstance(node, Quantize):
            from HGQ.proxy import FixedPointQuantizer

            k, b, i = (np.asarray(v, np.int8)[None, :] for v in (node.signed, node.width, node.int_bits))
            x = FixedPointQuantizer(k, b, i, node.rounding, "SAT", name=node.name)(x)
        elif isinstance(node, Relu):
            x = tf.keras.layers.ReLU(name=node.name)(x)
        elif isinstance(node, Dense) and hgq:
            dense = tf.keras.layers.Dense(node.n_out, name=node.name)
            x = dense(x)
            weights.append((dense, [node.kernel * 2.0**-node.w_frac, node.bias * 2.0**-node.b_frac]))
        elif isinstance(node, Dense):
            if wide:  # weights already on their grid and an exact output: no quantiser needed
                assert node.out_q is None and not node.relu, "only an exact linear layer follows the squares"
                dense = tf.keras.layers.Dense(node.n_out, dtype="float64", name=node.name)
            else:
                dense = QDense(node.n_out, kernel_quantizer=node.kernel_q.qkeras(),
                               bias_quantizer=node.bias_q.qkeras(), name=node.name)
            x = dense(x)
            weights.append((dense, [node.kernel * 2.0**-node.w_frac, node.bias * 2.0**-node.b_frac]))
            if node.out_q is not None:
                x = QActivation(node.out_q.qkeras(), name=node.act_name)(x)
        elif isinstance(node, Squares):
            x = tf.keras.layers.Multiply(dtype="float64", name=node.name)([x, x])
            wide = True
        else:
            x = tf.keras.layers.Dot(axes=1, name=node.name)([x, x])
    model = tf.keras.Model(inp, x, name=f"aa_trigger_{graph.score}")
    for layer, w in weights:
        layer.set_weights([np.asarray(v, np.float32) for v in w])
    return model


def keras_scores(model: Any, x_int: np.ndarray, input_frac: int, batch: int = 16384) -> np.ndarray:
    """QKeras scores of integer inputs (float32 holds every input of up to 24 bits exactly)."""
    x = (np.asarray(x_int) * 2.0**-input_frac).astype(np.float32)
    return model.predict(x, batch_size=batch, verbose=0)[:, 0].astype(np.float64)


def float_reference(graph: FixedGraph, x_int: np.ndarray, input_frac: int) -> np.ndarray:
    """The trained network without quantisation (float weights, float activations), float64."""
    h = np.asarray(x_int, np.float64) * 2.0**-input_frac
    for node in graph.nodes:
        if isinstance(node, Quantize):  # HGQ's conversions: none in the float network
            continue
        if isinstance(node, Relu):
            h = np.maximum(h, 0.0)
        elif isinstance(node, Dense):
            h = h @ node.float_kernel + node.float_bias
            if node.relu:
                h = np.maximum(h, 0.0)
        elif isinstance(node, Squares):
            h = h**2
        else:
            h = np.sum(h**2, axis=1, keepdims=True)
    return h[:, 0]
