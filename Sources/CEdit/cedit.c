#include "CEdit.h"

#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <wchar.h>
#include <histedit.h>

// How long a key sequence (an escape sequence, a multi-byte character) may take to
// arrive in full. The loop calls us only when a first byte is there; waiting longer for
// the rest would stall the loop on a lone ESC.
#define KEY_SEQUENCE_TIMEOUT_MS 100
// At most this many keys are executed per tapir_editor_read, so a paste cannot hold the
// loop for long; the rest is read on the loop's next turn.
#define KEYS_PER_READ 4096
#define CONTROL_D 4

struct tapir_editor {
    EditLine *el;
    History *history;
    FILE *in;    // over a dup of the caller's input fd
    FILE *out;   // over a dup of the caller's output fd
    int in_fd;
    int out_fd;
    char *prompt;
    int editing;
    // Set by read_key when a read fails; el_gets only says "no more keys".
    int read_failed;
    int read_errno;
    tapir_completer completer;
    void *completer_context;
};

static tapir_editor *editor_of(EditLine *el) {
    void *data = NULL;
    el_get(el, EL_CLIENTDATA, &data);
    return data;
}

static char *prompt_function(EditLine *el) {
    tapir_editor *editor = editor_of(el);
    return editor->prompt;
}

// Waits up to `timeout_ms` for input; 1 when there is some (or a hangup to read).
static int wait_readable(int fd, int timeout_ms) {
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    for (;;) {
        int ready = poll(&pfd, 1, timeout_ms);
        if (ready >= 0) return ready > 0;
        if (errno != EINTR) return 0;
    }
}

// libedit's character reader (EL_GETCFN), in place of its own, which blocks until a
// whole key sequence is there and, on EAGAIN, makes the fd blocking. Returns 1 with a
// character, or -1 with read_failed set.
static int read_key(EditLine *el, wchar_t *character) {
    tapir_editor *editor = editor_of(el);
    char bytes[MB_LEN_MAX];
    size_t count = 0;
    mbstate_t state;
    for (;;) {
        if (!wait_readable(editor->in_fd, KEY_SEQUENCE_TIMEOUT_MS)) {
            editor->read_failed = 1;
            editor->read_errno = EAGAIN;
            return -1;
        }
        ssize_t got = read(editor->in_fd, bytes + count, 1);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            editor->read_failed = 1;
            // A terminal that went away reads as end of file (0) or EIO.
            editor->read_errno = got == 0 ? EIO : errno;
            return -1;
        }
        count += 1;
        memset(&state, 0, sizeof state);
        size_t decoded = mbrtowc(character, bytes, count, &state);
        if (decoded == (size_t)-2 && count < sizeof bytes) continue;  // incomplete
        if (decoded == (size_t)-1 || decoded == (size_t)-2) {
            count = 0;  // not a character: drop the bytes, as libedit does
            continue;
        }
        return 1;
    }
}

static void write_terminal_string(tapir_editor *editor, const char *text) {
    if (text != NULL) fputs(text, editor->out);
}

static const char *terminal_string(tapir_editor *editor, const char *capability) {
    char *value = NULL;
    if (el_get(editor->el, EL_GETTC, capability, &value, NULL) != 0) return NULL;
    return value != NULL && value[0] != '\0' ? value : NULL;
}

static int terminal_columns(tapir_editor *editor) {
    int columns = 0;
    if (el_get(editor->el, EL_GETTC, "co", &columns, NULL) != 0 || columns <= 0) return 80;
    return columns;
}

static size_t text_width(const char *text) {
    size_t width = mbstowcs(NULL, text, 0);
    return width == (size_t)-1 ? strlen(text) : width;
}

// Makes sure the C library decodes UTF-8: libedit reads keys and converts its wide
// buffer back to bytes through the locale, and in the "C" locale drops every non-ASCII
// character. Only LC_CTYPE is touched, and only when the program left it at "C".
static void use_native_character_set(void) {
    const char *current = setlocale(LC_CTYPE, NULL);
    if (current == NULL || (strcmp(current, "C") != 0 && strcmp(current, "POSIX") != 0)) return;
    const char *native = setlocale(LC_CTYPE, "");
    if (native == NULL || strcmp(native, "C") == 0 || strcmp(native, "POSIX") == 0)
        setlocale(LC_CTYPE, "C.UTF-8");
}

static FILE *open_stream(int fd, const char *mode) {
    int copy = dup(fd);
    if (copy < 0) return NULL;
    FILE *stream = fdopen(copy, mode);
    if (stream == NULL) {
        int saved = errno;
        close(copy);
        errno = saved;
    }
    return stream;
}

