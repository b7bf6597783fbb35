/// Targets for text that users write: zoo.cfg and zkfs file names.

import WarrenServer
import ZKFS

extension Fuzz {
    static let textTargets = [
        FuzzTarget(name: "zoocfg", summary: "zoo.cfg text for ServerConfig.parse", run: fuzzZooCfg),
        FuzzTarget(name: "names", summary: "a zkfs file name for NameSpec.parse", run: fuzzNames),
    ]
}

/// Whatever the text, `parse` returns a config or throws `ConfigError`; a config it returns has the limits
/// `parse` promises (a positive tick, min timeout not above max).
func fuzzZooCfg(_ input: [UInt8]) {
    do {
        let config = try ServerConfig.parse(String(decoding: input, as: UTF8.self))
        expect(config.tickTimeMs > 0, "tickTime \(config.tickTimeMs) accepted")
        expect(config.effectiveMinSessionTimeoutMs <= config.effectiveMaxSessionTimeoutMs, "min session timeout above max")
    } catch {
        expect(error is ConfigError, "parse threw \(error), not a ConfigError")
    }
}

/// `parse` returns a spec or throws `NameError`. A spec without suffixes names the file as given; the suffixes
/// never leave an "@suffix" in the base that would parse again.
func fuzzNames(_ input: [UInt8]) {
    let name = String(decoding: input, as: UTF8.self)
    do {
        let spec = try NameSpec.parse(name)
        if !spec.hasSuffixes { expect(spec.base == name, "no suffixes, yet base '\(spec.base)' != '\(name)'") }
        expect(name.hasPrefix(spec.base), "base '\(spec.base)' is not a prefix of '\(name)'")
        if spec.hasSuffixes, let again = try? NameSpec.parse(spec.base) {
            expect(!again.hasSuffixes || spec.base.isEmpty, "base '\(spec.base)' of '\(name)' still has suffixes")
        }
    } catch {
        expect(error is NameError, "parse threw \(error), not a NameError")
    }
}
