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
    var rows = [["Layer", "Inputs", "Outputs", "Activation", "Parameters", "Weights < 1e-9"]]
    for (index, layer) in network.layers.enumerated() {
      let stored = layer.matrix.storedValues
      let tiny = stored.filter { $0 != 0 && abs($0) < 1e-9 }.count
      rows.append([
        "dense \(index + 1)", "\(layer.inputSize)", "\(layer.outputSize)",
        layer.activation.rawValue,
        "\(stored.count + layer.bias.count)", "\(tiny)",
      ])
    }
    var lines = [
      "Model \(path)",
      "Input shape \(network.inputShape) (\(network.inputSize) values), \(network.outputSize) outputs",
      "",
      HumanReport.table(rows),
    ]
    for note in network.notes { lines.append("Note: \(note)") }
    return lines.joined(separator: "\n")
  }
}
