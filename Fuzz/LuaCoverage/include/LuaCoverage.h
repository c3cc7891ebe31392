#ifndef TAPIR_LUA_COVERAGE_H
#define TAPIR_LUA_COVERAGE_H

/* Coverage of Lua code for libFuzzer, which sees only compiled code: each pair of
   consecutive Lua lines run (an edge, as the compiler's own instrumentation counts them)
   bumps a counter in libFuzzer's "extra counters" section, so an input that reaches a new
   branch of a pack's parser is kept in the corpus like one reaching new native code.
   Install lua_coverage_line with clua_set_line_observer before any Lua state is made. */
void lua_coverage_line(const char *source, int line);

/* Called before each input, so its first edge does not depend on the input before. */
void lua_coverage_begin_input(void);

/* Stops (0) or restarts (1) passing edges to libFuzzer; lines are still tallied. */
void lua_coverage_set_feedback(int on);

/* How many distinct Lua lines of files whose path starts with `prefix` (a pack's folder)
   have run so far (lines are told apart by a 64K-slot hash: one sharing a slot with
   another by chance is not counted). */
int lua_coverage_lines_reached_in(const char *prefix);

/* Writes each Lua line that ran, as FILE:LINE sorted, one a line. 0 on success. */
int lua_coverage_write_lines(const char *path);

#endif
