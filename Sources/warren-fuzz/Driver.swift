import Foundation

#if WARREN_FUZZING
/// libFuzzer's driver, which a Swift executable (it has its own `main`) calls instead of libFuzzer's `main`.
@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// Hands the arguments after the target name to libFuzzer and exits with its status.
func runFuzzer() -> Never {
    // libFuzzer reads argv[0] as the program and the rest as options and corpus directories; drop the target name.
    var argv = [CommandLine.unsafeArgv[0]] + (2..<Int(CommandLine.argc)).map { CommandLine.unsafeArgv[$0] }
    var argc = CInt(argv.count)
    argv.append(nil)  // C's argv ends with a null pointer
    let status = argv.withUnsafeMutableBufferPointer { buffer in
        var base = buffer.baseAddress!
        return LLVMFuzzerRunDriver(&argc, &base, fuzzOneInput)
    }
    exit(status)
}
#else
func runFuzzer() -> Never {
    FileHandle.standardError.write(Data("""
        warren-fuzz: this build has no fuzzer; build with
          swift build -c release --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address \
        -Xswiftc -DWARREN_FUZZING -Xswiftc -enable-testing --product warren-fuzz
        or use: bash Tests/fuzz/run.sh fuzz TARGET SECONDS

        """.utf8))
    exit(2)
}
#endif
