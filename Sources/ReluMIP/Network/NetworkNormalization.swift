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

extension Network {
  /// The network that takes pixels: `(x − mean) / std` per channel, then this network, for a
  /// model trained on normalised inputs, so that radii and the box are in pixel units. `mean`
  /// and `std` hold one value per channel (the first dimension of the input shape, leading 1s
  /// aside) or one for all.
  public func prependingNormalization(mean: [Double], std: [Double]) throws -> Network {
    guard !mean.isEmpty, mean.count == std.count else {
      throw NetworkError.invalidLayer(
        "--mean gives \(mean.count) values and --std \(std.count); give one per channel")
    }
    guard mean.allSatisfy(\.isFinite), std.allSatisfy({ $0.isFinite && $0 > 0 }) else {
      throw NetworkError.invalidLayer(
        "the normalisation needs finite means and positive standard deviations, not \(mean) and \(std)"
      )
    }
    let channels = inputShape.drop { $0 == 1 }.first ?? 1
    guard mean.count == 1 || (mean.count == channels && inputSize % channels == 0) else {
      throw NetworkError.invalidLayer(
        "\(mean.count) channel values for an input of shape \(inputShape) (\(channels) channels)")
    }
    let perChannel = inputSize / mean.count
    let pixelMean = (0..<inputSize).map { mean[$0 / perChannel] }
    let pixelStd = (0..<inputSize).map { std[$0 / perChannel] }
    let normalisation = AffineLayer(
      unchecked: .diagonal(pixelStd.map { 1 / $0 }),
      zip(pixelMean, pixelStd).map { -$0 / $1 }, .identity)
    var layers = self.layers
    layers[0] = layers[0].composed(after: normalisation)
    var reference = self.reference
    reference.operations = [.subtract(pixelMean), .divide(pixelStd)] + reference.operations
    var network = try Network(
      layers: layers, inputShape: inputShape,
      notes: notes + [
        "inputs are normalised per channel, (x − \(mean)) / \(std), before the model"
      ],
      reference: reference)
    network.structure = ["Normalize (x − \(mean)) / \(std) → \(inputShape)"] + structure
    return network
  }
}
