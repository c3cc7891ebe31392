#include "LuaCoverage.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { COUNTERS = 1 << 16, LINE_SLOTS = 1 << 16 };

/* libFuzzer reads this section (between __start_ and __stop___libfuzzer_extra_counters)
   after each input, as it reads the compiler's coverage counters. Outside a libFuzzer
   build nothing reads it. */
__attribute__((section("__libfuzzer_extra_counters"), used))
static uint8_t edge_counters[COUNTERS];

static uint32_t previous_location;
static int feedback = 1;

/* Lines already recorded, by a hash of their chunk and number. */
static uint8_t lines_seen[LINE_SLOTS / 8];
/* Each line the first time it runs (a copy of its source), for the counts and the list. */
static struct { const char *source; int line; } *first_runs;
static size_t first_runs_count, first_runs_capacity;

/* Keeps a copy of the source: the state may free its own (a closed state, a collected chunk). */
static void record_first_run(const char *source, int line) {
    if (first_runs_count == first_runs_capacity) {
        size_t capacity = first_runs_capacity ? first_runs_capacity * 2 : 1024;
        void *grown = realloc(first_runs, capacity * sizeof *first_runs);
        if (!grown) return;
        first_runs = grown;
        first_runs_capacity = capacity;
    }
    char *copy = strndup(source, 200);
    if (!copy) return;
    first_runs[first_runs_count].source = copy;
    first_runs[first_runs_count].line = line;
    first_runs_count++;
}

static uint32_t location_of(const char *source, int line) {
    uint64_t key = (uint64_t)(uintptr_t)source * 0x9E3779B97F4A7C15u ^ (uint64_t)(uint32_t)line * 0xC2B2AE3D27D4EB4Fu;
    return (uint32_t)(key >> 32) ^ (uint32_t)key;
}

void lua_coverage_line(const char *source, int line) {
    uint32_t location = location_of(source, line);
    uint32_t slot = location % LINE_SLOTS;
    if (!(lines_seen[slot / 8] & (1u << (slot % 8)))) {
        lines_seen[slot / 8] |= (uint8_t)(1u << (slot % 8));
        record_first_run(source, line);
    }
    if (feedback) {
        /* AFL's edge hash: the previous location shifted, so A->B and B->A differ. */
        uint8_t *counter = &edge_counters[(location ^ previous_location) % COUNTERS];
        if (*counter != 255) (*counter)++;
    }
    previous_location = location >> 1;
}

void lua_coverage_begin_input(void) { previous_location = 0; }

void lua_coverage_set_feedback(int on) { feedback = on; }

static int by_source_and_line(const void *a, const void *b) {
    const typeof(*first_runs) *x = a, *y = b;
    int order = strcmp(x->source, y->source);
    return order ? order : (x->line > y->line) - (x->line < y->line);
}

/* The name a chunk's source gives its file: "@path" and "=name" without the mark. */
static const char *file_name(const char *source) {
    return source[0] == '@' || source[0] == '=' ? source + 1 : source;
}

/* Sorted, each distinct line once (the same file may run in two states). */
static size_t distinct_first_runs(void) {
    qsort(first_runs, first_runs_count, sizeof *first_runs, by_source_and_line);
    size_t kept = 0;
    for (size_t i = 0; i < first_runs_count; i++) {
        if (kept > 0 && first_runs[kept - 1].line == first_runs[i].line
            && strcmp(first_runs[kept - 1].source, first_runs[i].source) == 0) {
            free((void *)first_runs[i].source);
            continue;
        }
        first_runs[kept++] = first_runs[i];
    }
    first_runs_count = kept;
    return kept;
}

int lua_coverage_lines_reached_in(const char *prefix) {
    size_t count = distinct_first_runs(), matching = 0;
    for (size_t i = 0; i < count; i++)
        if (strncmp(file_name(first_runs[i].source), prefix, strlen(prefix)) == 0) matching++;
    return (int)matching;
}

int lua_coverage_write_lines(const char *path) {
    FILE *file = fopen(path, "w");
    if (!file) return -1;
    size_t count = distinct_first_runs();
    for (size_t i = 0; i < count; i++) fprintf(file, "%s:%d\n", file_name(first_runs[i].source), first_runs[i].line);
    return fclose(file);
}
