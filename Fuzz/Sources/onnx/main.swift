import CLibFuzzer
import Foundation
import ReluMIP

/// One libFuzzer input: ONNX bytes. A model that reads must also evaluate.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzONNX(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
  let data = bytes.map { Data(bytes: $0, count: count) } ?? Data()
  if let network = try? ONNXReader.parse(data, file: "fuzz.onnx") {
    _ = network.evaluate([Double](repeating: 0.5, count: network.inputSize))
  }
  return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzONNX))
