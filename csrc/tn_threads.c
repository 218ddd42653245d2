/* tn_threads.c -- a small persistent thread team for the large kernels.
 *
 * tn_team_run(n, fn, ctx) runs fn(ctx, member) on n threads, the caller being member 0,
 * and returns when all are done; tn_barrier(member) synchronises the team.  One team
 * runs at a time: a caller that finds the team busy (another Python thread inside a
 * parallel kernel) runs alone, which changes nothing in the results because every
 * kernel computes each output element in the same order whatever the thread count.
 * Workers are created lazily, spin briefly for work, then sleep; a forked child starts
 * with no workers. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "tn_internal.h"

#define TN_MAX_THREADS 64
#define SPIN_ITERS 4000

static _Atomic int tn_nthreads = 0; /* 0: not yet chosen; set from Python threads while others run */

static int default_threads(void)
{
    const char *env = getenv("TINYNET_NUM_THREADS");
    long n = env ? strtol(env, NULL, 10) : 0;
    if (n <= 0) n = sysconf(_SC_NPROCESSORS_ONLN);
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
