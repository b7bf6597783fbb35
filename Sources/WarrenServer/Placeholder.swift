// The server shell lands here (developed in a separate worktree to keep this tree compiling).
