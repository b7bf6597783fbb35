/*
 * cload: read / write / mixed load through the ZooKeeper C client's asynchronous API (libzookeeper_mt), the
 * counterpart of `warren bench` as a real client sees it (Tests/bench/clients.py).
 *
 *   gcc -O2 -DTHREADED -o cload Tests/bench/cload.c -lzookeeper_mt -lpthread  (THREADED: the synchronous calls)
 *   ./cload --hosts 127.0.0.1:2181,127.0.0.1:2182 --connections 16 --outstanding 32 --workload mixed \
 *           --read-percent 90 --keys 10000 --value-bytes 1024 --warmup 2 --duration 8
 *
 * Setup creates <root>/keys/k0 .. k<keys-1> holding --value-bytes each (existing keys are kept), then every session
 * (one zhandle each, session i on host i mod hosts, as `warren bench` spreads them) keeps --outstanding requests in
 * flight: each completion callback records the latency and sends the next request (closed loop). After --warmup
 * seconds the measured window opens ("cload: measure start" on stderr) and after --duration it closes ("cload:
 * measure end"); only completions inside it count. Cleanup deletes the tree unless --no-cleanup. Prints one JSON
 * object on stdout with the field names `warren bench --json` uses, plus "setsTotal" (successful setData of the whole
 * run, warm-up included, so a reader can check every key's version against it).
 * Exit status: 0 after a run (errors are counted in the JSON), 1 if setup or connecting failed, 2 for bad arguments.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

enum { PHASE_WARMUP, PHASE_MEASURE, PHASE_STOP };
enum { WL_READ, WL_WRITE, WL_MIXED };
enum { SESSION_TIMEOUT_MS = 10000, CONNECT_WAIT_S = 20, DRAIN_WAIT_S = 10, SETUP_WINDOW = 256 };
enum { CONNECTIONS_MAX = 1024, OUTSTANDING_MAX = 4096, VALUE_BYTES_MAX = 1 << 20, KEYS_MAX = 10000000 };
/* ZooKeeper error codes are small negative numbers; anything beyond is counted in the last slot. */
enum { ERROR_CODES_MAX = 160 };
/* Latency histogram: exact below 128 µs, then 64 sub-buckets per power of two (under 1.6 % error). */
enum { HIST_EXACT = 128, HIST_SUB = 64, HIST_BUCKETS = HIST_EXACT + 50 * HIST_SUB };

static struct {
    const char *hosts, *root;
    int connections, outstanding, value_bytes, keys, workload, read_percent, cleanup;
    double warmup, duration;
    unsigned long long seed;
} opt = {"127.0.0.1:2181", "/warren-bench-c", 8, 32, 1024, 1000, WL_READ, 90, 1, 2.0, 10.0, 0x5EED};

static _Atomic int phase = PHASE_WARMUP;
static char **key_paths;
static char *set_value;

struct histogram {
    uint64_t counts[HIST_BUCKETS];
    uint64_t n, sum_us, max_us;
};

struct session;
struct slot {
    struct session *s;
    uint64_t start_ns;
    int is_set;
};

/* All fields but `inflight` and the connection state are touched only by this handle's completion thread (and
 * read by main after the drain), so they need no lock. */
