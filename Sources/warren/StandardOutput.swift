#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// Writes and flushes C's `stdout` for the interactive commands. The `stdout` pointer is set by the C library
/// before `main` and never reassigned, and every FILE call locks the stream, so any task may use it; Swift 6
/// cannot know that of a C global, hence the one `@preconcurrency` import, here.
enum StandardOutput {
    static func write(_ text: String) { fputs(text, stdout) }
    static func flush() { fflush(stdout) }
}
