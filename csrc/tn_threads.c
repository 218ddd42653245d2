/* tn_threads.c -- a small persistent thread team for the large kernels.
 *
 * tn_team_run(n, fn, ctx) runs fn(ctx, member) on n threads, the caller being member 0,
 * and returns when all are done; tn_barrier(member) synchronises the team.  One team
 * runs at a time: a caller that finds the team busy (another Python thread inside a
 * parallel kernel) runs alone, which changes nothing in the results because every
 * kernel computes each output element in the same order whatever the thread count.
 * Workers are created lazily, spin briefly for work, then sleep; a forked child starts
 * with no workers. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tn_internal.h"

#define TN_MAX_THREADS 64
#define SPIN_ITERS 4000

static _Atomic int tn_nthreads = 0; /* 0: not yet chosen; set from Python threads while others run */

#ifdef __linux__
/* The first one or two numbers of a file ("150000 100000"); how many were read. */
static int read_longs(const char *dir, const char *name, long *a, long *b)
{
    char path[4300];
    int got = 0;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    if (f) {
        got = b ? fscanf(f, "%ld %ld", a, b) : fscanf(f, "%ld", a);
        fclose(f);
    }
    return got < 0 ? 0 : got;
}

/* The CPU quota of a cgroup directory, in CPUs rounded up (0: none): cgroup v2's
 * cpu.max ("max 100000", or "150000 100000" for 1.5 CPUs), or v1's cfs quota and period
 * (a quota of -1: none). */
static long cgroup_quota(const char *dir)
{
    long quota = 0, period = 0;
    if (read_longs(dir, "cpu.max", &quota, &period) != 2 &&
        (read_longs(dir, "cpu.cfs_quota_us", &quota, NULL) != 1 ||
         read_longs(dir, "cpu.cfs_period_us", &period, NULL) != 1))
        return 0;
    return quota > 0 && period > 0 ? (quota + period - 1) / period : 0;
}

/* The smaller of two quotas, 0 standing for none. */
static long min_quota(long a, long b) { return a == 0 ? b : b == 0 ? a : a < b ? a : b; }

/* The smallest quota on dir/path and the directories above it, up to dir; 0: none. */
static long cgroup_walk(const char *dir, const char *path)
{
    char d[4200];
    long best = 0;
    size_t root = strlen(dir);
    if (snprintf(d, sizeof d, "%s%s", dir, path) >= (int)sizeof d) return 0;
    for (;;) {
        best = min_quota(best, cgroup_quota(d));
        char *slash = strrchr(d, '/');
        if (!slash || (size_t)(slash - d) < root) break;
        *slash = 0;
    }
    return best;
}

/* The smallest CPU quota on this process's cgroup and those above it ("0::/path" for
 * cgroup v2, "n:cpu,cpuacct:/path" for v1's cpu controller, in /proc/self/cgroup);
 * 0: none.  Inside a container the path may name the host's view, where the container
 * sees its own cgroup at the root: the walk ends there. */
static long cgroup_cpus(void)
{
    long best = 0;
    char line[4000], dir[64];
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (!f) return 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *ctl = strchr(line, ':'), *path = ctl ? strchr(ctl + 1, ':') : NULL;
        if (!path || path[1] != '/') continue;
        *path++ = 0, ctl++;
        if (*ctl == 0) { /* v2 */
            snprintf(dir, sizeof dir, "/sys/fs/cgroup");
        } else { /* v1: the line of the cpu controller (alone, or with others: "cpu,cpuacct") */
            char list[64], *tok, *save;
            int cpu = 0;
            snprintf(list, sizeof list, "%s", ctl);
            for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) cpu |= strcmp(tok, "cpu") == 0;
            if (!cpu || snprintf(dir, sizeof dir, "/sys/fs/cgroup/%s", ctl) >= (int)sizeof dir) continue;
        }
        best = min_quota(best, cgroup_walk(dir, path));
    }
    fclose(f);
    return best;
}
#endif

/* One thread per CPU this process may run on: the online CPUs, fewer when its affinity
 * mask (taskset, a container's cpuset) or a cgroup CPU quota (docker --cpus) allows
 * fewer -- a team larger than that spends its time waiting at barriers for members that
 * are not running (a recurrence meets one per step).  TINYNET_NUM_THREADS, when set, decides instead. */
static int default_threads(void)
{
    const char *env = getenv("TINYNET_NUM_THREADS");
    long n = env ? strtol(env, NULL, 10) : 0;
    if (n <= 0) {
        n = sysconf(_SC_NPROCESSORS_ONLN);
#ifdef __linux__
        cpu_set_t set;
        if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0 && CPU_COUNT(&set) < n)
            n = CPU_COUNT(&set);
        long q = cgroup_cpus();
        if (q > 0 && q < n) n = q;
#endif
    }
    return (int)(n < 1 ? 1 : n > TN_MAX_THREADS ? TN_MAX_THREADS : n);
}

void tn_set_num_threads(int n)
{
    tn_nthreads = n <= 0 ? default_threads() : n > TN_MAX_THREADS ? TN_MAX_THREADS : n;
}

int tn_get_num_threads(void)
{
    int n = atomic_load(&tn_nthreads);
    if (n == 0) atomic_store(&tn_nthreads, n = default_threads());
    return n;
}

/* One step of a spin-wait: pause, and after a while give the core away (the machine
 * may be oversubscribed, and the thread we wait for may need our core to finish). */
static inline void spin_wait(int *spins)
{
    if (++*spins < 200) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    } else {
        sched_yield();
    }
}

/* ------------------------------------------------------------------ the team */

