import Glibc
import Logging

/// Logs to syslog(3) (the journal under systemd) once zkfs runs in the background without a terminal.
struct SyslogLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    init() {
        openlog("zkfs", LOG_PID, LOG_DAEMON)
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
             file: String, function: String, line: UInt) {
        let priority: Int32
        switch level {
        case .trace, .debug: priority = LOG_DEBUG
        case .info: priority = LOG_INFO
        case .notice: priority = LOG_NOTICE
        case .warning: priority = LOG_WARNING
        case .error: priority = LOG_ERR
        case .critical: priority = LOG_CRIT
        }
        message.description.withCString { text in
            withVaList([text]) { vsyslog(priority, "%s", $0) }
        }
    }
}
