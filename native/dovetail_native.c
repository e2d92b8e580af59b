/*
 * dovetail_native: the few system calls Node does not offer, as an N-API
 * addon written against node_api.h only.
 *
 *   tryLock(fd, "fcntl" | "flock")  exclusive whole-file lock, never blocking:
 *                                   true = taken, false = someone else holds it
 *   unlock(fd, "fcntl" | "flock")   releases that lock
 *   setresgid(rgid, egid, sgid)     sets the real, effective and saved gid
 *   getresgid()                     [rgid, egid, sgid]
 *
 * Failures throw an Error shaped like Node's own system errors: code "EBADF",
 * errno -9 (negative, as Node and libuv report it), syscall "fcntl", message
 * "EBADF: bad file descriptor, fcntl". Arguments of the wrong type throw a
 * TypeError. EINTR is retried. The addon keeps no state of its own.
 */

#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <node_api.h>

/* The errno names these calls can produce; libuv's "UNKNOWN" for the rest. */
static const char *errno_name(int error)
{
#define NAME(e) case e: return #e;
    switch (error) {
    NAME(EACCES) NAME(EAGAIN) NAME(EBADF) NAME(EDEADLK) NAME(EFAULT)
    NAME(EINTR) NAME(EINVAL) NAME(EIO) NAME(ENOLCK) NAME(ENOSYS)
    NAME(EOPNOTSUPP) NAME(EPERM) NAME(ESTALE)
    default: return "UNKNOWN";
    }
#undef NAME
}

/* throw_errno - throws the Error for a failed syscall; always returns NULL */
static napi_value throw_errno(napi_env env, int error, const char *syscall)
{
    const char *name = errno_name(error);
    char reason[128], text[256];
    napi_value code, message, number, call, exception;

    /* Node's messages use strerror() texts starting in lower case. */
    snprintf(reason, sizeof(reason), "%s", strerror(error));
    reason[0] = (char) tolower((unsigned char) reason[0]);
    snprintf(text, sizeof(text), "%s: %s, %s", name, reason, syscall);

    napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &message);
    napi_create_int32(env, -error, &number);
    napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &call);
    napi_create_error(env, code, message, &exception);
    napi_set_named_property(env, exception, "errno", number);
    napi_set_named_property(env, exception, "syscall", call);
    napi_throw(env, exception);
    return NULL;
}

/* get_args - the first `count` arguments; false after throwing a TypeError when fewer came */
static bool get_args(napi_env env, napi_callback_info info, size_t count, napi_value *args)
{
    size_t given = count;

    if (napi_get_cb_info(env, info, &given, args, NULL, NULL) != napi_ok || given < count) {
        napi_throw_type_error(env, NULL, "missing arguments");
        return false;
    }
    return true;
}

/* get_id - a whole number 0..max: no NaN (0 = root), no fraction, no -1 ("leave unchanged") */
static bool get_id(napi_env env, napi_value value, double max, uint32_t *id)
{
    double number;

    if (napi_get_value_double(env, value, &number) != napi_ok
        || !(number >= 0 && number <= max) || number != (double) (uint32_t) number)
        return false;
    *id = (uint32_t) number;
    return true;
}

/* get_fd_and_method - the (fd, "fcntl" | "flock") pair; false after throwing a TypeError */
static bool get_fd_and_method(napi_env env, napi_callback_info info, int *fd, bool *use_flock)
{
    napi_value args[2];
    uint32_t number;
    char method[8];

    if (!get_args(env, info, 2, args))
        return false;
    if (!get_id(env, args[0], INT32_MAX, &number)) {
        napi_throw_type_error(env, NULL, "fd must be a non-negative integer");
        return false;
    }
    *fd = (int) number;
    if (napi_get_value_string_utf8(env, args[1], method, sizeof(method), NULL) != napi_ok
        || (strcmp(method, "fcntl") != 0 && strcmp(method, "flock") != 0)) {
        napi_throw_type_error(env, NULL, "method must be \"fcntl\" or \"flock\"");
        return false;
    }
    *use_flock = strcmp(method, "flock") == 0;
    return true;
}

/* set_lock - one whole-file fcntl F_SETLK or flock LOCK_NB call, EINTR retried */
static int set_lock(int fd, bool use_flock, bool lock)
{
    struct flock range = { .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
    int result;

    range.l_type = lock ? F_WRLCK : F_UNLCK;
    do {
        if (use_flock)
            result = flock(fd, lock ? LOCK_EX | LOCK_NB : LOCK_UN);
        else
            result = fcntl(fd, F_SETLK, &range);
    } while (result == -1 && errno == EINTR);
    return result;
}

/* try_lock - tryLock(fd, method): true = locked, false = held by someone else */
static napi_value try_lock(napi_env env, napi_callback_info info)
{
    int fd;
    bool use_flock;
    napi_value taken;

    if (!get_fd_and_method(env, info, &fd, &use_flock))
        return NULL;
    if (set_lock(fd, use_flock, true) == 0) {
        napi_get_boolean(env, true, &taken);
        return taken;
    }
    if (errno == EAGAIN || errno == EACCES || errno == EWOULDBLOCK) {
        napi_get_boolean(env, false, &taken);
        return taken;
    }
    return throw_errno(env, errno, use_flock ? "flock" : "fcntl");
}

/* release_lock - unlock(fd, method) */
static napi_value release_lock(napi_env env, napi_callback_info info)
{
    int fd;
    bool use_flock;

    if (!get_fd_and_method(env, info, &fd, &use_flock))
        return NULL;
    if (set_lock(fd, use_flock, false) != 0)
        return throw_errno(env, errno, use_flock ? "flock" : "fcntl");
    return NULL;
}

/* set_resgid - setresgid(rgid, egid, sgid) */
static napi_value set_resgid(napi_env env, napi_callback_info info)
{
    napi_value args[3];
    uint32_t gids[3];

    if (!get_args(env, info, 3, args))
        return NULL;
    for (int i = 0; i < 3; i++) {
        if (!get_id(env, args[i], UINT32_MAX - 1, &gids[i])) {
            napi_throw_type_error(env, NULL, "gids must be integers 0..4294967294");
            return NULL;
        }
    }
    if (setresgid(gids[0], gids[1], gids[2]) != 0)
        return throw_errno(env, errno, "setresgid");
    return NULL;
}

/* get_resgid - getresgid(): [rgid, egid, sgid] */
static napi_value get_resgid(napi_env env, napi_callback_info info)
{
    gid_t gids[3];
    napi_value array, element;

    (void) info;
    if (getresgid(&gids[0], &gids[1], &gids[2]) != 0)
        return throw_errno(env, errno, "getresgid");
    napi_create_array_with_length(env, 3, &array);
    for (uint32_t i = 0; i < 3; i++) {
        napi_create_uint32(env, gids[i], &element);
        napi_set_element(env, array, i, element);
    }
    return array;
}

NAPI_MODULE_INIT()
{
    napi_property_descriptor functions[] = {
        { "tryLock", NULL, try_lock, NULL, NULL, NULL, napi_enumerable, NULL },
        { "unlock", NULL, release_lock, NULL, NULL, NULL, napi_enumerable, NULL },
        { "setresgid", NULL, set_resgid, NULL, NULL, NULL, napi_enumerable, NULL },
        { "getresgid", NULL, get_resgid, NULL, NULL, NULL, napi_enumerable, NULL },
    };

    napi_define_properties(env, exports, sizeof(functions) / sizeof(functions[0]), functions);
    return exports;
}
