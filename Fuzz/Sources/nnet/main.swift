import CLibFuzzer
import Foundation
import ReluMIP

/// One libFuzzer input: `.nnet` text. A model that reads must also evaluate.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNNet(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
  let text = String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
  if let network = try? NNetReader.parse(text, file: "fuzz.nnet") {
    _ = network.evaluate([Double](repeating: 0.5, count: network.inputSize))
  }
  return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzNNet))
