// The walk-through of the getting-started article (Sources/ReluMIP/ReluMIP.docc/GettingStarted.md),
// compiled: is example 0 of the shipped Fashion-MNIST test images robust in the L∞ ball of radius
// 0.01 around it, inside the pixel box [0, 1], against every other label?
//
//     swift run verify-one-example [MODEL.onnx] [IMAGES.npy]
//
// The paths default to the shipped files, relative to the package root. Exit status: 0 once a
// verdict is printed (robust, counterexample or unknown), 1 on an error.
import Foundation
import ReluMIP

let arguments = CommandLine.arguments.dropFirst()
let modelPath = arguments.first ?? "Models/fashion_mlp_50x50.onnx"
let imagesPath = arguments.dropFirst().first ?? "Models/fashion_test100_images.npy"

do {
  // 1. Read the model and the example.
  let network = try ONNXReader.read(path: modelPath)
  let examples = try ExampleReader.read(path: imagesPath)
  let image = try examples.example(0)

  // 2. The region: the L∞ ball of radius 0.01 around the image, intersected with [0, 1].
  let region = try InputRegion(center: image, norm: .linf, radius: 0.01, box: (0, 1))

  // 3. Verify against every other label, within 60 seconds.
  let verifier = try Verifier(network: network)
  var options = VerificationOptions()
  options.target = .all
  options.timeLimit = 60
  let result = try verifier.verify(region: region, options: options)

  // 4. Read the result.
  print("label at example 0: \(result.label)")
  switch result.verdict {
  case .robust:
    print("robust: no input of the region gets another label")
    if let bound = result.bound {
      print("proven bound on output[other] - output[label]: \(bound)")
    }
  case .counterexample:
    if let found = result.counterexample {
      print("counterexample: label \(found.predictedLabel) at L∞ distance \(found.distance)")
      // Already re-checked by the verifier; checking again is one pass of the model as read.
      let logits = network.reference.evaluate(found.input)
      let holds =
        region.contains(found.input) && logits[found.predictedLabel] > logits[result.label]
      print("re-checked here too: \(holds)")
    }
  case .unknown:
    print("unknown: \(result.reason ?? "no reason given")")
  }
  let time = result.timings
  print(
    "settled by \(result.settledBy.rawValue) in "
      + String(format: "%.3f s (bounds %.3f s, solve %.3f s)", time.total, time.bounds, time.solve))
} catch {
  FileHandle.standardError.write(Data("error: \(error)\n".utf8))
  exit(1)
}
