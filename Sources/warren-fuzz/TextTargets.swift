/// Targets for text that users write: zoo.cfg, zkfs file names, and the AdminServer's request lines.

import Foundation
import WarrenAdmin
import WarrenCore
import WarrenServer
import ZKFS

extension Fuzz {
    static let textTargets = [
        FuzzTarget(name: "zoocfg", summary: "zoo.cfg text for ServerConfig.parse", run: fuzzZooCfg),
        FuzzTarget(name: "names", summary: "a zkfs file name for NameSpec.parse", run: fuzzNames),
        FuzzTarget(name: "adminroute", summary: "an HTTP method and URI for AdminRoute.route and the JSON answers",
                   run: fuzzAdminRoute),
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

/// `method uri` (split at the first space). Routing never traps; a command name holds no `/` and no query; the
/// JSON answer to an unknown name is valid JSON that gives the name back unchanged (it is echoed from the URI).
func fuzzAdminRoute(_ input: [UInt8]) {
    let text = String(decoding: input, as: UTF8.self)
    let space = text.firstIndex(of: " ") ?? text.endIndex
    let method = String(text[..<space])
    let uri = space < text.endIndex ? String(text[text.index(after: space)...]) : ""
    for (commandURL, metrics) in [("/commands", true), ("/commands", false), (nil, true)] as [(String?, Bool)] {
        let route = AdminRoute.route(method: method, uri: uri, commandURL: commandURL, metrics: metrics)
        if route == .metrics { expect(metrics, "/metrics routed on a listener without it") }
        guard case .command(let name) = route else { continue }
        expect(commandURL != nil, "a command routed on a listener without the command API")
        expect(!name.contains("/") && !name.contains("?"), "command name '\(name)' holds a path or query")
        let json = AdminCommands.unknown(name).text
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
            expect(false, "answer for '\(name)' is not a JSON object: \(json)")
            continue
        }
        expect(object["command"] as? String == name, "answer names '\(object["command"] ?? "nil")', not '\(name)'")
    }
}