struct session {
    zhandle_t *zh;
    int index;
    uint64_t rng;
    struct slot *slots;
    _Atomic int inflight;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int connected, ever_connected, connection_losses;
    struct histogram hist;
    uint64_t ops, sets_total, errors[ERROR_CODES_MAX];
};

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t xorshift(uint64_t *x) {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static int bucket_of(uint64_t us) {
    if (us < HIST_EXACT) return (int)us;
    int e = 63 - __builtin_clzll(us); /* >= 7 */
    int b = HIST_EXACT + (e - 7) * HIST_SUB + (int)((us >> (e - 6)) & (HIST_SUB - 1));
    return b < HIST_BUCKETS ? b : HIST_BUCKETS - 1;
}

/* The upper edge of a bucket, so a percentile never understates. */
static uint64_t bucket_top(int b) {
    if (b < HIST_EXACT) return (uint64_t)b;
    int e = (b - HIST_EXACT) / HIST_SUB + 7, sub = (b - HIST_EXACT) % HIST_SUB;
    return ((uint64_t)(HIST_SUB + sub + 1) << (e - 6)) - 1;
}

static void hist_add(struct histogram *h, uint64_t us) {
    h->counts[bucket_of(us)]++;
    h->n++;
    h->sum_us += us;
    if (us > h->max_us) h->max_us = us;
}

static double hist_quantile(const struct histogram *h, double q) {
    if (h->n == 0) return 0;
    uint64_t rank = (uint64_t)(q * (double)h->n + 0.5), seen = 0;
    if (rank < 1) rank = 1;
    for (int b = 0; b < HIST_BUCKETS; b++) {
        seen += h->counts[b];
        if (seen >= rank) {
            uint64_t top = bucket_top(b);
            return (double)(top < h->max_us ? top : h->max_us);
        }
    }
    return (double)h->max_us;
}

static void count_error(struct session *s, int rc) {
    int i = -rc;
    s->errors[(i > 0 && i < ERROR_CODES_MAX) ? i : 0]++;
}

static void issue(struct slot *sl);

static void completed(struct slot *sl, int rc) {
    struct session *s = sl->s;
    uint64_t end = now_ns();
    if (rc == ZOK && sl->is_set) s->sets_total++;
    if (atomic_load(&phase) == PHASE_MEASURE) {
        if (rc == ZOK) {
            hist_add(&s->hist, (end - sl->start_ns + 500) / 1000);
            s->ops++;
        } else {
            count_error(s, rc);
        }
    }
    if (rc == ZCLOSING || rc == ZSESSIONEXPIRED || rc == ZINVALIDSTATE || atomic_load(&phase) == PHASE_STOP) {
        atomic_fetch_sub(&s->inflight, 1);
        return;
    }
    if (rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT) usleep(1000); /* let the client reconnect */
    issue(sl);
}

static void get_done(int rc, const char *value, int len, const struct Stat *stat, const void *data) {
    (void)value, (void)len, (void)stat;
    completed((struct slot *)data, rc);
}

static void set_done(int rc, const struct Stat *stat, const void *data) {
    (void)stat;
    completed((struct slot *)data, rc);
}

static void issue(struct slot *sl) {
    struct session *s = sl->s;
    const char *path = key_paths[xorshift(&s->rng) % (uint64_t)opt.keys];
    int is_set = opt.workload == WL_WRITE ||
                 (opt.workload == WL_MIXED && (int)(xorshift(&s->rng) % 100) >= opt.read_percent);
    sl->is_set = is_set;
    sl->start_ns = now_ns();
    int rc = is_set ? zoo_aset(s->zh, path, set_value, opt.value_bytes, -1, set_done, sl)
                    : zoo_aget(s->zh, path, 0, get_done, sl);
    if (rc != ZOK) { /* not sent: the handle is closing or expired; this slot stops */
        if (atomic_load(&phase) == PHASE_MEASURE) count_error(s, rc);
        atomic_fetch_sub(&s->inflight, 1);
    }
}

static void watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx) {
    (void)zh, (void)path;
    struct session *s = ctx;
    if (type != ZOO_SESSION_EVENT) return;
    pthread_mutex_lock(&s->mu);
    if (state == ZOO_CONNECTED_STATE) {
        s->connected = s->ever_connected = 1;
    } else {
        if (s->connected) s->connection_losses++;
        s->connected = 0;
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Bounded pipelined setup and cleanup: at most SETUP_WINDOW requests in flight on one handle. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int inflight, failed, first_rc, ok_rc;
} batch = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0};

static void batch_done(int rc) {
    pthread_mutex_lock(&batch.mu);
    if (rc != ZOK && rc != batch.ok_rc && !batch.failed++) batch.first_rc = rc;
    batch.inflight--;
    pthread_cond_broadcast(&batch.cv);
    pthread_mutex_unlock(&batch.mu);
}
static void create_done(int rc, const char *v, const void *d) { (void)v, (void)d, batch_done(rc); }
static void delete_done(int rc, const void *d) { (void)d, batch_done(rc); }

