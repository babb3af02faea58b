/*
 * postseal.mail._octets — the octet scans of mail text, in one pass (ADR 0026).
 *
 * The pure-Python reference of every function here is postseal/mail/octets.py; the
 * property tests in tests/unit/test_octets.py hold both to the same answers. Nothing
 * here allocates except the result of crlf_lines, and nothing keeps a reference.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

/* The flags of scan(); the same values are named in octets.py. */
#define BARE_LINE_END 1  /* a CR or an LF that is not part of a CRLF pair */
#define EIGHT_BIT 2      /* an octet above 127 */
#define NUL 4            /* an octet 0 */
#define LONG_LINE 8      /* a line of more than 998 octets before its line end */
#define TRAILING_SPACE 16 /* SP or HT before a CR, or as the last octet */

#define MAX_LINE 998       /* RFC 5322 §2.1.1 */
#define RELEASE_GIL_FROM (256 * 1024)

static int
is_blank(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/* Counts of CR, LF and NUL and the OR of every octet, in blocks whose 8-bit counters
 * cannot overflow: the loop body has no branch, so the compiler vectorises it. */
static void
count_octets(const unsigned char *p, Py_ssize_t n, size_t *cr, size_t *lf, size_t *nul,
             unsigned char *any)
{
    Py_ssize_t i = 0;
    unsigned char bits = 0;
    while (i < n) {
        Py_ssize_t stop = n - i > 255 ? i + 255 : n;
        unsigned char bcr = 0, blf = 0, bnul = 0;
        for (; i < stop; i++) {
            unsigned char c = p[i];
            bits |= c;
            bcr += c == '\r';
            blf += c == '\n';
            bnul += c == 0;
        }
        *cr += bcr;
        *lf += blf;
        *nul += bnul;
    }
    *any = bits;
}

static int
scan_octets(const unsigned char *p, Py_ssize_t n)
{
    int flags = 0;
    size_t cr = 0, lf = 0, nul = 0, pairs = 0;
    unsigned char any = 0;
    const unsigned char *line = p, *end = p + n;

    count_octets(p, n, &cr, &lf, &nul, &any);
    if (any & 0x80)
        flags |= EIGHT_BIT;
    if (nul)
        flags |= NUL;
    /* Line by line, from LF to LF (memchr is the library's vector search). */
    for (;;) {
        const unsigned char *nl = memchr(line, '\n', (size_t)(end - line));
        const unsigned char *stop;
        if (nl == NULL)
            break;
        if (nl > p && nl[-1] == '\r') {
            pairs++;
            stop = nl - 1;
            if (stop > p && is_blank(stop[-1]))
                flags |= TRAILING_SPACE;
        }
        else {
            flags |= BARE_LINE_END;
            stop = nl;
        }
        if (stop - line > MAX_LINE)
            flags |= LONG_LINE;
        line = nl + 1;
    }
    if (end - line > MAX_LINE)
        flags |= LONG_LINE;
    if (pairs != cr || pairs != lf)
        flags |= BARE_LINE_END;
    if (pairs != cr) {
        /* a bare CR: white space before it counts too, as in the reference */
        const unsigned char *q = p;
        while ((q = memchr(q, '\r', (size_t)(end - q))) != NULL) {
            if (q > p && is_blank(q[-1]))
                flags |= TRAILING_SPACE;
            q++;
        }
    }
    if (n > 0 && is_blank(end[-1]))
        flags |= TRAILING_SPACE;
    return flags;
}

PyDoc_STRVAR(scan_doc,
"scan(data, start=0, /) -> int\n\n"
"The flags (octets.BARE_LINE_END, EIGHT_BIT, NUL, LONG_LINE, TRAILING_SPACE) that\n"
"hold for data[start:], read as a text of its own.");

static PyObject *
octets_scan(PyObject *module, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t start = 0;
    int flags;
    if (!PyArg_ParseTuple(args, "y*|n:scan", &view, &start))
        return NULL;
    if (start < 0 || start > view.len) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "start lies outside the data");
        return NULL;
    }
    if (view.len - start >= RELEASE_GIL_FROM) {
        Py_BEGIN_ALLOW_THREADS
        flags = scan_octets((const unsigned char *)view.buf + start, view.len - start);
        Py_END_ALLOW_THREADS
    }
    else {
        flags = scan_octets((const unsigned char *)view.buf + start, view.len - start);
    }
    PyBuffer_Release(&view);
    return PyLong_FromLong(flags);
}

PyDoc_STRVAR(crlf_lines_doc,
"crlf_lines(text, width, prefix, /) -> bytes\n\n"
"prefix + text cut into lines of width octets (the last may be shorter), each\n"
"followed by CRLF; empty text gives prefix alone.");

static PyObject *
octets_crlf_lines(PyObject *module, PyObject *args)
{
    Py_buffer text, prefix;
    Py_ssize_t width, lines, size;
    PyObject *result = NULL;
    if (!PyArg_ParseTuple(args, "y*ny*:crlf_lines", &text, &width, &prefix))
        return NULL;
    if (width < 1) {
        PyErr_SetString(PyExc_ValueError, "width must be at least 1");
        goto done;
    }
    lines = text.len / width + (text.len % width != 0);
    if (lines > (PY_SSIZE_T_MAX - prefix.len - text.len) / 2) {
        PyErr_NoMemory();
        goto done;
    }
    size = prefix.len + text.len + 2 * lines;
    result = PyBytes_FromStringAndSize(NULL, size);
    if (result != NULL) {
        char *out = PyBytes_AS_STRING(result);
        const char *in = text.buf;
        Py_ssize_t left = text.len;
        memcpy(out, prefix.buf, (size_t)prefix.len);
        out += prefix.len;
        while (left > 0) {
            Py_ssize_t take = left < width ? left : width;
            memcpy(out, in, (size_t)take);
            out[take] = '\r';
            out[take + 1] = '\n';
            out += take + 2;
            in += take;
            left -= take;
        }
    }
done:
    PyBuffer_Release(&text);
    PyBuffer_Release(&prefix);
    return result;
}

static PyMethodDef octets_methods[] = {
    {"scan", octets_scan, METH_VARARGS, scan_doc},
    {"crlf_lines", octets_crlf_lines, METH_VARARGS, crlf_lines_doc},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot octets_slots[] = {
#ifdef Py_mod_multiple_interpreters
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
    {0, NULL},
};

static struct PyModuleDef octets_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "postseal.mail._octets",
    .m_doc = "The octet scans of mail text in C; see postseal.mail.octets.",
    .m_size = 0,
    .m_methods = octets_methods,
    .m_slots = octets_slots,
};

PyMODINIT_FUNC
PyInit__octets(void)
{
    return PyModuleDef_Init(&octets_module);
}
