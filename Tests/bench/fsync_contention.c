// How a large file written beside transaction logs slows their fdatasync: three threads append 200-byte records
// to their own zero-filled log files and fdatasync each (about 700 a second each, as three servers' logs on one
// disk), while a fourth writes a big file the way a snapshot is written. Prints the logs' fdatasync p50/p99/max.
//
//   gcc -O2 -pthread Tests/bench/fsync_contention.c -o /tmp/fsync_contention
//   cd <a directory on the disk to measure> && /tmp/fsync_contention MODE [WINDOW_KIB [MB_PER_S [FILE_MIB]]]
//
// MODE: -1 no big file (the logs alone); 0 buffered writes left to the kernel's flusher; 1 buffered writes with
// writeback started every WINDOW_KIB and the window before waited for (WarrenStorage's `WriteBehind`); 2 O_DIRECT
// writes into a preallocated file. MB_PER_S paces the big file's writes (0: as fast as they go). Docs/performance.md
// §15 has the numbers that chose `WriteBehind.windowBytes`.
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { loggers = 3, samplesMax = 200000 };

static int mode;
static long windowBytes;
static int mbPerSecond;
static long fileBytes;
static volatile int done;
static double latencyMs[loggers][samplesMax];
static int samples[loggers];

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void *bigFile(void *unused) {
    (void)unused;
    const size_t chunk = 1 << 20;
    usleep(300000);  // the logs' steady state first
    int flags = O_WRONLY | O_CREAT | O_TRUNC | (mode == 2 ? O_DIRECT : 0);
    int fd = open("big.dat", flags, 0644);
    if (fd < 0) { perror("open big.dat"); exit(1); }
    if (mode == 2 && fallocate(fd, 0, 0, fileBytes) != 0) { perror("fallocate"); exit(1); }
    void *buf;
    if (posix_memalign(&buf, 4096, chunk) != 0) exit(1);
    memset(buf, 7, chunk);
    long offset = 0, unsubmitted = 0, previous = -1;
    double started = now();
    while (offset < fileBytes) {
        if (write(fd, buf, chunk) != (ssize_t)chunk) { perror("write big.dat"); exit(1); }
        offset += chunk;
        while (mode == 1 && offset - unsubmitted >= windowBytes) {
            sync_file_range(fd, unsubmitted, windowBytes, SYNC_FILE_RANGE_WRITE);
            if (previous >= 0)
                sync_file_range(fd, previous, windowBytes,
                                SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
            previous = unsubmitted;
            unsubmitted += windowBytes;
        }
        if (mbPerSecond > 0) {
            double wait = started + offset / (mbPerSecond * 1e6) - now();
            if (wait > 0) usleep((useconds_t)(wait * 1e6));
        }
    }
    fdatasync(fd);
    close(fd);
    fprintf(stderr, "big file: %.1f MB/s\n", fileBytes / 1e6 / (now() - started));
    usleep(300000);
    done = 1;
    return NULL;
}

static void *logWriter(void *arg) {
    long k = (long)arg;
    char name[32], record[200], zeros[1 << 16];
    snprintf(name, sizeof name, "log%ld.dat", k);
    int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) { perror("open log"); exit(1); }
    memset(zeros, 0, sizeof zeros);
    for (long o = 0; o < (64L << 20); o += sizeof zeros) pwrite(fd, zeros, sizeof zeros, o);  // zero-filled runway
    fdatasync(fd);
    memset(record, 1, sizeof record);
    for (long offset = 0; !done && samples[k] < samplesMax; offset += sizeof record) {
        double t = now();
        pwrite(fd, record, sizeof record, offset);
        fdatasync(fd);
        latencyMs[k][samples[k]++] = (now() - t) * 1e3;
        usleep(1400);
    }
    close(fd);
    unlink(name);
    return NULL;
}

static int ascending(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s MODE [WINDOW_KIB [MB_PER_S [FILE_MIB]]]\n", argv[0]); return 2; }
    mode = atoi(argv[1]);
    windowBytes = (argc > 2 ? atol(argv[2]) : 1024) << 10;
    mbPerSecond = argc > 3 ? atoi(argv[3]) : 0;
    fileBytes = (argc > 4 ? atol(argv[4]) : 300) << 20;
    pthread_t writer, logs[loggers];
    for (long k = 0; k < loggers; k++) pthread_create(&logs[k], NULL, logWriter, (void *)k);
    if (mode >= 0) {
        pthread_create(&writer, NULL, bigFile, NULL);
    } else {
        sleep(4);
        done = 1;
    }
    for (int k = 0; k < loggers; k++) pthread_join(logs[k], NULL);
    if (mode >= 0) pthread_join(writer, NULL);
    static double all[loggers * samplesMax];
    int n = 0;
    for (int k = 0; k < loggers; k++)
        for (int i = 0; i < samples[k]; i++) all[n++] = latencyMs[k][i];
    if (n == 0) return 1;
    qsort(all, n, sizeof(double), ascending);
    printf("mode %d window %ld KiB pace %d MB/s: %d syncs, p50 %.2f p99 %.2f max %.1f ms\n", mode, windowBytes >> 10,
           mbPerSecond, n, all[n / 2], all[n * 99 / 100], all[n - 1]);
    unlink("big.dat");
    return 0;
}