/* Waits until at most `limit` batch requests are in flight; false if that takes over `seconds`. */
static int batch_wait(int limit, double seconds) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline); /* pthread_cond_timedwait's clock */
    deadline.tv_sec += (time_t)seconds;
    int ok = 1;
    pthread_mutex_lock(&batch.mu);
    while (batch.inflight > limit && ok)
        ok = pthread_cond_timedwait(&batch.cv, &batch.mu, &deadline) != ETIMEDOUT;
    pthread_mutex_unlock(&batch.mu);
    return ok;
}

/* Runs `send(i)` for i in [0, n) with a bounded window; returns the first unexpected error code or ZOK. */
static int run_batch(int n, int ok_rc, int (*send)(zhandle_t *, int), zhandle_t *zh) {
    batch.failed = 0, batch.first_rc = ZOK, batch.ok_rc = ok_rc;
    for (int i = 0; i < n; i++) {
        if (!batch_wait(SETUP_WINDOW - 1, 60)) return ZOPERATIONTIMEOUT;
        pthread_mutex_lock(&batch.mu);
        batch.inflight++;
        pthread_mutex_unlock(&batch.mu);
        int rc = send(zh, i);
        if (rc != ZOK) batch_done(rc);
    }
    if (!batch_wait(0, 60)) return ZOPERATIONTIMEOUT;
    return batch.failed ? batch.first_rc : ZOK;
}

static char *setup_value;
static int send_create(zhandle_t *zh, int i) {
    return zoo_acreate(zh, key_paths[i], setup_value, opt.value_bytes, &ZOO_OPEN_ACL_UNSAFE, 0, create_done, NULL);
}
static int send_delete(zhandle_t *zh, int i) { return zoo_adelete(zh, key_paths[i], -1, delete_done, NULL); }