tapir_editor *tapir_editor_open(const char *program, int in_fd, int out_fd,
                                const char *terminal_type) {
    use_native_character_set();
    tapir_editor *editor = calloc(1, sizeof *editor);
    if (editor == NULL) return NULL;
    editor->prompt = strdup("");
    editor->in = open_stream(in_fd, "r");
    editor->out = open_stream(out_fd, "w");
    editor->history = history_init();
    if (editor->prompt == NULL || editor->in == NULL || editor->out == NULL
        || editor->history == NULL) {
        int saved = errno;
        tapir_editor_close(editor);
        errno = saved;
        return NULL;
    }
    editor->in_fd = fileno(editor->in);
    editor->out_fd = fileno(editor->out);

    editor->el = el_init_fd(program, editor->in, editor->out, editor->out,
                            editor->in_fd, editor->out_fd, editor->out_fd);
    if (editor->el == NULL) {
        int saved = errno;
        tapir_editor_close(editor);
        errno = saved != 0 ? saved : ENOTTY;
        return NULL;
    }
    HistEvent event;
    history(editor->history, &event, H_SETSIZE, 1000);
    el_set(editor->el, EL_CLIENTDATA, editor);
    if (terminal_type != NULL) el_set(editor->el, EL_TERMINAL, terminal_type);
    el_set(editor->el, EL_EDITOR, "emacs");
    el_set(editor->el, EL_SIGNAL, 0);  // signals come through the event loop
    el_set(editor->el, EL_PROMPT, prompt_function);
    el_set(editor->el, EL_HIST, history, editor->history);
    el_set(editor->el, EL_GETCFN, read_key);
    // ~/.editrc, as every libedit program reads it.
    el_source(editor->el, NULL);
    return editor;
}

// The candidates of a completer's answer, "a\nb\n": their count and the length they all
// share at their start.
static size_t common_prefix(const char *list, size_t *count) {
    *count = 0;
    const char *first = list;
    size_t first_length = strcspn(first, "\n");
    size_t shared = first_length;
    for (const char *candidate = list; *candidate != '\0';) {
        size_t length = strcspn(candidate, "\n");
        size_t same = 0;
        while (same < shared && same < length && candidate[same] == first[same]) same++;
        shared = same;
        (*count)++;
        candidate += length;
        if (*candidate == '\n') candidate++;
    }
    return shared;
}

// Lists the candidates below the line, in columns as wide as the longest.
static void list_candidates(tapir_editor *editor, const char *list) {
    size_t widest = 0;
    for (const char *candidate = list; *candidate != '\0';) {
        size_t length = strcspn(candidate, "\n");
        if (length > widest) widest = length;
        candidate += length + (candidate[length] == '\n');
    }
    size_t columns = (size_t)terminal_columns(editor) / (widest + 2);
    if (columns == 0) columns = 1;
    const char *newline = tapir_editor_output_translates_newlines(editor) ? "\n" : "\r\n";
    fputs(newline, editor->out);
    size_t column = 0;
    for (const char *candidate = list; *candidate != '\0';) {
        size_t length = strcspn(candidate, "\n");
        fprintf(editor->out, "%-*.*s", (int)(widest + 2), (int)length, candidate);
        if (++column == columns) {
            fputs(newline, editor->out);
            column = 0;
        }
        candidate += length + (candidate[length] == '\n');
    }
    if (column != 0) fputs(newline, editor->out);
    fflush(editor->out);
}

// Tab (EL_ADDFN "tapir-complete").
static unsigned char complete_key(EditLine *el, int key) {
    (void)key;
    tapir_editor *editor = editor_of(el);
    if (editor->completer == NULL) return CC_ERROR;
    const LineInfo *info = el_line(el);
    size_t before = (size_t)(info->cursor - info->buffer);
    char *typed = strndup(info->buffer, before);
    if (typed == NULL) return CC_ERROR;
    size_t stem = 0;
    const char *list = editor->completer(editor->completer_context, typed, before, &stem);
    free(typed);
    if (list == NULL || *list == '\0') return CC_REFRESH_BEEP;
    size_t count = 0;
    size_t shared = common_prefix(list, &count);
    if (shared > stem) {
        char *insert = strndup(list + stem, shared - stem);
        if (insert == NULL) return CC_ERROR;
        el_insertstr(el, insert);
        free(insert);
        return CC_REFRESH;
    }
    if (count == 1) return CC_REFRESH;
    list_candidates(editor, list);
    return CC_REDISPLAY;
}

void tapir_editor_set_completer(tapir_editor *editor, tapir_completer completer, void *context) {
    editor->completer = completer;
    editor->completer_context = context;
    el_set(editor->el, EL_ADDFN, "tapir-complete", "complete the name before the cursor", complete_key);
    el_set(editor->el, EL_BIND, "^I", "tapir-complete", NULL);
}

void tapir_editor_close(tapir_editor *editor) {
    if (editor == NULL) return;
    if (editor->el != NULL) {
        if (editor->editing) {
            tapir_editor_end_line(editor);
            fputs("\n", editor->out);
        }
        el_end(editor->el);  // restores the terminal settings it found
    }
    if (editor->history != NULL) history_end(editor->history);
    if (editor->out != NULL) fclose(editor->out);
    if (editor->in != NULL) fclose(editor->in);
    free(editor->prompt);
    free(editor);
}

