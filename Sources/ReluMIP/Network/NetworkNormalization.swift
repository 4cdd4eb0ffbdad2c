extension Network {
  /// The same function as a chain of ReLU layers and one affine output layer: identity layers
  /// are merged into the next affine one, and a final ReLU gets an identity layer after it.
  package func normalizedForEncoding() throws -> Network {
    var merged: [DenseLayer] = []
    var pending: DenseLayer?
    for layer in layers {
      let combined = pending.map { layer.composed(after: $0) } ?? layer
      if combined.activation == .identity {
        pending = combined
      } else {
        merged.append(combined)
        pending = nil
      }
    }
    if let pending {
      merged.append(pending)
    } else if let last = merged.last {
      merged.append(DenseLayer.identity(last.outputSize))
    }
    // Products of large weights can overflow; such a layer must be refused, never used.
    for (index, layer) in merged.enumerated() {
      if let bad = (layer.weights + layer.bias).first(where: { !$0.isFinite }) {
        throw NetworkError.invalidLayer(
          "merging the affine operations before layer \(index) gives a weight of \(bad)")
      }
    }
    return try Network(
      layers: merged, inputShape: inputShape, notes: notes, reference: reference)
  }
}

extension DenseLayer {
  /// `self ∘ inner`, where `inner` must be affine (identity activation).
  func composed(after inner: DenseLayer) -> DenseLayer {
    precondition(inner.activation == .identity && inner.outputSize == inputSize)
    var weights = [Double](repeating: 0, count: outputSize * inner.inputSize)
    var bias = self.bias
    for i in 0..<outputSize {
      for k in 0..<inputSize {
        let w = self.weights[i * inputSize + k]
        if w == 0 { continue }
        bias[i] += w * inner.bias[k]
        for j in 0..<inner.inputSize {
          weights[i * inner.inputSize + j] += w * inner.weights[k * inner.inputSize + j]
        }
      }
    }
    return DenseLayer(
      unchecked: inner.inputSize, outputSize, weights, bias, activation)
  }

  static func identity(_ size: Int) -> DenseLayer {
    var weights = [Double](repeating: 0, count: size * size)
    for i in 0..<size { weights[i * size + i] = 1 }
    return DenseLayer(
      unchecked: size, size, weights, [Double](repeating: 0, count: size), .identity)
  }
}
