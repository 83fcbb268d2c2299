/// The int corrald sends with a worker's TERM (sigqueue) to say why it stops.
public enum WorkerSignal {
    /// Replaced while corrald serves on (a reload, fewer workers, a recycle): not a shutdown.
    public static let replaced: Int32 = 1
}
