import Logging

/// A swift-log handler that writes through an ErrorLog: gunicorn's text lines (`[time] [pid]
/// [LEVEL] message`) on stderr or in a file. Metadata is for the journal; text lines stay as
/// gunicorn's.
public struct ErrorLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let errorLog: ErrorLog

    public init(_ errorLog: ErrorLog) {
        self.errorLog = errorLog
    }

    /// The ErrorLog's own level, so that a reload's new loglevel applies at once.
    public var logLevel: Logger.Level {
        get {
            switch errorLog.level {
            case .debug: .debug
            case .info: .info
            case .warning: .warning
            case .error: .error
            case .critical: .critical
            }
        }
        set {}
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let level: ErrorLog.Level = switch event.level {
        case .trace, .debug: .debug
        case .info, .notice: .info
        case .warning: .warning
        case .error: .error
        case .critical: .critical
        }
        errorLog.log(level, "\(event.message)")
    }
}
