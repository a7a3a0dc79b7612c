/*
 * crash: the crash-storm scenario's service. Runs for MS milliseconds, then exits with
 * status 1, as a service that fails over and over would. Further arguments are ignored:
 * the benchmark puts a marker there to find the process in /proc.
 *
 *   crash MS [MARKER...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: crash MS [MARKER...]\n");
        return 2;
    }
    long ms = atol(argv[1]);
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
    return 1;
}