static int create_parent(zhandle_t *zh, const char *path) {
    int rc = zoo_create(zh, path, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    return rc == ZNODEEXISTS ? ZOK : rc;
}

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void sleep_s(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

static void usage(const char *msg) {
    fprintf(stderr, "cload: %s\nusage: cload [--hosts H:P,...] [--connections N] [--outstanding K] "
                    "[--workload read|write|mixed] [--read-percent P] [--keys N] [--value-bytes B] [--warmup S] "
                    "[--duration S] [--root PATH] [--seed N] [--no-cleanup]\n", msg);
    exit(2);
}

static void parse(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--no-cleanup")) { opt.cleanup = 0; continue; }
        if (i + 1 >= argc) {
            static char msg[256];
            snprintf(msg, sizeof msg, "%.200s: unknown option or missing value", a);
            usage(msg);
        }
        const char *v = argv[++i];
        if (!strcmp(a, "--hosts")) opt.hosts = v;
        else if (!strcmp(a, "--root")) opt.root = v;
        else if (!strcmp(a, "--connections")) opt.connections = atoi(v);
        else if (!strcmp(a, "--outstanding")) opt.outstanding = atoi(v);
        else if (!strcmp(a, "--value-bytes")) opt.value_bytes = atoi(v);
        else if (!strcmp(a, "--keys")) opt.keys = atoi(v);
        else if (!strcmp(a, "--read-percent")) opt.read_percent = atoi(v);
        else if (!strcmp(a, "--warmup")) opt.warmup = atof(v);
        else if (!strcmp(a, "--duration")) opt.duration = atof(v);
        else if (!strcmp(a, "--seed")) opt.seed = strtoull(v, NULL, 0);
        else if (!strcmp(a, "--workload")) {
            if (!strcmp(v, "read")) opt.workload = WL_READ;
            else if (!strcmp(v, "write")) opt.workload = WL_WRITE;
            else if (!strcmp(v, "mixed")) opt.workload = WL_MIXED;
            else usage("workload is read, write or mixed");
        } else usage("unknown option");
    }
    if (opt.connections < 1 || opt.connections > CONNECTIONS_MAX) usage("--connections out of range");
    if (opt.outstanding < 1 || opt.outstanding > OUTSTANDING_MAX) usage("--outstanding out of range");
    if (opt.value_bytes < 0 || opt.value_bytes > VALUE_BYTES_MAX) usage("--value-bytes out of range");
    if (opt.keys < 1 || opt.keys > KEYS_MAX) usage("--keys out of range");
    if (opt.read_percent < 0 || opt.read_percent > 100) usage("--read-percent out of range");
    if (opt.warmup < 0 || opt.duration <= 0) usage("--warmup must be >= 0 and --duration > 0");
    if (opt.root[0] != '/' || strlen(opt.root) < 2 || strlen(opt.root) > 200) usage("--root is not a path");
}

static const char *workload_name(void) {
    return opt.workload == WL_READ ? "read" : opt.workload == WL_WRITE ? "write" : "mixed";
}

int main(int argc, char **argv) {
    parse(argc, argv);
    zoo_set_debug_level(ZOO_LOG_LEVEL_WARN);

    /* The host list, split so that session i talks to host i mod n only. */
    char *hosts_copy = strdup(opt.hosts), *save = NULL, *hosts[64];
    int nhosts = 0;
    for (char *h = strtok_r(hosts_copy, ",", &save); h && nhosts < 64; h = strtok_r(NULL, ",", &save))
        hosts[nhosts++] = h;
    if (nhosts == 0) usage("no hosts");

    key_paths = calloc((size_t)opt.keys, sizeof *key_paths);
    for (int i = 0; i < opt.keys; i++) {
        key_paths[i] = malloc(strlen(opt.root) + 24);
        sprintf(key_paths[i], "%s/keys/k%d", opt.root, i);
    }
    /* Setup and workload values differ, so a reader can tell a key the run wrote from one it only created. */
    setup_value = malloc((size_t)opt.value_bytes + 1);
    set_value = malloc((size_t)opt.value_bytes + 1);
    memset(setup_value, 'c', (size_t)opt.value_bytes);
    memset(set_value, 'w', (size_t)opt.value_bytes);

    struct session *ss = calloc((size_t)opt.connections, sizeof *ss);
    uint64_t setup_start = now_ns();
    for (int i = 0; i < opt.connections; i++) {
        struct session *s = &ss[i];
        s->index = i;
        s->rng = opt.seed * 0x9E3779B97F4A7C15ull + (uint64_t)i * 0xBF58476D1CE4E5B9ull + 1;
        pthread_mutex_init(&s->mu, NULL);
        pthread_cond_init(&s->cv, NULL);
        s->zh = zookeeper_init(hosts[i % nhosts], watcher, SESSION_TIMEOUT_MS, NULL, s, 0);
        if (!s->zh) {
            fprintf(stderr, "cload: zookeeper_init(%s): %s\n", hosts[i % nhosts], strerror(errno));
            return 1;
        }
    }
    for (int i = 0; i < opt.connections; i++) {
        struct session *s = &ss[i];
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += CONNECT_WAIT_S;
        pthread_mutex_lock(&s->mu);
        while (!s->connected && pthread_cond_timedwait(&s->cv, &s->mu, &deadline) != ETIMEDOUT) {}
        int ok = s->connected;
        pthread_mutex_unlock(&s->mu);
        if (!ok) {
            fprintf(stderr, "cload: session %d to %s not connected after %d s\n", i, hosts[i % nhosts],
                    CONNECT_WAIT_S);
            return 1;
        }
    }
    char keys_dir[256];
    snprintf(keys_dir, sizeof keys_dir, "%s/keys", opt.root);
    int rc = create_parent(ss[0].zh, opt.root);
    if (rc == ZOK) rc = create_parent(ss[0].zh, keys_dir);
    if (rc == ZOK) rc = run_batch(opt.keys, ZNODEEXISTS, send_create, ss[0].zh);
    if (rc != ZOK) {
        fprintf(stderr, "cload: setup of %s failed: %s\n", opt.root, zerror(rc));
        return 1;
    }
    double setup_seconds = (double)(now_ns() - setup_start) / 1e9;

    for (int i = 0; i < opt.connections; i++) {
        struct session *s = &ss[i];
        s->slots = calloc((size_t)opt.outstanding, sizeof *s->slots);
        atomic_store(&s->inflight, opt.outstanding);
        for (int k = 0; k < opt.outstanding; k++) {
            s->slots[k].s = s;
            issue(&s->slots[k]);
        }
    }
    sleep_s(opt.warmup);
    double cpu0 = cpu_seconds();
    uint64_t t0 = now_ns();
    atomic_store(&phase, PHASE_MEASURE);
    fprintf(stderr, "cload: measure start\n");
    sleep_s(opt.duration);
    atomic_store(&phase, PHASE_STOP);
    uint64_t t1 = now_ns();
    double cpu1 = cpu_seconds();
    fprintf(stderr, "cload: measure end\n");

    uint64_t drain_deadline = now_ns() + (uint64_t)DRAIN_WAIT_S * 1000000000ull;
    for (int i = 0; i < opt.connections; i++)
        while (atomic_load(&ss[i].inflight) > 0 && now_ns() < drain_deadline) usleep(1000);
    int undrained = 0;
    for (int i = 0; i < opt.connections; i++) undrained += atomic_load(&ss[i].inflight);

    uint64_t cleanup_start = now_ns();
    const char *cleanup_note = NULL;
    if (opt.cleanup) {
        rc = run_batch(opt.keys, ZNONODE, send_delete, ss[0].zh);
        if (rc == ZOK) rc = zoo_delete(ss[0].zh, keys_dir, -1);
        if (rc == ZOK) rc = zoo_delete(ss[0].zh, opt.root, -1);
        if (rc != ZOK) cleanup_note = zerror(rc);
    }
    double cleanup_seconds = (double)(now_ns() - cleanup_start) / 1e9;
    for (int i = 0; i < opt.connections; i++) zookeeper_close(ss[i].zh);

    struct histogram h = {0};
    uint64_t ops = 0, sets_total = 0, errors[ERROR_CODES_MAX] = {0}, errors_total = 0;
    int connection_losses = 0;
    for (int i = 0; i < opt.connections; i++) {
        struct session *s = &ss[i];
        for (int b = 0; b < HIST_BUCKETS; b++) h.counts[b] += s->hist.counts[b];
        h.n += s->hist.n, h.sum_us += s->hist.sum_us;
        if (s->hist.max_us > h.max_us) h.max_us = s->hist.max_us;
        ops += s->ops, sets_total += s->sets_total, connection_losses += s->connection_losses;
        for (int e = 0; e < ERROR_CODES_MAX; e++) errors[e] += s->errors[e], errors_total += s->errors[e];
    }
    double window = (double)(t1 - t0) / 1e9;
    printf("{\"driver\": \"c-client\", \"workload\": \"%s\", \"hosts\": \"%s\", \"connections\": %d, "
           "\"outstanding\": %d, \"valueBytes\": %d, \"keys\": %d, ",
           workload_name(), opt.hosts, opt.connections, opt.outstanding, opt.value_bytes, opt.keys);
    if (opt.workload == WL_MIXED) printf("\"readPercent\": %d, ", opt.read_percent);
    printf("\"warmupSeconds\": %g, \"durationSeconds\": %.4f, \"ops\": %llu, \"opsPerSecond\": %.1f, ",
           opt.warmup, window, (unsigned long long)ops, window > 0 ? (double)ops / window : 0.0);
    printf("\"latencyMicros\": {\"p50\": %.0f, \"p90\": %.0f, \"p99\": %.0f, \"p999\": %.0f, \"max\": %llu, "
           "\"mean\": %.1f}, ", hist_quantile(&h, 0.5), hist_quantile(&h, 0.9), hist_quantile(&h, 0.99),
           hist_quantile(&h, 0.999), (unsigned long long)h.max_us, h.n ? (double)h.sum_us / (double)h.n : 0.0);
    printf("\"errors\": {");
    for (int e = 0, first = 1; e < ERROR_CODES_MAX; e++) {
        if (!errors[e]) continue;
        printf("%s\"%s\": %llu", first ? "" : ", ", e ? zerror(-e) : "other", (unsigned long long)errors[e]);
        first = 0;
    }
    printf("}, \"errorsTotal\": %llu, \"connectionErrors\": %d, \"undrained\": %d, \"setsTotal\": %llu, ",
           (unsigned long long)errors_total, connection_losses, undrained, (unsigned long long)sets_total);
    printf("\"generatorCPUPercent\": %.1f, \"setupSeconds\": %.3f, \"cleanupSeconds\": %.3f, \"notes\": [%s%s%s]}\n",
           window > 0 ? (cpu1 - cpu0) / window * 100 : 0.0, setup_seconds, cleanup_seconds,
           cleanup_note ? "\"cleanup failed: " : "", cleanup_note ? cleanup_note : "", cleanup_note ? "\"" : "");
    return 0;
}