static struct {
    pthread_mutex_t busy; /* held by the thread running a team */
    pthread_mutex_t lock; /* protects sleeping workers' wake-up */
    pthread_cond_t wake;
    int nworkers;           /* workers started (member ids 1..nworkers) */
    unsigned start_job;     /* the generation new workers wait to see change */
    /* The current job, published as a seqlock: `job` is odd while n, fn and ctx are
     * being written and even once they are complete, so a worker acts only on a
     * consistent (generation, n, fn, ctx) and runs each job at most once -- a worker that
     * sat one job out can never mistake the next job's size for the old generation's. */
    _Atomic unsigned job;
    _Atomic int remaining;  /* participants still running the current job */
    _Atomic int n;          /* team size of the current job */
    _Atomic(tn_team_fn) fn;
    _Atomic(void *) ctx;
    /* sense-reversing barrier */
    _Atomic int bar_count;
    _Atomic int bar_sense;
} team = {.busy = PTHREAD_MUTEX_INITIALIZER, .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

void tn_barrier(tn_member *m)
{
    if (m->n <= 1) return;
    int sense = !m->sense;
    m->sense = sense;
    if (atomic_fetch_add(&team.bar_count, 1) == m->n - 1) {
        atomic_store(&team.bar_count, 0);
        atomic_store(&team.bar_sense, sense);
    } else {
        int spins = 0;
        while (atomic_load(&team.bar_sense) != sense) spin_wait(&spins);
    }
}

static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    unsigned seen = team.start_job; /* not team.job: the first job may already be posted */
    for (;;) {
        int spins = 0;
        while (atomic_load(&team.job) == seen) {
            if (++spins < SPIN_ITERS) {
#if defined(__x86_64__) || defined(__i386__)
                __builtin_ia32_pause();
#endif
                continue;
            }
            pthread_mutex_lock(&team.lock);
            while (atomic_load(&team.job) == seen) pthread_cond_wait(&team.wake, &team.lock);
            pthread_mutex_unlock(&team.lock);
        }
        unsigned g = atomic_load(&team.job);
        if (g & 1) continue; /* being written: look again */
        int n = atomic_load(&team.n), sense = atomic_load(&team.bar_sense);
        tn_team_fn fn = atomic_load(&team.fn);
        void *ctx = atomic_load(&team.ctx);
        if (atomic_load(&team.job) != g) continue; /* changed while we read: look again */
        seen = g;
        if (id < n) {
            tn_member m = {id, n, sense};
            fn(ctx, &m);
            atomic_fetch_sub(&team.remaining, 1);
        }
    }
    return NULL;
}

static void after_fork_child(void)
{
    /* the workers did not survive the fork */
    pthread_mutex_init(&team.busy, NULL);
    pthread_mutex_init(&team.lock, NULL);
    pthread_cond_init(&team.wake, NULL);
    team.nworkers = 0;
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void register_atfork(void) { pthread_atfork(NULL, NULL, after_fork_child); }

void tn_team_run(int n, tn_team_fn fn, void *ctx)
{
    if (n > TN_MAX_THREADS) n = TN_MAX_THREADS;
    if (n <= 1 || pthread_mutex_trylock(&team.busy) != 0) {
        tn_member solo = {0, 1, 0};
        fn(ctx, &solo);
        return;
    }
    pthread_once(&atfork_once, register_atfork);
    team.start_job = atomic_load(&team.job);
    while (team.nworkers < n - 1) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int ok = pthread_create(&t, &attr, worker, (void *)(intptr_t)(team.nworkers + 1)) == 0;
        pthread_attr_destroy(&attr);
        if (!ok) break;
        team.nworkers++;
    }
    if (n - 1 > team.nworkers) n = team.nworkers + 1;
    if (n <= 1) {
        pthread_mutex_unlock(&team.busy);
        tn_member solo = {0, 1, 0};
        fn(ctx, &solo);
        return;
    }
    unsigned g = atomic_load(&team.job); /* even: the last job is complete */
    atomic_store(&team.job, g + 1);      /* odd: writing the next */
    atomic_store(&team.n, n);
    atomic_store(&team.fn, fn);
    atomic_store(&team.ctx, ctx);
    atomic_store(&team.bar_count, 0);
    atomic_store(&team.remaining, n - 1);
    pthread_mutex_lock(&team.lock);
    atomic_store(&team.job, g + 2); /* published */
    pthread_cond_broadcast(&team.wake);
    pthread_mutex_unlock(&team.lock);
    tn_member self = {0, n, atomic_load(&team.bar_sense)};
    fn(ctx, &self);
    int spins = 0;
    while (atomic_load(&team.remaining) > 0) spin_wait(&spins);
    pthread_mutex_unlock(&team.busy);
}

/* ------------------------------------------------------- ranges of items */

typedef struct {
    size_t n, grain;
    tn_range_fn fn;
    void *ctx;
} ranges_job;

static void ranges_member(void *ctx, tn_member *m)
{
    const ranges_job *r = ctx;
    size_t b0, b1;
    tn_share((r->n + r->grain - 1) / r->grain, m->tid, m->n, &b0, &b1);
    size_t i0 = b0 * r->grain, i1 = b1 * r->grain < r->n ? b1 * r->grain : r->n;
    if (i0 < i1) r->fn(r->ctx, i0, i1);
}

void tn_parallel_ranges(size_t n, size_t grain, size_t per_thread, tn_range_fn fn, void *ctx)
{
    size_t want = per_thread ? n / per_thread : 1;
    int threads = want < 2 ? 1 : tn_get_num_threads();
    if (threads < 2) {
        if (n) fn(ctx, 0, n);
        return;
    }
    if ((size_t)threads > want) threads = (int)want;
    ranges_job r = {n, grain ? grain : 1, fn, ctx};
    tn_team_run(threads, ranges_member, &r);
}
