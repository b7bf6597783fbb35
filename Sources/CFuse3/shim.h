#ifndef ZKFS_CFUSE3_SHIM_H
#define ZKFS_CFUSE3_SHIM_H

/* The libfuse 3.12 API: the multi-threaded loop takes a fuse_loop_config made by fuse_loop_cfg_create. */
#define FUSE_USE_VERSION 312

#include <fuse_lowlevel.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/syscall.h>

/* Helpers for what Swift cannot reach directly: function-like macros and bitfields. */

/* Runs the session's multi-threaded loop; returns fuse_session_loop_mt's result (0, -errno or a signal). */
static inline int zkfs_session_loop_mt(struct fuse_session *se, unsigned int max_idle_threads) {
    struct fuse_loop_config *config = fuse_loop_cfg_create();
    if (config == NULL) {
        return -ENOMEM;
    }
    fuse_loop_cfg_set_clone_fd(config, 0);
    fuse_loop_cfg_set_idle_threads(config, max_idle_threads);
    int result = fuse_session_loop_mt(se, config);
    fuse_loop_cfg_destroy(config);
    return result;
}

/* Sets the open-reply bits of a fuse_file_info. */
static inline void zkfs_fi_set_open_bits(struct fuse_file_info *fi, int direct_io, int keep_cache, int noflush) {
    fi->direct_io = direct_io ? 1 : 0;
    fi->keep_cache = keep_cache ? 1 : 0;
    fi->noflush = noflush ? 1 : 0;
}

/* The calling thread's id: what the kernel puts in the pid of a FUSE request the thread causes. */
static inline pid_t zkfs_gettid(void) {
    return (pid_t)syscall(SYS_gettid);
}

/* Marks an open file as not seekable (the event stream). */
static inline void zkfs_fi_set_nonseekable(struct fuse_file_info *fi) {
    fi->nonseekable = 1;
}

/* Asks for capabilities the kernel offers; returns the subset that was granted. */
static inline unsigned int zkfs_conn_want(struct fuse_conn_info *conn, unsigned int caps) {
    unsigned int granted = caps & conn->capable;
    conn->want |= granted;
    return granted;
}

static inline void zkfs_conn_unwant(struct fuse_conn_info *conn, unsigned int caps) {
    conn->want &= ~caps;
}

static const unsigned int ZKFS_CAP_ATOMIC_O_TRUNC = FUSE_CAP_ATOMIC_O_TRUNC;
static const unsigned int ZKFS_CAP_ASYNC_READ = FUSE_CAP_ASYNC_READ;
static const unsigned int ZKFS_CAP_WRITEBACK_CACHE = FUSE_CAP_WRITEBACK_CACHE;
static const unsigned int ZKFS_CAP_PARALLEL_DIROPS = FUSE_CAP_PARALLEL_DIROPS;
static const unsigned int ZKFS_CAP_EXPORT_SUPPORT = FUSE_CAP_EXPORT_SUPPORT;
static const unsigned int ZKFS_CAP_POSIX_LOCKS = FUSE_CAP_POSIX_LOCKS;
static const unsigned int ZKFS_CAP_FLOCK_LOCKS = FUSE_CAP_FLOCK_LOCKS;

static const int ZKFS_SET_ATTR_MODE = FUSE_SET_ATTR_MODE;
static const int ZKFS_SET_ATTR_UID = FUSE_SET_ATTR_UID;
static const int ZKFS_SET_ATTR_GID = FUSE_SET_ATTR_GID;
static const int ZKFS_SET_ATTR_SIZE = FUSE_SET_ATTR_SIZE;
static const int ZKFS_SET_ATTR_ATIME = FUSE_SET_ATTR_ATIME;
static const int ZKFS_SET_ATTR_MTIME = FUSE_SET_ATTR_MTIME;
static const int ZKFS_SET_ATTR_ATIME_NOW = FUSE_SET_ATTR_ATIME_NOW;
static const int ZKFS_SET_ATTR_MTIME_NOW = FUSE_SET_ATTR_MTIME_NOW;
static const int ZKFS_SET_ATTR_CTIME = FUSE_SET_ATTR_CTIME;

#endif
