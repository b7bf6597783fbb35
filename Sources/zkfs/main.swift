import Foundation
import Glibc
import ZKFS

// Before any thread exists: only the FUSE loop's thread may take SIGINT/SIGTERM/SIGHUP (see ZKFSMount).
ZKFSMount.blockStopSignals()
ZKFSCommand.main()
