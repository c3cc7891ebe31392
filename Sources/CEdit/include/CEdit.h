#ifndef TAPIR_CEDIT_H
#define TAPIR_CEDIT_H

#include <stddef.h>

// A line editor on a terminal, driven one key at a time by an event loop, over
// libedit's native el_* API. el_set and history are variadic, so Swift reaches them
// through these functions.
//
// The editor is "editing" between tapir_editor_begin_line and the end of that line
// (tapir_editor_read returning a line or EOF, or tapir_editor_end_line): the terminal is
// in raw mode and the prompt and the line typed so far are on screen. Between lines the
// terminal is back in its normal (cooked) mode, so the caller can print freely.

typedef struct tapir_editor tapir_editor;

/// What one tapir_editor_read call found.
typedef enum {
    TAPIR_EDIT_PENDING = 0,  ///< keys read, the line is not finished
    TAPIR_EDIT_LINE = 1,     ///< a line was entered (without its newline)
    TAPIR_EDIT_EOF = 2,      ///< Ctrl-D on an empty line, or the terminal went away
    TAPIR_EDIT_ERROR = 3,    ///< reading failed; errno says why
} tapir_edit_status;

/// Opens an editor reading keys from `in_fd` and drawing on `out_fd` (both terminals;
/// the editor duplicates them and never closes the caller's fds). `terminal_type` is a
/// terminfo name, or NULL for $TERM. Returns NULL with errno set on failure.
tapir_editor *tapir_editor_open(const char *program, int in_fd, int out_fd,
                                const char *terminal_type);

/// Restores the terminal (if editing, the line on screen is left as it is, and the
/// cursor moves to a fresh line) and frees the editor.
void tapir_editor_close(tapir_editor *editor);

/// Sets the prompt for the next redraw (copied). Returns 0, or -1 when out of memory.
int tapir_editor_set_prompt(tapir_editor *editor, const char *prompt);

/// Starts a line: raw mode, an empty buffer, the prompt drawn.
void tapir_editor_begin_line(tapir_editor *editor);

/// Ends editing without a line (the terminal back to cooked mode); the screen is left as is.
void tapir_editor_end_line(tapir_editor *editor);

/// Reads and executes the keys waiting on the input fd (at least one; call it when the
/// fd is readable). On TAPIR_EDIT_LINE, `*line` and `*length` hold the line, valid until
/// the next call on the editor, and editing has ended (cooked mode); the same on
/// TAPIR_EDIT_EOF. Keys that arrive after the end of a line stay unread.
tapir_edit_status tapir_editor_read(tapir_editor *editor, const char **line, size_t *length);

/// Erases the prompt and the line being typed from the screen, leaving the cursor at
/// the start of the line where the prompt was. Call tapir_editor_show afterwards.
void tapir_editor_hide(tapir_editor *editor);

/// Draws the prompt and the line being typed again, at the cursor.
void tapir_editor_show(tapir_editor *editor);

/// Drops the line being typed: marks it "^C" on screen, empties the buffer and draws
/// the prompt on the next line.
void tapir_editor_cancel_line(tapir_editor *editor);

/// Re-reads the terminal size (call on SIGWINCH).
void tapir_editor_resize(tapir_editor *editor);

/// Whether the terminal's output processing turns "\n" into "\r\n" right now (raw mode
/// may switch it off, and then printed text needs its own "\r").
int tapir_editor_output_translates_newlines(tapir_editor *editor);

/// Adds a line to the editor's history (what up-arrow recalls). Returns 0 or -1.
int tapir_editor_history_add(tapir_editor *editor, const char *line);

/// Keeps at most `size` history entries.
void tapir_editor_history_set_size(tapir_editor *editor, int size);

/// Tab completion: given the line up to the cursor, returns the candidates, each ending
/// in '\n' (NULL or "" for none; the text stays the caller's until its next call), and
/// sets `*stem_length` to how many bytes before the cursor the candidates replace.
typedef const char *(*tapir_completer)(void *context, const char *before_cursor, size_t length,
                                       size_t *stem_length);

/// Binds Tab to `completer`: one candidate (or several sharing more than the stem) is
/// inserted; several with nothing more in common are listed below the line, which is
/// drawn again under them. NULL unbinds it (Tab then inserts nothing).
void tapir_editor_set_completer(tapir_editor *editor, tapir_completer completer, void *context);

#endif
