extension CounterexamplePicture.Caption {
  /// The caption of `counterexample`, found around `center`: each point's label and the
  /// probability the model gives it there, by the model as read (`Network.reference`, on which
  /// every counterexample is re-checked), and the distance in `norm`.
  public init(
    center: [Double], counterexample: Counterexample, network: Network, norm: PerturbationNorm,
    labelNames: [String]? = nil
  ) {
    let reference = network.reference
    let centerLogits = reference.evaluate(center)
    let originalLabel = Network.argmax(centerLogits)
    let counterexampleLabel = counterexample.predictedLabel
    let probabilities = reference.probabilities(logits: reference.evaluate(counterexample.input))
    self.init(
      originalLabel: originalLabel,
      originalConfidence: reference.probabilities(logits: centerLogits)[originalLabel],
      counterexampleLabel: counterexampleLabel,
      counterexampleConfidence: probabilities[counterexampleLabel],
      normName: norm.asciiName, distance: counterexample.distance, labelNames: labelNames)
  }
}

extension PerturbationNorm {
  /// "L1" or "Linf": the symbol in the letters of the pictures' font, which has no ∞.
  public var asciiName: String { self == .l1 ? "L1" : "Linf" }
}
