/* The compiled kernel's C helpers: resume (below) and untrack/track (further down).
 *
 * resume(coro, value): coro.send(value) that reports a return without raising StopIteration.
 *
 * Built with the compiled kernel (setup.py) and used only by it. In mypyc-compiled code every
 * exception that reaches an `except` first gets a traceback entry made of a new code object
 * and frame, about a microsecond; a task's normal end is a StopIteration, so every finished
 * task paid it. PyIter_Send (CPython 3.10+) says "returned" without an exception. The
 * generator's return value comes back wrapped in a Returned, a StopIteration subclass that is
 * made but never raised, so the kernel's code for a finished task takes it as is.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *Returned;

static PyObject *
resume(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *result;

    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "resume() takes exactly 2 arguments (coro, value)");
        return NULL;
    }
    switch (PyIter_Send(args[0], args[1], &result)) {
    case PYGEN_NEXT:
        return result;
    case PYGEN_RETURN: {
        PyObject *returned = PyObject_CallOneArg(Returned, result);
        Py_DECREF(result);
        return returned;
    }
    default:
        return NULL;  /* the task raised: its exception is set */
    }
}

/* untrack(*objs) / track(*objs): take a task and its generator out of the cyclic GC's view while
 * the scheduler runs, and put them back. A running scheduler holds every pending task in its
 * task table, so the collector has nothing to find there; yet with 100,000 live tasks each full collection
 * traversed them all, and they made full collections come more often (they count towards the
 * long-lived objects whose growth triggers one). The kernel tracks a task again when it ends
 * and when run() returns, so cycles through tasks are collected as before.
 * untrack() returns whether the first object was still tracked: for a generator being spawned,
 * False means a pending task already runs it (the kernel refuses to spawn it twice). */
static PyObject *
untrack(PyObject *module, PyObject *const *objs, Py_ssize_t n)
{
    /* An object the GC never tracks (a generator-like of C's own) counts as tracked. */
    int first_was_tracked = n > 0 && (!PyObject_IS_GC(objs[0]) || PyObject_GC_IsTracked(objs[0]));
    for (Py_ssize_t i = 0; i < n; i++) {
        if (PyObject_GC_IsTracked(objs[i])) {
            PyObject_GC_UnTrack(objs[i]);
        }
    }
    return PyBool_FromLong(first_was_tracked);
}

static PyObject *
track(PyObject *module, PyObject *const *objs, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        if (PyObject_IS_GC(objs[i]) && !PyObject_GC_IsTracked(objs[i])) {
            PyObject_GC_Track(objs[i]);
        }
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"resume", (PyCFunction)(void (*)(void))resume, METH_FASTCALL,
     "resume(coro, value) -> what coro yields next, or a Returned holding its return value"},
    {"untrack", (PyCFunction)(void (*)(void))untrack, METH_FASTCALL,
     "untrack(*objs) -> bool: the cyclic GC stops traversing them; whether objs[0] was tracked"},
    {"track", (PyCFunction)(void (*)(void))track, METH_FASTCALL,
     "track(*objs): the cyclic GC traverses them again"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "coop._resume",
    "Resuming a task without an exception for its normal end (see _resume.c).", -1, methods,
};

PyMODINIT_FUNC
PyInit__resume(void)
{
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL) {
        return NULL;
    }
    Returned = PyErr_NewException("coop._resume.Returned", PyExc_StopIteration, NULL);
    if (Returned == NULL || PyModule_AddObjectRef(module, "Returned", Returned) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
