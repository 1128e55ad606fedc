/* The worksheet editor's row loop in C (see sources/sheetxml.py, _edited_rows).
 *
 * A large sync edits most of a sheet's rows, and in Python the loop over them is most of
 * the write. This module runs that loop for the rows it fully understands and gives
 * every other row back to the Python code, which stays the reference: for each row it
 * handles, this code produces the very bytes the Python code would, and where anything
 * is not as expected it stops before that row and reports where, so that Python edits the
 * row (or raises its error) and calls again after it.
 *
 * It handles: rows whose start tag carries its number as the first attribute; an edited
 * row whose new cells all go after its last cell (a first sync); an edited row whose
 * edited cells are all there, each found by its reference (a weekly sync). It gives back:
 * new rows to create, empty <row/> elements with edits, rows without a number, cells
 * that hold a formula, cells to drop, cells that copy a neighbour's style, values that
 * are not exactly str, int, float or None, and anything it cannot parse.
 *
 * Beside it: the formula scan's loop (scan_formulas, see sheetxml.scan_formulas) and the
 * parser's column split (columns, see model._columns).
 */
#define PY_SSIZE_T_CLEAN
#define _GNU_SOURCE
#include <Python.h>
#include <string.h>

#define MAX_EDITS 64        /* more edits in one row: Python edits it */
#define MAX_DIGITS 15       /* a longer number: Python reads it */
#define NO_ROW (1LL << 62)  /* past any row a sheet can have, as in sheetxml._NO_ROW */

/* The output: a bytes object built in place (a new one, not yet shared, may be resized). */
typedef struct {
    PyObject *bytes;
    char *data;
    Py_ssize_t len, cap;
} Buf;

static int buf_reserve(Buf *b, Py_ssize_t extra) {
    if (b->len + extra <= b->cap) return 0;
    Py_ssize_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra) cap *= 2;
    if (b->bytes == NULL) {
        b->bytes = PyBytes_FromStringAndSize(NULL, cap);
        if (b->bytes == NULL) return -1;
    } else if (_PyBytes_Resize(&b->bytes, cap) < 0) {
        return -1; /* b->bytes is NULL now */
    }
    b->data = PyBytes_AS_STRING(b->bytes);
    b->cap = cap;
    return 0;
}

static int buf_add(Buf *b, const char *s, Py_ssize_t n) {
    if (n <= 0) return 0;
    if (buf_reserve(b, n) < 0) return -1;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    return 0;
}

/* What one sheet's XML spells with its namespace prefix (b"" or b"x:"). */
typedef struct {
    char row_open[32], row_end[32], cell_open[32], cell_close[32], formula_open[32];
    char last_cell[40], value_open[32], value_close[32];
    Py_ssize_t row_open_n, row_end_n, cell_open_n, cell_close_n, formula_open_n;
    Py_ssize_t last_cell_n, value_open_n, value_close_n;
} Names;

static int names_init(Names *n, const char *p, Py_ssize_t pn) {
    if (pn > 16) return -1;
#define NAME(field, fmt) n->field##_n = PyOS_snprintf(n->field, sizeof n->field, fmt, (int)pn, p)
    NAME(row_open, "<%.*srow");
    NAME(row_end, "</%.*srow>");
    NAME(cell_open, "<%.*sc");
    NAME(cell_close, "</%.*sc>");
    NAME(formula_open, "<%.*sf");
    NAME(last_cell, "<%.*sc r=\"");
    NAME(value_open, "<%.*sv>");
    NAME(value_close, "</%.*sv>");
#undef NAME
    return 0;
}

/* bytes.find(needle, start, end) */
static Py_ssize_t find(const char *s, Py_ssize_t start, Py_ssize_t end, const char *needle,
                       Py_ssize_t n) {
    if (start < 0) start = 0;
    if (end - start < n) return -1;
    const char *at = memmem(s + start, end - start, needle, n);
    return at ? at - s : -1;
}

/* bytes.rfind(needle, start, end) */
static Py_ssize_t rfind(const char *s, Py_ssize_t start, Py_ssize_t end, const char *needle,
                        Py_ssize_t n) {
    Py_ssize_t last = end - n; /* the last place a match may begin */
    while (last >= start) {
        const char *at = memrchr(s + start, needle[0], last - start + 1);
        if (at == NULL) return -1;
        Py_ssize_t i = at - s;
        if (memcmp(at, needle, n) == 0) return i;
        last = i - 1;
    }
    return -1;
}

