/* test_error.c: the per-thread message, wrapping it, and passing it back in. */
#include "testutil.h"

#include <pthread.h>
#include <string.h>

#include "netsynth/error.h"

static void test_wrap_twice(void **state)
{
    (void)state;
    assert_int_equal(ns_error(NS_EIO, "original"), NS_EIO);
    assert_int_equal(ns_error_wrap(NS_EIO, "b"), NS_EIO);
    assert_int_equal(ns_error_wrap(NS_EFORMAT, "%s", "a"), NS_EFORMAT);
    assert_string_equal(ns_errmsg(), "a: b: original");
}

/* The message itself as an argument: before ns_error formatted through a
 * buffer of its own, "%s: %s" wrote the path over the message it was still
 * reading and printed "x.ds: x.ds: ..." (issue 13, item 5). */
static void test_message_as_argument(void **state)
{
    (void)state;
    ns_error(NS_EIO, "write failed: No space left on device");
    ns_error(NS_EIO, "%s: %s", "out/a-long-file-name.pcap", ns_errmsg());
    assert_string_equal(ns_errmsg(), "out/a-long-file-name.pcap: write failed: No space left on device");
    ns_error_wrap(NS_EIO, "%s (%s)", "again", ns_errmsg());
    assert_string_equal(ns_errmsg(), "again (out/a-long-file-name.pcap: write failed: No space left on device): "
                                     "out/a-long-file-name.pcap: write failed: No space left on device");
}

/* With no message recorded, the code's name is what gets the prefix. */
static void test_wrap_empty(void **state)
{
    (void)state;
    ns_error(NS_OK, "%s", "");
    ns_error_wrap(NS_ENOMEM, "x.ds");
    assert_string_equal(ns_errmsg(), "x.ds: out of memory");
    assert_string_equal(ns_strerror(NS_EMISMATCH), "inputs do not match");
}

/* Long prefixes and messages are cut, never overrun: the result ends in a
 * NUL inside the buffer and starts with the prefix. */
static void test_wrap_long(void **state)
{
    (void)state;
    char big[3000];
    memset(big, 'm', sizeof big - 1);
    big[sizeof big - 1] = 0;
    ns_error(NS_EIO, "%s", big);
    size_t cap = strlen(ns_errmsg());
    assert_true(cap > 500 && cap < sizeof big - 1);
    memset(big, 'p', sizeof big - 1);
    ns_error_wrap(NS_EIO, "%s", big);
    assert_int_equal(strlen(ns_errmsg()), cap);
    assert_int_equal(ns_errmsg()[0], 'p');
    ns_error(NS_EIO, "%s", "short");
    ns_error_wrap(NS_EIO, "%s", big);
    assert_int_equal(strlen(ns_errmsg()), cap);
    assert_int_equal(memcmp(ns_errmsg() + cap - 2, ": ", 2), 0);
}

static void *other_thread(void *arg)
{
    ns_error(NS_EIO, "%s", "the other thread's");
    ns_error_wrap(NS_EIO, "%s", (const char *)arg);
    return NULL;
}

static void test_per_thread(void **state)
{
    (void)state;
    ns_error(NS_EIO, "%s", "mine");
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, other_thread, "theirs"), 0);
    pthread_join(t, NULL);
    assert_string_equal(ns_errmsg(), "mine");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wrap_twice),
        cmocka_unit_test(test_message_as_argument),
        cmocka_unit_test(test_wrap_empty),
        cmocka_unit_test(test_wrap_long),
        cmocka_unit_test(test_per_thread),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
