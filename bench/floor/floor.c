/*
 * floor: the smallest honest supervisor, the physical limit the comparison measures
 * ward against. One thread: fork+exec, SIGCHLD and SIGTERM through a signalfd, output
 * copied from a pipe to a log file with read/write, all waited for with epoll. No
 * timestamps, no journal, no health: only what restarting and logging cannot skip.
 *
 *   floor N LOG COMMAND [ARGS...]
 *
 * Starts N copies of COMMAND with stdout and stderr on one pipe, appends everything read
 * from it to LOG, restarts each copy at once when it dies, and on SIGTERM sends SIGTERM
 * to every copy, waits for them all and exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t *pids;
static int n, out_w;
static char **cmd;

static pid_t start(void) {
    pid_t pid = fork();
    if (pid == 0) {
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        dup2(out_w, 1);
        dup2(out_w, 2);
        execvp(cmd[0], cmd);
        _exit(127);
    }
    return pid;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: floor N LOG COMMAND [ARGS...]\n");
        return 2;
    }
    n = atoi(argv[1]);
    cmd = argv + 3;
    int log = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    int p[2];
    if (log < 0 || pipe2(p, O_CLOEXEC) < 0) {
        perror("floor");
        return 1;
    }
    out_w = p[1];
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = sfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
    ev.data.fd = p[0];
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    pids = calloc(n, sizeof *pids);
    for (int i = 0; i < n; i++) pids[i] = start();
    int stopping = 0, alive = n;
    static char buf[1 << 16];
    for (;;) {
        struct epoll_event got[2];
        int k = epoll_wait(ep, got, 2, -1);
        for (int e = 0; e < k; e++) {
            if (got[e].data.fd == p[0]) {
                ssize_t r;
                while ((r = read(p[0], buf, sizeof buf)) > 0) {
                    for (ssize_t w = 0; w < r;) {
                        ssize_t m = write(log, buf + w, r - w);
                        if (m < 0 && errno != EINTR) break;
                        if (m > 0) w += m;
                    }
                }
                continue;
            }
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) == sizeof si) {
                if (si.ssi_signo == SIGTERM && !stopping) {
                    stopping = 1;
                    for (int i = 0; i < n; i++)
                        if (pids[i] > 0) kill(pids[i], SIGTERM);
                }
            }
            pid_t dead;
            while ((dead = waitpid(-1, NULL, WNOHANG)) > 0) {
                for (int i = 0; i < n; i++) {
                    if (pids[i] != dead) continue;
                    if (stopping) {
                        pids[i] = 0;
                        alive--;
                    } else {
                        pids[i] = start();
                    }
                }
            }
            if (stopping && alive == 0) return 0;
        }
    }
}
