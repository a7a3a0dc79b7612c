/*
 * lines: the log scenario's writer. Writes BYTES of 100-byte lines (99 characters and a
 * newline) to stdout in 64 KiB writes, then the line `END-OF-LINES`, then waits to be
 * killed, so that no supervisor restarts it during the measurement. Further arguments
 * are ignored: the benchmark puts a marker there to find the process in /proc.
 *
 *   lines BYTES [MARKER...]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: lines BYTES [MARKER...]\n");
        return 2;
    }
    long long total = atoll(argv[1]);
    static char buf[65500];
    for (int i = 0; i < (int)sizeof buf; i += 100) {
        memset(buf + i, 'x', 99);
        buf[i + 99] = '\n';
    }
    for (long long done = 0; done < total;) {
        long long want = total - done < (long long)sizeof buf ? total - done : (long long)sizeof buf;
        ssize_t w = write(1, buf, want);
        if (w <= 0) return 1;
        done += w;
    }
    const char end[] = "END-OF-LINES\n";
    if (write(1, end, sizeof end - 1) < 0) return 1;
    for (;;) pause();
}
