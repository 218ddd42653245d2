"""Build tinynet._core: the C core (csrc/tn_*.c, no Python headers) plus the one wrapper
file (csrc/_core.c) that includes Python.h and the NumPy C API.

Environment switches (for developers and CI, never needed by users):
  TINYNET_WERROR=1    add -Werror
  TINYNET_SANITIZE=1  build with ASan + UBSan (-fno-sanitize-recover=all -fno-wrapv)
"""
import glob
import os
import sys

import numpy as np
from setuptools import Extension, setup

# Keep in sync with the runtime floor in pyproject.toml (numpy>=1.24).
NPY_TARGET = "NPY_1_24_API_VERSION"

# -std=c11 keeps a*b + c from being contracted into an FMA (the kernels rely on exact
# operation order); no -ffast-math.  Calls between the extension's own functions bind
# directly rather than through the PLT (-fno-semantic-interposition, -Bsymbolic-functions:
# a tiny call pays for every indirection), while the tn_* symbols stay exported for ctypes.
cflags = ["-std=c11", "-O3", "-Wall", "-Wextra", "-Wshadow", "-fno-math-errno", "-fno-semantic-interposition"]
ldflags = ["-Wl,-Bsymbolic-functions"] if sys.platform.startswith("linux") else []
if os.environ.get("TINYNET_WERROR"):
    cflags.append("-Werror")
if os.environ.get("TINYNET_SANITIZE"):
    san = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
    cflags += san + ["-fno-wrapv", "-O1", "-g"]
    ldflags += san

core = Extension(
    "tinynet._core",
    sources=["csrc/_core.c"] + sorted(glob.glob("csrc/tn_*.c")),
    include_dirs=["csrc", np.get_include()],
    define_macros=[
        ("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION"),
        ("NPY_TARGET_VERSION", NPY_TARGET),
    ],
    extra_compile_args=cflags,
    extra_link_args=ldflags + ["-lpthread", "-lm"],
    depends=sorted(glob.glob("csrc/*.h") + glob.glob("csrc/wrap/*.h")),
)

setup(ext_modules=[core])
