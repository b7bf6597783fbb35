/// warren-fuzz: the fuzz targets of issue 14 in one executable (see Tests/fuzz/run.sh).
///
///     warren-fuzz list
///     warren-fuzz replay TARGET PATH...      inputs (files or corpus directories) through TARGET, no fuzzer needed
///     warren-fuzz seed REPO OUTDIR           writes seed corpora (from REPO's fixtures and writers): OUTDIR/TARGET/...
///     warren-fuzz TARGET [libFuzzer args]    fuzzes TARGET; only in a build with -sanitize=fuzzer -DWARREN_FUZZING

import Foundation

func usage() -> Never {
    FileHandle.standardError.write(Data("""
        usage: warren-fuzz list | replay TARGET PATH... | seed REPO OUTDIR | TARGET [libFuzzer options]
        targets: \(Fuzz.targets.map(\.name).joined(separator: " "))

        """.utf8))
    exit(2)
}

let args = CommandLine.arguments
guard args.count >= 2 else { usage() }
switch args[1] {
case "list":
    for t in Fuzz.targets { print("\(t.name)\t\(t.summary)") }
case "replay":
    guard args.count >= 4, let target = Fuzz.target(named: args[2]) else { usage() }
    let (passed, failed) = replay(target, paths: Array(args[3...]))
    print("\(target.name): \(passed) passed, \(failed) failed")
    exit(failed == 0 ? 0 : 1)
case "seed":
    guard args.count == 4 else { usage() }
    #if DEBUG || WARREN_FUZZING
    do {
        try Seeds.write(repo: args[2], to: args[3])
    } catch {
        FileHandle.standardError.write(Data("seed: \(error)\n".utf8))
        exit(1)
    }
    #else
    usage()
    #endif
default:
    guard let target = Fuzz.target(named: args[1]) else { usage() }
    selectedTarget = target
    runFuzzer()
}
