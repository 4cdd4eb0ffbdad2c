import Foundation
import ReluMIP

/// Writes networks in the `.nnet` text format (the ACAS Xu format), for reader and command tests.
public enum NNetWriter {
  /// The text of a `.nnet` file holding `network` (ReLU hidden layers, an affine last layer),
  /// with neutral normalization lines (minimum −1, maximum 1, mean 0, range 1). Values are
  /// written with full precision, so reading the text back gives the same network.
  public static func text(_ network: Network, comment: String = "written by the tests") -> String {
    let sizes = [network.inputSize] + network.layers.map(\.outputSize)
    let n = network.inputSize
    func row(_ values: [Double]) -> String { values.map { "\($0)," }.joined() }
    var lines = [
      "// \(comment)",
      "\(network.layers.count),\(n),\(network.outputSize),\(sizes.max()!),",
      row(sizes.map(Double.init)).replacingOccurrences(of: ".0,", with: ","),
      "0,",
      row([Double](repeating: -1, count: n)),
      row([Double](repeating: 1, count: n)),
      row([Double](repeating: 0, count: n + 1)),
      row([Double](repeating: 1, count: n + 1)),
    ]
    for layer in network.layers {
      for i in 0..<layer.outputSize { lines.append(row(Array(layer.row(i)))) }
      for value in layer.bias { lines.append("\(value),") }
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// Writes `network` to `url` as `.nnet` text.
  public static func write(_ network: Network, to url: URL) throws {
    try text(network).write(to: url, atomically: true, encoding: .utf8)
  }
}

/// Independent checks of VNN-LIB answers.
public enum UnsafeSet {
  /// The index of a case of `property` whose box holds `input` and one of whose goals (all its
  /// conditions ≥ 0) `outputs` reach; nil if `input` is not a counterexample. A case without
  /// goals makes every input of its box unsafe.
  public static func caseReached(
    by input: [Double], outputs: [Double], in property: VNNLibProperty
  ) -> Int? {
    guard input.count == property.inputCount, outputs.count == property.outputCount else {
      return nil
    }
    return property.cases.indices.first { index in
      let each = property.cases[index]
      let inBox = input.indices.allSatisfy {
        each.lower[$0] <= input[$0] && input[$0] <= each.upper[$0]
      }
      return inBox
        && (each.goals.isEmpty
          || each.goals.contains { goal in goal.conditions.allSatisfy { $0.value(outputs) >= 0 } })
    }
  }
}
