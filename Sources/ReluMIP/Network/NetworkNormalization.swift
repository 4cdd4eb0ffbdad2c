extension Network {
  /// The same function as a chain of ReLU layers and one affine output layer: identity layers
  /// are merged into the next affine one, and a final ReLU gets an identity layer after it.
  package func normalizedForEncoding() throws -> Network {
    var merged: [AffineLayer] = []
    var pending: AffineLayer?
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
      merged.append(AffineLayer.identity(last.outputSize))
    }
    // Products of large weights can overflow; such a layer must be refused, never used.
    for (index, layer) in merged.enumerated() {
      if let bad = (layer.matrix.storedValues + layer.bias).first(where: { !$0.isFinite }) {
        throw NetworkError.invalidLayer(
          "merging the affine operations before layer \(index) gives a weight of \(bad)")
      }
    }
    return try Network(
      layers: merged, inputShape: inputShape, notes: notes, reference: reference)
  }
}

extension AffineLayer {
  /// `self ∘ inner`, where `inner` must be affine (identity activation).
  func composed(after inner: AffineLayer) -> AffineLayer {
    precondition(inner.activation == .identity && inner.outputSize == inputSize)
    var bias = self.bias
    for i in 0..<outputSize {
      matrix.forEachEntry(inRow: i) { k, w in bias[i] += w * inner.bias[k] }
    }
    return AffineLayer(unchecked: matrix.composed(after: inner.matrix), bias, activation)
  }

  static func identity(_ size: Int) -> AffineLayer {
    AffineLayer(
      unchecked: .identity(size), [Double](repeating: 0, count: size), .identity)
  }
}