static int is_word(unsigned char c) {  /* \w in a bytes pattern */
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int is_space(unsigned char c) {  /* \s in a bytes pattern */
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int ends_name(unsigned char c) {  /* sheetxml._CELL_NAME_END */
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '>' || c == '/';
}

/* Digits at s[i:end) into *value; returns where they end, or -1 if none or too many. */
static Py_ssize_t digits(const char *s, Py_ssize_t i, Py_ssize_t end, long long *value) {
    Py_ssize_t j = i;
    long long v = 0;
    while (j < end && s[j] >= '0' && s[j] <= '9') {
        if (j - i >= MAX_DIGITS) return -1;
        v = v * 10 + (s[j] - '0');
        j++;
    }
    if (j == i) return -1;
    *value = v;
    return j;
}

/* The first match of \bNAME="(\d+)" (a style index) or \bspans="(\d+):(\d+)" in
 * s[start:end): where its value begins, or -1. */
static Py_ssize_t find_attr(const char *s, Py_ssize_t start, Py_ssize_t end, const char *name,
                            Py_ssize_t name_n) {
    Py_ssize_t at = start;
    while ((at = find(s, at, end, name, name_n)) >= 0) {
        if (at == 0 || !is_word((unsigned char)s[at - 1])) return at + name_n;
        at++;
    }
    return -1;
}

/* A style index \bs="(\d+)" in s[start:end): its digits' span, or 0 if none. */
static int style_of(const char *s, Py_ssize_t start, Py_ssize_t end, Py_ssize_t *from,
                    Py_ssize_t *to) {
    Py_ssize_t value = start + 2;
    while ((value = find_attr(s, value - 2, end, "s=\"", 3)) >= 0) {
        Py_ssize_t j = value;
        while (j < end && s[j] >= '0' && s[j] <= '9') j++;
        if (j > value && j < end && s[j] == '"') {
            *from = value;
            *to = j;
            return 1;
        }
    }
    return 0;
}

/* \s+r=" at s[i:end) (a reference as the first attribute after a name): where the
 * reference's value begins, or -1. */
static Py_ssize_t first_ref(const char *s, Py_ssize_t i, Py_ssize_t end) {
    Py_ssize_t j = i;
    while (j < end && is_space((unsigned char)s[j])) j++;
    if (j == i || end - j < 3 || memcmp(s + j, "r=\"", 3) != 0) return -1;
    return j + 3;
}

/* Column letters [A-Z]+ at s[i:end) into a 0-based *col: where they end; -1 if there are
 * none, -2 if there are more than a sheet's columns need. */
static Py_ssize_t column_letters(const char *s, Py_ssize_t i, Py_ssize_t end, long *col) {
    long c = -1;
    Py_ssize_t j;
    for (j = i; j < end && s[j] >= 'A' && s[j] <= 'Z'; j++) {
        if (j - i >= 7) return -2;
        c = (c + 1) * 26 + (s[j] - 'A');
    }
    if (c < 0) return -1;
    *col = c;
    return j;
}

/* Column letters for a 0-based column, as model.column_letter. */
static Py_ssize_t letters_of(long col, char *out) {
    char tmp[16];
    Py_ssize_t n = 0;
    col += 1;
    while (col > 0 && n < 15) {
        long rem = (col - 1) % 26;
        col = (col - 1) / 26;
        tmp[n++] = (char)('A' + rem);
    }
    for (Py_ssize_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    return n;
}

/* One edit of the row being handled. */
typedef struct {
    long col;
    PyObject *value; /* a reference of our own, released by release_cells */
    int has_style_like;
} Cell;

static void release_cells(Cell *cells, int count) {
    for (int i = 0; i < count; i++) Py_DECREF(cells[i].value);
}

typedef struct {
    const char *s;
    Py_ssize_t n;
    Names names;
    const char *prefix;
    Py_ssize_t prefix_n;
    PyObject *bodies;      /* value -> bytes: what follows a cell's style attribute */
    PyObject *render_body; /* value -> that bytes, for a value not in `bodies` yet */
} Sheet;

static PyObject *str_value, *str_style_like;

/* Read a row's edits (col -> edit) into cells, sorted by column. Returns how many (the
 * caller releases them), -1 to give the row back, -2 on a Python error. */
static int row_cells(PyObject *row_edits, Cell *cells) {
    if (!PyDict_Check(row_edits)) return -1;
    Py_ssize_t count = PyDict_GET_SIZE(row_edits);
    if (count == 0 || count > MAX_EDITS) return -1;
    Py_ssize_t pos = 0;
    PyObject *key, *edit;
    int n = 0, outcome = 0;
    while (PyDict_Next(row_edits, &pos, &key, &edit)) {
        long col = PyLong_CheckExact(key) ? PyLong_AsLong(key) : -1;
        if (col == -1 && PyErr_Occurred()) {
            outcome = -2;
            break;
        }
        if (col < 0 || col > 16383) {
            outcome = -1;
            break;
        }
        PyObject *like = PyObject_GetAttr(edit, str_style_like);
        if (like == NULL) {
            outcome = -2;
            break;
        }
        int has_like = like != Py_None;
        Py_DECREF(like);
        PyObject *value = PyObject_GetAttr(edit, str_value);
        if (value == NULL) {
            outcome = -2;
            break;
        }
        if (!(value == Py_None || PyUnicode_CheckExact(value) || PyLong_CheckExact(value) ||
              PyFloat_CheckExact(value))) {
            Py_DECREF(value);
            outcome = -1;
            break;
        }
        int i = n++;
        while (i > 0 && cells[i - 1].col > col) {
            cells[i] = cells[i - 1];
            i--;
        }
        cells[i].col = col;
        cells[i].value = value;
        cells[i].has_style_like = has_like;
    }
    if (outcome < 0) {
        release_cells(cells, n);
        return outcome;
    }
    return n;
}

/* Append the XML of a cell: <c r="{letters}{row}"{ s="style"}{body}. Returns 1 if done,
 * 0 to give the row back (a None without a style renders as nothing), -1 on error. */
static int add_cell(Sheet *sh, Buf *out, Cell *cell, const char *row_text, Py_ssize_t row_n,
                    const char *style, Py_ssize_t style_n) {
    char letters[16];
    Py_ssize_t letters_n = letters_of(cell->col, letters);
    PyObject *value = cell->value;
    if (value == Py_None && style == NULL) return 0;
    if (buf_add(out, "<", 1) < 0 || buf_add(out, sh->prefix, sh->prefix_n) < 0 ||
        buf_add(out, "c r=\"", 5) < 0 || buf_add(out, letters, letters_n) < 0 ||
        buf_add(out, row_text, row_n) < 0 || buf_add(out, "\"", 1) < 0)
        return -1;
    if (style != NULL) {
        if (buf_add(out, " s=\"", 4) < 0 || buf_add(out, style, style_n) < 0 ||
            buf_add(out, "\"", 1) < 0)
            return -1;
    }
    if (PyFloat_CheckExact(value)) {  /* as repr(): the body of a float varies most */
        char *text = PyOS_double_to_string(PyFloat_AS_DOUBLE(value), 'r', 0, Py_DTSF_ADD_DOT_0,
                                           NULL);
        if (text == NULL) return -1;
        int failed = buf_add(out, ">", 1) < 0 ||
                     buf_add(out, sh->names.value_open, sh->names.value_open_n) < 0 ||
                     buf_add(out, text, (Py_ssize_t)strlen(text)) < 0 ||
                     buf_add(out, sh->names.value_close, sh->names.value_close_n) < 0 ||
                     buf_add(out, sh->names.cell_close, sh->names.cell_close_n) < 0;
        PyMem_Free(text);
        return failed ? -1 : 1;
    }
    PyObject *body = PyDict_GetItemWithError(sh->bodies, value);
    if (body == NULL) {
        if (PyErr_Occurred()) return -1;
        body = PyObject_CallOneArg(sh->render_body, value);
        if (body == NULL) return -1;
        int stored = PyBytes_Check(body) ? PyDict_SetItem(sh->bodies, value, body) : -1;
        Py_DECREF(body); /* the dict holds it */
        if (stored < 0) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "a cell body must be bytes");
            return -1;
        }
    }
    return buf_add(out, PyBytes_AS_STRING(body), PyBytes_GET_SIZE(body)) < 0 ? -1 : 1;
}

/* sheetxml._cell_end: where the cell whose start tag ends at tag_end ends; -1 if not by limit. */
static Py_ssize_t cell_end(Sheet *sh, Py_ssize_t tag_end, Py_ssize_t limit) {
    if (sh->s[tag_end - 1] == '/') return tag_end + 1;
    Py_ssize_t close = find(sh->s, tag_end, limit, sh->names.cell_close, sh->names.cell_close_n);
    return close >= 0 ? close + sh->names.cell_close_n : -1;
}

/* sheetxml._holds_formula */
static int holds_formula(Sheet *sh, Py_ssize_t start, Py_ssize_t end) {
    const Names *nm = &sh->names;
    Py_ssize_t at = find(sh->s, start, end, nm->formula_open, nm->formula_open_n);
    while (at >= 0) {
        if (at + nm->formula_open_n >= sh->n) return 1; /* cannot happen inside a row */
        if (ends_name((unsigned char)sh->s[at + nm->formula_open_n])) return 1;
        at = find(sh->s, at + 1, end, nm->formula_open, nm->formula_open_n);
    }
    return 0;
}

/* The row's start tag s[tag_start:tag_end], its spans="low:high" reaching at least column
 * `high` (1-based), appended to out (sheetxml._spans_to). 0 to give the row back. */
static int add_open_tag(Sheet *sh, Buf *out, Py_ssize_t tag_start, Py_ssize_t tag_end,
                        long high) {
    const char *s = sh->s;
    Py_ssize_t at = tag_start;
    while ((at = find_attr(s, at, tag_end, "spans=\"", 7)) >= 0) {
        long long low, old_high;
        Py_ssize_t colon = digits(s, at, tag_end, &low);
        if (colon >= 0 && colon < tag_end && s[colon] == ':') {
            Py_ssize_t quote = digits(s, colon + 1, tag_end, &old_high);
            if (quote >= 0 && quote < tag_end && s[quote] == '"') {
                if (high <= old_high) break;
                char wider[64];
                int n = PyOS_snprintf(wider, sizeof wider, "spans=\"%lld:%ld\"", low, high);
                Py_ssize_t spans_start = at - 7;
                if (buf_add(out, s + tag_start, spans_start - tag_start) < 0 ||
                    buf_add(out, wider, n) < 0 || buf_add(out, s + quote + 1, tag_end - quote - 1) < 0)
                    return -1;
                return 1;
            }
        }
        if (colon < 0 && at < tag_end && s[at] >= '0' && s[at] <= '9') return 0; /* too long */
        if (colon >= 0 && colon < tag_end && s[colon] == ':' && colon + 1 < tag_end &&
            s[colon + 1] >= '0' && s[colon + 1] <= '9')
            return 0; /* the high end too long */
        at = at - 6; /* search on from just after this "spans=" */
    }
    return buf_add(out, s + tag_start, tag_end - tag_start) < 0 ? -1 : 1;
}

/* The first sync's case (sheetxml._edited_rows, inline): every edit is a new cell right of
 * the row's last cell, put just before </row>. Returns 1 if done, 0 if the row is not
 * such a row, 2 to give the row back, -1 on error. */
static int append_cells(Sheet *sh, Buf *out, Py_ssize_t *last, Py_ssize_t tag_start,
                        Py_ssize_t tag_end, Py_ssize_t attrs_start, Py_ssize_t close, Cell *cells,
                        int count, const char *row_text, Py_ssize_t row_n) {
    const char *s = sh->s;
    const Names *nm = &sh->names;
    Py_ssize_t cell = rfind(s, tag_end, close, nm->last_cell, nm->last_cell_n);
    if (cell < 0) return 0;
    long col;
    Py_ssize_t letters_end = column_letters(s, cell + nm->last_cell_n, sh->n, &col);
    if (letters_end == -2) return 2;
    if (letters_end < 0 || col >= cells[0].col) return 0;
    /* _only_cell_left: nothing (an extLst) between that cell and </row> */
    Py_ssize_t cell_tag_end = find(s, cell, close, ">", 1);
    if (cell_tag_end < 0 || cell_end(sh, cell_tag_end, close) != close) return 0;
    long high = -1;
    for (int i = 0; i < count; i++) {
        if (cells[i].value == Py_None) continue;
        if (cells[i].has_style_like) return 0;
        high = cells[i].col;
    }
    Py_ssize_t mark = out->len;
    int widen = high >= 0 && find(s, attrs_start, tag_end, "spans=", 6) >= 0;
    if (widen) {
        if (buf_add(out, s + *last, tag_start - *last) < 0) return -1;
        int done = add_open_tag(sh, out, tag_start, tag_end, high + 1);
        if (done <= 0) {
            out->len = mark;
            return done < 0 ? -1 : 2;
        }
        *last = tag_end;
    }
    if (buf_add(out, s + *last, close - *last) < 0) return -1;
    for (int i = 0; i < count; i++) {
        if (cells[i].value == Py_None) continue;
        int done = add_cell(sh, out, &cells[i], row_text, row_n, NULL, 0);
        if (done <= 0) {
            out->len = mark;
            return done < 0 ? -1 : 2;
        }
    }
    *last = close;
    return 1;
}

/* The row's start tag, its spans widened to the last column that gets a value. */
static int add_row_tag(Sheet *sh, Buf *out, Py_ssize_t tag_start, Py_ssize_t tag_end,
                       Cell *cells, int count) {
    long high = -1;
    for (int i = 0; i < count; i++)
        if (cells[i].value != Py_None) high = cells[i].col;
    if (high >= 0 && find(sh->s, tag_start, tag_end, "spans=", 6) >= 0)
        return add_open_tag(sh, out, tag_start, tag_end, high + 1);
    return buf_add(out, sh->s + tag_start, tag_end - tag_start) < 0 ? -1 : 1;
}

/* An edited row's beginning: the bytes since the last edit, and its start tag. */
static int begin_row(Sheet *sh, Buf *out, Py_ssize_t last, Py_ssize_t tag_start,
                     Py_ssize_t tag_end, Cell *cells, int count) {
    if (buf_add(out, sh->s + last, tag_start - last) < 0) return -1;
    return add_row_tag(sh, out, tag_start, tag_end, cells, count);
}

/* An edited row's end: its body's bytes from `at`, and </row>. */
static int end_row(Sheet *sh, Buf *out, Py_ssize_t *last, Py_ssize_t at, Py_ssize_t close) {
    const Names *nm = &sh->names;
    if (buf_add(out, sh->s + at, close - at) < 0 || buf_add(out, nm->row_end, nm->row_end_n) < 0)
        return -1;
    *last = close + nm->row_end_n;
    return 1;
}

/* The weekly case (sheetxml._replace_in_place), for a row without style_like edits:
 * each edited cell is there, found by its reference, and is replaced keeping its style.
 * Returns 1 if done, 0 where the Python code finds it is not such a row, 2 to give the
 * row back, -1 on error. */
static int replace_cells(Sheet *sh, Buf *out, Py_ssize_t *last, Py_ssize_t tag_start,
                         Py_ssize_t tag_end, Py_ssize_t close, Cell *cells, int count,
                         const char *row_text, Py_ssize_t row_n) {
    const char *s = sh->s;
    const Names *nm = &sh->names;
    Py_ssize_t mark = out->len;
    int done = begin_row(sh, out, *last, tag_start, tag_end, cells, count);
    if (done != 1) goto give_back;
    Py_ssize_t at = tag_end; /* the body's bytes not yet copied */
    for (int i = 0; i < count; i++) {
        char needle[64]; /* <{p}c r="{letters}{row}" */
        Py_ssize_t needle_n = nm->last_cell_n;
        memcpy(needle, nm->last_cell, needle_n);
        needle_n += letters_of(cells[i].col, needle + needle_n);
        memcpy(needle + needle_n, row_text, row_n);
        needle_n += row_n;
        needle[needle_n++] = '"';
        Py_ssize_t start = find(s, tag_end, close, needle, needle_n);
        Py_ssize_t cell_tag_end = start >= at ? find(s, start, close, ">", 1) : -1;
        Py_ssize_t end = cell_tag_end >= 0 ? cell_end(sh, cell_tag_end, close) : -1;
        if (end < 0) {
            done = 0;
            goto give_back;
        }
        if (holds_formula(sh, cell_tag_end, end)) {
            done = 2; /* Python raises */
            goto give_back;
        }
        Py_ssize_t style_from = 0, style_to = 0;
        int styled = style_of(s, start, cell_tag_end, &style_from, &style_to);
        if (buf_add(out, s + at, start - at) < 0) {
            done = -1;
            goto give_back;
        }
        done = add_cell(sh, out, &cells[i], row_text, row_n, styled ? s + style_from : NULL,
                        style_to - style_from);
        if (done != 1) goto give_back; /* 0: a cell to drop, which the full reading does */
        at = end;
    }
    return end_row(sh, out, last, at, close);
give_back:
    out->len = mark;
    return done;
}

/* A cell found in a row: its column, start, end, and where its start tag ends. */
typedef struct {
    long col;
    Py_ssize_t start, end, tag_end;
} Found;

#define MAX_FOUND 256

/* sheetxml._cells_from: the cells at or right of min_col, and the one just before, read
 * from the row's end, in row order. Returns how many, or -1 where Python must read the
 * row (a cell whose reference is not its first attribute, or too many cells). */
static int cells_from(Sheet *sh, Py_ssize_t body_start, Py_ssize_t body_end, long min_col,
                      Found *found) {
    const char *s = sh->s;
    const Names *nm = &sh->names;
    Py_ssize_t skip = nm->cell_open_n;
    Py_ssize_t pos = body_end, next_start = body_end;
    int n = 0;
    while (pos > body_start) {
        Py_ssize_t start = rfind(s, body_start, pos, nm->cell_open, skip);
        if (start < 0) break;
        pos = start;
        if (start + skip >= sh->n || !ends_name((unsigned char)s[start + skip])) continue;
        Py_ssize_t tag_end = find(s, start, next_start, ">", 1);
        if (tag_end < 0) return -1;
        /* _FIRST_REF: \s+r="([A-Z]+)\d*" right after the name */
        Py_ssize_t j = first_ref(s, start + skip, tag_end);
        long col;
        if (j < 0 || (j = column_letters(s, j, tag_end, &col)) < 0) return -1;
        while (j < tag_end && s[j] >= '0' && s[j] <= '9') j++;
        if (j >= tag_end || s[j] != '"') return -1;
        Py_ssize_t end = cell_end(sh, tag_end, body_end);
        if (end < 0 || n == MAX_FOUND) return -1;
        found[n].col = col;
        found[n].start = start;
        found[n].end = end;
        found[n].tag_end = tag_end;
        n++;
        next_start = start;
        if (col < min_col) break;
    }
    for (int i = 0; i < n / 2; i++) {
        Found t = found[i];
        found[i] = found[n - 1 - i];
        found[n - 1 - i] = t;
    }
    return n;
}

/* A piece of the edited row body: replace s[start:end) with a cell of `cells`. */
typedef struct {
    Py_ssize_t start, end;
    int cell;             /* index into the row's cells */
    Py_ssize_t style_from, style_to; /* the style index's digits, if style_to > 0 */
} Piece;

/* The full reading (sheetxml._edit_row after _replace_in_place), for a row without
 * style_like edits: cells replaced, dropped or inserted in column order. Only where every
 * cell it reads carries its reference as its first attribute (else a cleared cell must
 * stay as an empty one). Returns 1 if done, 2 to give the row back, -1 on error. */
static int edit_row(Sheet *sh, Buf *out, Py_ssize_t *last, Py_ssize_t tag_start,
                    Py_ssize_t tag_end, Py_ssize_t close, Cell *cells, int count,
                    const char *row_text, Py_ssize_t row_n) {
    const char *s = sh->s;
    Found found[MAX_FOUND];
    int found_n = cells_from(sh, tag_end, close, cells[0].col, found);
    if (found_n < 0) return 2;
    Piece pieces[MAX_EDITS];
    int pieces_n = 0;
    for (int i = 0; i < count; i++) {
        const Found *existing = NULL;
        for (int k = found_n - 1; k >= 0; k--) /* the last of a column, as a dict keeps */
            if (found[k].col == cells[i].col) {
                existing = &found[k];
                break;
            }
        Piece *piece = &pieces[pieces_n];
        piece->cell = i;
        piece->style_to = 0;
        if (existing != NULL) {
            if (holds_formula(sh, existing->start, existing->end)) return 2; /* Python raises */
            piece->start = existing->start;
            piece->end = existing->end;
            style_of(s, existing->start, existing->tag_end, &piece->style_from, &piece->style_to);
            pieces_n++;
            continue;
        }
        if (cells[i].value == Py_None) continue;
        Py_ssize_t at = found_n ? found[0].start : tag_end;
        for (int k = 0; k < found_n; k++) {
            if (found[k].col >= cells[i].col) break;
            at = found[k].end;
        }
        piece->start = piece->end = at;
        pieces_n++;
    }
    /* In row order (a stable sort by start, as Python's) */
    for (int i = 1; i < pieces_n; i++) {
        Piece p = pieces[i];
        int k = i;
        while (k > 0 && pieces[k - 1].start > p.start) {
            pieces[k] = pieces[k - 1];
            k--;
        }
        pieces[k] = p;
    }
    Py_ssize_t mark = out->len;
    int done = begin_row(sh, out, *last, tag_start, tag_end, cells, count);
    if (done != 1) goto give_back;
    Py_ssize_t at = tag_end;
    for (int i = 0; i < pieces_n; i++) {
        Piece *piece = &pieces[i];
        if (piece->start > at && buf_add(out, s + at, piece->start - at) < 0) {
            done = -1;
            goto give_back;
        }
        int styled = piece->style_to > 0;
        done = add_cell(sh, out, &cells[piece->cell], row_text, row_n,
                        styled ? s + piece->style_from : NULL, piece->style_to - piece->style_from);
        if (done < 0) goto give_back;
        at = piece->end; /* done == 0: a cleared cell without a style goes */
    }
    return end_row(sh, out, last, at, close);
give_back:
    out->len = mark;
    return done < 0 ? -1 : 2;
}

/* edit_rows(chunk, pos, last, next_index, row_number, pending, edits, prefix, bodies,
 *           render_body) -> (piece, last, pos, next_index, row_number, done)
 *
 * Runs sheetxml._edited_rows's loop over the rows of `chunk` from `pos`. `piece` is the
 * edited form of chunk[last_in:last]. When done, every row was handled and `last` is the
 * chunk's end; otherwise the row starting at `pos` is Python's to handle.
 */
static PyObject *edit_rows(PyObject *module, PyObject *args) {
    Py_buffer view;
    Py_ssize_t pos, last, next_index;
    long long row_number;
    PyObject *pending, *edits, *prefix, *bodies, *render_body;
    if (!PyArg_ParseTuple(args, "y*nnnLO!O!SO!O:edit_rows", &view, &pos, &last, &next_index,
                          &row_number, &PyList_Type, &pending, &PyDict_Type, &edits, &prefix,
                          &PyDict_Type, &bodies, &render_body))
        return NULL;
    Sheet sh = {.s = view.buf, .n = view.len, .prefix = PyBytes_AS_STRING(prefix),
                .prefix_n = PyBytes_GET_SIZE(prefix), .bodies = bodies,
                .render_body = render_body};
    Buf out = {NULL, NULL, 0, 0};
    PyObject *result = NULL;
    int done = 0;
    if (names_init(&sh.names, sh.prefix, sh.prefix_n) < 0 || pos < 0 || last < 0 || pos > sh.n ||
        last > pos) {
        PyErr_SetString(PyExc_ValueError, "edit_rows: bad arguments");
        goto exit;
    }
    if (buf_reserve(&out, (sh.n - last) + (sh.n - last) / 8 + 256) < 0) goto exit;
    const char *s = sh.s;
    const Names *nm = &sh.names;
    Py_ssize_t pending_n = PyList_GET_SIZE(pending);
    long long next_row = NO_ROW;
    PyObject *next_key = NULL;
#define NEXT_ROW()                                                             \
    do {                                                                       \
        next_row = NO_ROW;                                                     \
        next_key = NULL;                                                       \
        if (next_index < pending_n) {                                          \
            next_key = PyList_GET_ITEM(pending, next_index);                   \
            next_row = PyLong_AsLongLong(next_key);                            \
            if (next_row == -1 && PyErr_Occurred()) goto exit;                 \
        }                                                                      \
    } while (0)
    NEXT_ROW();
    Cell cells[MAX_EDITS];
    Py_ssize_t at;
    for (;;) {
        at = find(s, pos, sh.n, nm->row_open, nm->row_open_n);
        if (at < 0) {
            done = 1;
            break;
        }
        Py_ssize_t i = at + nm->row_open_n;
        if (i < sh.n && is_word((unsigned char)s[i])) { /* <rowBreaks> and the like */
            pos = i;
            continue;
        }
        /* \s+r="(\d+)" as the first attribute, else Python reads the row's number */
        Py_ssize_t j = first_ref(s, i, sh.n);
        if (j < 0) break;
        long long number;
        Py_ssize_t quote = digits(s, j, sh.n, &number);
        if (quote < 0 || quote >= sh.n || s[quote] != '"') break;
        Py_ssize_t attrs_start = quote + 1;
        Py_ssize_t gt = find(s, attrs_start, sh.n, ">", 1);
        if (gt < 0) break;
        Py_ssize_t tag_end = gt + 1;
        int empty_row = s[gt - 1] == '/';
        Py_ssize_t close = empty_row ? tag_end : find(s, tag_end, sh.n, nm->row_end, nm->row_end_n);
        if (close < 0) break; /* not closed: Python raises */
        Py_ssize_t after = empty_row ? tag_end : close + nm->row_end_n;
        if (number < next_row) {
            row_number = number;
            pos = after;
            continue;
        }
        if (next_row < number || empty_row) break; /* rows to create, or <row/> to open */
        PyObject *row_edits = PyDict_GetItemWithError(edits, next_key);
        if (row_edits == NULL) {
            if (!PyErr_Occurred()) PyErr_SetObject(PyExc_KeyError, next_key);
            goto exit;
        }
        int count = row_cells(row_edits, cells);
        if (count == -2) goto exit;
        if (count < 0) break;
        char row_text[24];
        Py_ssize_t row_n = PyOS_snprintf(row_text, sizeof row_text, "%lld", number);
        int handled = append_cells(&sh, &out, &last, at, tag_end, attrs_start, close, cells, count,
                                   row_text, row_n);
        for (int k = 0; handled == 0 && k < count; k++)
            if (cells[k].has_style_like) handled = 2; /* a header cell: Python copies styles */
        if (handled == 0)
            handled = replace_cells(&sh, &out, &last, at, tag_end, close, cells, count, row_text,
                                    row_n);
        if (handled == 0)
            handled = edit_row(&sh, &out, &last, at, tag_end, close, cells, count, row_text,
                               row_n);
        release_cells(cells, count);
        if (handled < 0) goto exit;
        if (handled != 1) break;
        row_number = number;
        pos = after;
        next_index++;
        NEXT_ROW();
    }
#undef NEXT_ROW
    if (done) {
        if (buf_add(&out, s + last, sh.n - last) < 0) goto exit;
        last = pos = sh.n;
    } else {
        pos = at; /* the row given back: Python's loop starts there */
    }
    /* out.bytes exists: the reserve above asked for at least 256 bytes */
    if (_PyBytes_Resize(&out.bytes, out.len) < 0) goto exit;
    result = Py_BuildValue("(NnnnLO)", out.bytes, last, pos, next_index, row_number,
                           done ? Py_True : Py_False);
    out.bytes = NULL; /* the tuple has it (or, on failure, freed it) */
exit:
    Py_XDECREF(out.bytes);
    PyBuffer_Release(&view);
    return result;
}


/* scan_formulas(chunk, prefix, formulas) -> [position of each <f it leaves to Python]
 *
 * The loop of sheetxml.scan_formulas over one chunk of whole rows: for each formula
 * start (<f followed by a space, / or >), the usual formula cell (reference first, the
 * formula its first child, a saved value right after) is added to `formulas` as
 * (0-based row, 0-based column); the position of any other is given back, for the
 * Python code to place and to look for its saved value.
 */
static int usual_formula_cell(const char *s, Py_ssize_t n, Py_ssize_t start, const Names *nm,
                              long long *row, long *col) {
    /* <{p}c\s+r="([A-Z]+)(\d+)"[^>]*>\s*<{p}f\b[^>]*?(?:/>|>[^<]*</{p}f>)\s*<{p}v>[^<] */
    Py_ssize_t i = first_ref(s, start + nm->cell_open_n, n);
    long c;
    if (i < 0 || (i = column_letters(s, i, n, &c)) < 0) return 0;
    long long r;
    i = digits(s, i, n, &r);
    if (i < 0 || i >= n || s[i] != '"') return 0;
    Py_ssize_t gt = find(s, i, n, ">", 1);
    if (gt < 0) return 0;
    i = gt + 1;
    while (i < n && is_space((unsigned char)s[i])) i++;
    if (n - i < nm->formula_open_n + 1 || memcmp(s + i, nm->formula_open, nm->formula_open_n) != 0)
        return 0;
    i += nm->formula_open_n;
    if (is_word((unsigned char)s[i])) return 0;
    gt = find(s, i, n, ">", 1);
    if (gt < 0) return 0;
    if (s[gt - 1] == '/' && gt - 1 >= i) {
        i = gt + 1;
    } else {
        Py_ssize_t lt = find(s, gt + 1, n, "<", 1);
        if (lt < 0 || lt + 2 + (Py_ssize_t)(nm->formula_open_n - 1) > n)
            return 0;
        /* </{p}f> */
        if (s[lt + 1] != '/' || memcmp(s + lt + 2, nm->formula_open + 1, nm->formula_open_n - 1) != 0)
            return 0;
        i = lt + 2 + nm->formula_open_n - 1;
        if (i >= n || s[i] != '>') return 0;
        i++;
    }
    while (i < n && is_space((unsigned char)s[i])) i++;
    if (n - i < nm->value_open_n + 1 || memcmp(s + i, nm->value_open, nm->value_open_n) != 0)
        return 0;
    if (s[i + nm->value_open_n] == '<') return 0;
    *row = r - 1;
    *col = c;
    return 1;
}

static PyObject *scan_formulas(PyObject *module, PyObject *args) {
    Py_buffer view;
    PyObject *prefix, *formulas;
    if (!PyArg_ParseTuple(args, "y*SO!:scan_formulas", &view, &prefix, &PySet_Type, &formulas))
        return NULL;
    Names nm;
    PyObject *left = NULL;
    if (names_init(&nm, PyBytes_AS_STRING(prefix), PyBytes_GET_SIZE(prefix)) < 0) {
        PyErr_SetString(PyExc_ValueError, "scan_formulas: prefix too long");
        goto exit;
    }
    left = PyList_New(0);
    if (left == NULL) goto exit;
    const char *s = view.buf;
    Py_ssize_t n = view.len, pos = 0;
    while ((pos = find(s, pos, n, nm.formula_open, nm.formula_open_n)) >= 0) {
        Py_ssize_t at = pos;
        pos += nm.formula_open_n;
        if (pos >= n) break;
        unsigned char next = (unsigned char)s[pos];
        if (!(is_space(next) || next == '/' || next == '>')) continue;
        pos++; /* the match is <f and that character */
        Py_ssize_t start = rfind(s, 0, at, nm.cell_open, nm.cell_open_n);
        while (start >= 0 && (start + nm.cell_open_n >= n ||
                              !ends_name((unsigned char)s[start + nm.cell_open_n])))
            start = rfind(s, 0, start, nm.cell_open, nm.cell_open_n);
        long long row;
        long col;
        if (start >= 0 && usual_formula_cell(s, n, start, &nm, &row, &col)) {
            PyObject *cell = Py_BuildValue("(Ll)", row, col);
            if (cell == NULL || PySet_Add(formulas, cell) < 0) {
                Py_XDECREF(cell);
                Py_CLEAR(left);
                goto exit;
            }
            Py_DECREF(cell);
            continue;
        }
        PyObject *where = PyLong_FromSsize_t(at);
        if (where == NULL || PyList_Append(left, where) < 0) {
            Py_XDECREF(where);
            Py_CLEAR(left);
            goto exit;
        }
        Py_DECREF(where);
    }
exit:
    PyBuffer_Release(&view);
    return left;
}

/* The type datetime.date, looked up when the module loads. */
static PyObject *date_type;

/* May an equal cell stand for this one? Only where equal means the same value: str, int,
 * date, and floats other than zeros (0.0 == -0.0) and NaN. */
static int shareable(PyObject *cell) {
    PyTypeObject *type = Py_TYPE(cell);
    if (type == &PyUnicode_Type || type == &PyLong_Type || (PyObject *)type == date_type)
        return 1;
    if (type == &PyFloat_Type) {
        double x = PyFloat_AS_DOUBLE(cell);
        return x == x && x != 0.0;
    }
    return 0;
}

/* columns(rows, first, cols): for each column index in cols, the list of that column's
 * cells in rows[first:], None past the end of a shorter row (model._columns is the
 * reference). One pass over the rows: a column-major pass over a large grid misses the
 * cache on every row.
 *
 * Within a column that repeats itself (owners, teams, dates), each cell equal to an
 * earlier one of the same type is given as that earlier cell: the parser, which parses
 * each distinct value once (values._parse_distinct), then finds them by identity among a
 * few objects in the cache, instead of comparing each with its own copy. A column still
 * more than a quarter distinct a quarter of the way down is left as it is. */
static PyObject *columns(PyObject *module, PyObject *args) {
    PyObject *rows, *cols, *out = NULL;
    Py_ssize_t first, *index = NULL;
    PyObject ***targets = NULL;
    PyObject **seen = NULL; /* per column: equal cell -> first such cell; NULL: given up */
    Py_ssize_t width = 0;
    int ok = 0;
    if (!PyArg_ParseTuple(args, "O!nO!:columns", &PyList_Type, &rows, &first, &PyList_Type,
                          &cols))
        return NULL;
    Py_ssize_t total = PyList_GET_SIZE(rows);
    if (first < 0) first = 0;
    Py_ssize_t count = first < total ? total - first : 0;
    Py_ssize_t quarter = count / 4 + 1;
    width = PyList_GET_SIZE(cols);
    index = PyMem_New(Py_ssize_t, width ? width : 1);
    targets = PyMem_New(PyObject **, width ? width : 1);
    seen = PyMem_Calloc(width ? width : 1, sizeof(PyObject *)); /* all NULL */
    if (index == NULL || targets == NULL || seen == NULL) {
        PyErr_NoMemory();
        goto exit;
    }
    for (Py_ssize_t c = 0; c < width; c++) {
        index[c] = PyLong_AsSsize_t(PyList_GET_ITEM(cols, c));
        if (index[c] == -1 && PyErr_Occurred()) goto exit;
        if (index[c] < 0) {
            PyErr_SetString(PyExc_ValueError, "columns: a negative column");
            goto exit;
        }
    }
    out = PyList_New(width);
    if (out == NULL) goto exit;
    for (Py_ssize_t c = 0; c < width; c++) {
        PyObject *column = PyList_New(count);
        if (column == NULL) goto exit;
        PyList_SET_ITEM(out, c, column);
        targets[c] = ((PyListObject *)column)->ob_item;
        if (count >= 8 && (seen[c] = PyDict_New()) == NULL) goto exit;
    }
    /* No Python code runs in this loop (the dicts hash and compare only str, int, float
     * and date, and allocate no tracked objects), so `rows` cannot change under it. */
    for (Py_ssize_t r = 0; r < count; r++) {
        PyObject *row = PyList_GET_ITEM(rows, first + r);
        PyObject **items;
        Py_ssize_t len;
        if (PyList_Check(row)) {
            items = ((PyListObject *)row)->ob_item;
            len = PyList_GET_SIZE(row);
        } else if (PyTuple_Check(row)) {
            items = ((PyTupleObject *)row)->ob_item;
            len = PyTuple_GET_SIZE(row);
        } else {
            PyErr_SetString(PyExc_TypeError, "columns: a row that is not a list or tuple");
            goto exit;
        }
        for (Py_ssize_t c = 0; c < width; c++) {
            PyObject *cell = index[c] < len ? items[index[c]] : Py_None;
            if (seen[c] != NULL && shareable(cell)) {
                PyObject *earlier = PyDict_SetDefault(seen[c], cell, cell); /* borrowed */
                if (earlier == NULL) goto exit;
                if (Py_TYPE(earlier) == Py_TYPE(cell)) cell = earlier;
            }
            Py_INCREF(cell);
            targets[c][r] = cell;
        }
        if (r + 1 == quarter) {
            for (Py_ssize_t c = 0; c < width; c++)
                if (seen[c] != NULL && PyDict_GET_SIZE(seen[c]) * 4 > quarter) Py_CLEAR(seen[c]);
        }
    }
    ok = 1;
exit:
    if (!ok) Py_CLEAR(out); /* its lists' unset items are NULL, which they skip */
    if (seen != NULL)
        for (Py_ssize_t c = 0; c < width; c++) Py_XDECREF(seen[c]);
    PyMem_Free(seen);
    PyMem_Free(index);
    PyMem_Free(targets);
    return out;
}

static PyMethodDef methods[] = {
    {"edit_rows", edit_rows, METH_VARARGS,
     "Run the worksheet editor's row loop over a chunk, giving back rows it does not handle."},
    {"scan_formulas", scan_formulas, METH_VARARGS,
     "Find a chunk's formula cells, giving back those that are not the usual kind."},
    {"columns", columns, METH_VARARGS,
     "The given columns of rows[first:] as lists, None past the end of a shorter row, "
     "equal cells shared."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "milestone_sheets._speedups",
    "Loops in C: the worksheet editor's rows and formula scan (sources/sheetxml.py) and the "
    "parser's columns (model.py), each with its Python reference.", -1, methods,
};

PyMODINIT_FUNC PyInit__speedups(void) {
    str_value = PyUnicode_InternFromString("value");
    str_style_like = PyUnicode_InternFromString("style_like");
    if (str_value == NULL || str_style_like == NULL) return NULL;
    PyObject *datetime = PyImport_ImportModule("datetime");
    if (datetime == NULL) return NULL;
    date_type = PyObject_GetAttrString(datetime, "date");
    Py_DECREF(datetime);
    if (date_type == NULL) return NULL;
    return PyModule_Create(&module);
}
