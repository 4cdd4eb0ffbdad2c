import ArgumentParser
import ReluMIP

struct InfoCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "info",
    abstract: "Print a network's layers as ReluMIP reads them."
  )

  @Argument(help: "The network: an ONNX file.")
  var model: String

  func run() throws {
    let network = try ModelLoader.load(path: model)
    print(Self.describe(network, path: model))
  }

  static func describe(_ network: Network, path: String) -> String {
    var rows = [
      ["Layer", "Storage", "Inputs", "Outputs", "Activation", "Parameters", "Weights < 1e-9"]
    ]
    for (index, layer) in network.layers.enumerated() {
      let stored = layer.matrix.storedValues
      let tiny = stored.filter { $0 != 0 && abs($0) < 1e-9 }.count
      rows.append([
        "\(index + 1)", layer.matrix.isSparse ? "sparse" : "dense", "\(layer.inputSize)",
        "\(layer.outputSize)", layer.activation.rawValue, "\(stored.count + layer.bias.count)",
        "\(tiny)",
      ])
    }
    var lines = [
      "Model \(path)",
      "Input shape \(network.inputShape) (\(network.inputSize) values), \(network.outputSize) outputs",
    ]
    if !network.structure.isEmpty {
      lines.append("")
      lines.append("Operations in the file:")
      for (index, line) in network.structure.enumerated() {
        lines.append("  \(index + 1). \(line)")
      }
    }
    lines.append("")
    lines.append("Layers as the searches see them (affine operations merged):")
    lines.append(HumanReport.table(rows))
    if network.structure.contains(where: { $0.hasPrefix("MaxPool") }) {
      lines.append(
        "Note: each MaxPool window is a tree of pairwise maxima, max(a, b) = b + ReLU(a − b): its"
          + " ReLU layers follow the one before it.")
    }
    for note in network.notes { lines.append("Note: \(note)") }
    return lines.joined(separator: "\n")
  }
}