int tapir_editor_set_prompt(tapir_editor *editor, const char *prompt) {
    char *copy = strdup(prompt);
    if (copy == NULL) return -1;
    free(editor->prompt);
    editor->prompt = copy;
    return 0;
}

void tapir_editor_begin_line(tapir_editor *editor) {
    if (editor->editing) return;
    editor->editing = 1;
    // Unbuffered: el_gets executes one key and returns. Switching it on enters raw
    // mode, empties the buffer and draws the prompt.
    el_set(editor->el, EL_UNBUFFERED, 1);
}

void tapir_editor_end_line(tapir_editor *editor) {
    if (!editor->editing) return;
    editor->editing = 0;
    el_set(editor->el, EL_UNBUFFERED, 0);  // back to cooked mode
}

// Executes one key.
static tapir_edit_status read_one_key(tapir_editor *editor, const char **line, size_t *length) {
    int count = 0;
    editor->read_failed = 0;
    const char *buffer = el_gets(editor->el, &count);
    if (editor->read_failed) {
        if (editor->read_errno == EAGAIN) return TAPIR_EDIT_PENDING;  // a key cut short
        tapir_editor_end_line(editor);
        if (editor->read_errno == EIO) return TAPIR_EDIT_EOF;
        errno = editor->read_errno;
        return TAPIR_EDIT_ERROR;
    }
    if (buffer == NULL || count <= 0) return TAPIR_EDIT_PENDING;
    // In unbuffered mode el_gets always hands back the whole buffer; a finished line
    // ends with the newline ed-newline appended, and Ctrl-D on an empty line leaves a
    // lone ^D (what libedit's own rl_callback_read_char checks too).
    if (buffer[count - 1] == '\n') {
        tapir_editor_end_line(editor);
        *line = buffer;
        *length = (size_t)count - 1;
        return TAPIR_EDIT_LINE;
    }
    if (count == 1 && buffer[0] == CONTROL_D) {
        tapir_editor_end_line(editor);
        fputs("\n", editor->out);  // leave the "^D" libedit echoed, as lua -i does
        fflush(editor->out);
        return TAPIR_EDIT_EOF;
    }
    return TAPIR_EDIT_PENDING;
}

tapir_edit_status tapir_editor_read(tapir_editor *editor, const char **line, size_t *length) {
    *line = NULL;
    *length = 0;
    if (!editor->editing) return TAPIR_EDIT_PENDING;
    for (int keys = 0; keys < KEYS_PER_READ; keys++) {
        tapir_edit_status status = read_one_key(editor, line, length);
        if (status != TAPIR_EDIT_PENDING) return status;
        if (!wait_readable(editor->in_fd, 0)) break;
    }
    return TAPIR_EDIT_PENDING;
}

void tapir_editor_hide(tapir_editor *editor) {
    if (!editor->editing) return;
    const LineInfoW *info = el_wline(editor->el);
    size_t before_cursor = text_width(editor->prompt) + (size_t)(info->cursor - info->buffer);
    size_t row = before_cursor / (size_t)terminal_columns(editor);
    const char *up = terminal_string(editor, "up");
    const char *clear = terminal_string(editor, "cd");
    if (clear == NULL) clear = terminal_string(editor, "ce");
    if ((row > 0 && up == NULL) || clear == NULL) {
        // A terminal that cannot go back: leave the line and continue below it.
        fputs("\r\n", editor->out);
    } else {
        for (size_t i = 0; i < row; i++) write_terminal_string(editor, up);
        fputs("\r", editor->out);
        write_terminal_string(editor, clear);
    }
    fflush(editor->out);
}

void tapir_editor_show(tapir_editor *editor) {
    if (!editor->editing) return;
    el_set(editor->el, EL_REFRESH);
}

void tapir_editor_cancel_line(tapir_editor *editor) {
    if (!editor->editing) return;
    const LineInfo *info = el_line(editor->el);
    char *typed = strndup(info->buffer, (size_t)(info->lastchar - info->buffer));
    tapir_editor_hide(editor);
    fputs(editor->prompt, editor->out);
    if (typed != NULL) fputs(typed, editor->out);
    free(typed);
    fputs(tapir_editor_output_translates_newlines(editor) ? "^C\n" : "^C\r\n", editor->out);
    fflush(editor->out);
    tapir_editor_end_line(editor);
    tapir_editor_begin_line(editor);
}

void tapir_editor_resize(tapir_editor *editor) {
    el_resize(editor->el);
}

int tapir_editor_output_translates_newlines(tapir_editor *editor) {
    struct termios settings;
    if (tcgetattr(editor->out_fd, &settings) != 0) return 1;
    return (settings.c_oflag & OPOST) && (settings.c_oflag & ONLCR);
}

int tapir_editor_history_add(tapir_editor *editor, const char *line) {
    HistEvent event;
    return history(editor->history, &event, H_ENTER, line) < 0 ? -1 : 0;
}

void tapir_editor_history_set_size(tapir_editor *editor, int size) {
    HistEvent event;
    history(editor->history, &event, H_SETSIZE, size);
}
