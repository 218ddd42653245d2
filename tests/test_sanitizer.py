"""Canaries for the sanitizer job (.ci/sanitize, which sets TINYNET_SANITIZER=1): they
prove that AddressSanitizer and UndefinedBehaviorSanitizer are really active, so that a
clean run of the suite under them means something.

* tinynet._core is the instrumented build (its ASan and UBSan hooks are compiled in,
  UBSan's in their aborting form) and the ASan runtime is loaded in this process;
* a heap overflow inside the C core -- one of its kernels called directly through
  ctypes on a buffer one element short -- is reported by ASan, naming the kernel;
* a signed overflow and a heap overflow in a throwaway library built here with the same
  flags are reported (UBSan aborts the process, ASan too).

Without TINYNET_SANITIZER the file is skipped.
"""
import os
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

import tinynet

pytestmark = pytest.mark.skipif(not os.environ.get("TINYNET_SANITIZER"),
                                reason="only under the sanitizer build (.ci/sanitize)")

SAN_FLAGS = ["-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g", "-fno-wrapv", "-O1"]


def _child(code):
    """Run code in a fresh interpreter with this one's environment (LD_PRELOAD,
    ASAN_OPTIONS, PYTHONPATH of the sanitized build)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=300)


def test_the_core_is_instrumented():
    with open(tinynet._core.__file__, "rb") as f:
        so = f.read()
    assert b"__asan_report_" in so, f"{tinynet._core.__file__} is not built with -fsanitize=address"
    handlers = set(re.findall(rb"__ubsan_handle_\w+", so))
    assert handlers, f"{tinynet._core.__file__} is not built with -fsanitize=undefined"
    recovering = sorted(h.decode() for h in handlers if not h.endswith(b"_abort"))
    assert not recovering, f"UBSan handlers that let the program go on (need -fno-sanitize-recover): {recovering}"
    with open("/proc/self/maps") as f:
        assert "libasan" in f.read(), "the ASan runtime is not loaded (LD_PRELOAD)"


def test_asan_reports_a_heap_overflow_in_the_core():
    r = _child("""
        import ctypes
        import tinynet._core as core
        lib, libc = ctypes.CDLL(core.__file__), ctypes.CDLL(None)
        libc.malloc.restype = ctypes.c_void_p
        x, y = libc.malloc(9 * 8), libc.malloc(8 * 8)   # y is one double short
        ctypes.memset(x, 0, 9 * 8)
        lib.tn_relu_forward_f64(ctypes.c_void_p(y), ctypes.c_void_p(x), ctypes.c_size_t(9))
        print("NOT REPORTED")
    """)
    assert "NOT REPORTED" not in r.stdout and r.returncode != 0, r.stdout + r.stderr[-2000:]
    assert "ERROR: AddressSanitizer: heap-buffer-overflow" in r.stderr, r.stderr[-2000:]
    assert "tn_relu_forward_f64" in r.stderr, r.stderr[-2000:]


@pytest.fixture(scope="module")
def canary(tmp_path_factory):
    """Build the canary library with one sanitizer: canary("address") -> its path."""
    cc = os.environ.get("CC", "gcc")
    if not shutil.which(cc):
        pytest.fail(f"no C compiler ({cc}) to build the canary library")
    d = tmp_path_factory.mktemp("canary")
    src = d / "canary.c"
    src.write_text(textwrap.dedent("""
        #include <stdlib.h>
        int add(int a, int b) { return a + b; }          /* signed overflow for INT_MAX + 1 */
        int poke(int i) {                                 /* heap overflow for i >= 8 */
            volatile char *p = malloc(8);
            p[i] = 1;
            int v = p[0];
            free((void *)p);
            return v;
        }
    """))

    def build(sanitizer):
        lib = d / f"libcanary_{sanitizer}.so"
        subprocess.run([cc, "-shared", "-fPIC", f"-fsanitize={sanitizer}", *SAN_FLAGS, str(src), "-o", str(lib)],
                       check=True)
        return lib

    return build


def test_ubsan_reports_a_signed_overflow(canary):
    r = _child(f"""
        import ctypes
        lib = ctypes.CDLL({str(canary("undefined"))!r})
        assert lib.add(2, 3) == 5
        lib.add(2**31 - 1, 1)
        print("NOT REPORTED")
    """)
    assert "NOT REPORTED" not in r.stdout and r.returncode != 0, r.stdout + r.stderr[-2000:]
    assert "runtime error: signed integer overflow" in r.stderr, r.stderr[-2000:]


def test_asan_reports_a_heap_overflow_in_a_throwaway_library(canary):
    r = _child(f"""
        import ctypes
        lib = ctypes.CDLL({str(canary("address"))!r})
        lib.poke(7)
        lib.poke(8)
        print("NOT REPORTED")
    """)
    assert "NOT REPORTED" not in r.stdout and r.returncode != 0, r.stdout + r.stderr[-2000:]
    assert "ERROR: AddressSanitizer: heap-buffer-overflow" in r.stderr and "poke" in r.stderr, r.stderr[-2000:]
