import CLibFuzzer
import Foundation
import ReluMIP

/// One libFuzzer input: VNN-LIB text.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVNNLib(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
  let text = String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
  _ = try? VNNLibReader.parse(text, file: "fuzz.vnnlib")
  return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzVNNLib))
