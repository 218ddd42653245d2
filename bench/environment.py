"""What a run records about the machine and the software it measured: the CPU model and
its instruction sets, tinynet's SIMD level and build, the checkout, NumPy's BLAS and
PyTorch's configuration, the load average."""
import datetime
import hashlib
import os
import pathlib
import platform
import re
import subprocess
import sys

import numpy as np
import tinynet
from threadpoolctl import threadpool_info

import cases as C

ROOT = pathlib.Path(__file__).resolve().parent.parent


def cpu_info():
    """The CPU model (/proc/cpuinfo's "model name"), its vector instruction sets, and the
    CPUs this process may use."""
    model, flags = "unknown", set()
    try:
        text = pathlib.Path("/proc/cpuinfo").read_text()
        m = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
        model = m.group(1).strip() if m else platform.processor() or "unknown"
        # a virtual machine may name only the product line ("AMD EPYC"): the family and
        # model numbers tell the generation
        ids = [re.search(rf"^{k}\s*:\s*(\d+)$", text, re.M) for k in ("cpu family", "model")]
        if all(ids):
            model += f" (family {ids[0].group(1)}, model {ids[1].group(1)})"
        m = re.search(r"^flags\s*:\s*(.+)$", text, re.M)
        flags = set(m.group(1).split()) if m else set()
    except OSError:
        model = platform.processor() or "unknown"
    isa = [f for f in ("avx512f", "avx512_fp16", "avx2", "fma") if f in flags]
    try:
        ncpu = len(os.sched_getaffinity(0))
    except AttributeError:
        ncpu = os.cpu_count()
    return {"model": model, "isa": isa, "cpus": ncpu, "cpu_count": os.cpu_count()}


def loadavg():
    try:
        return pathlib.Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        return None


def git_state():
    """The checkout's short commit hash, and whether tracked files have changed since."""
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return f"{head}{' + uncommitted changes' if dirty else ''}" if head else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def numpy_blas():
    """NumPy's BLAS: its name, version and build configuration, and what threadpoolctl
    finds at run time (the library's file name, not its path)."""
    info = {"name": "unknown"}
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        info = {"name": blas.get("name"), "version": blas.get("version"),
                "config": blas.get("openblas configuration")}
    except Exception as exc:  # NumPy < 1.26 has no mode="dicts"
        info = {"name": f"unknown ({exc})"}
    for lib in threadpool_info():
        if lib.get("user_api") == "blas":
            info.update(runtime=lib.get("internal_api"), architecture=lib.get("architecture"),
                        threading=lib.get("threading_layer"), library=os.path.basename(lib.get("filepath") or ""))
            break
    return info


def torch_info():
    if C.torch is None:
        return None
    torch = C.torch
    show = torch.__config__.show()
    par = torch.__config__.parallel_info()
    blas = re.search(r"BLAS_INFO=(\w+)", show)
    mkl = re.search(r"Intel\(R\) oneAPI Math Kernel Library Version ([\w.\-]+)", show)
    cap = re.search(r"CPU capability usage: (\w+)", show)
    backend = re.search(r"ATen parallel backend: (.+)", par)
    return {"version": torch.__version__, "blas": (blas.group(1) if blas else "unknown")
            + (f" {mkl.group(1)}" if mkl else ""), "cpu_capability": cap.group(1) if cap else "unknown",
            "parallel_backend": backend.group(1).strip() if backend else "unknown"}


def build_id():
    """The C extension being measured: file name, modification time and a short hash
    (other engineers rebuild it in place; a rebuild during the run is reported)."""
    path = pathlib.Path(tinynet._core.__file__)
    try:
        st = path.stat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        mtime = datetime.datetime.fromtimestamp(st.st_mtime, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        return {"file": path.name, "mtime": mtime, "sha256": digest}
    except OSError as exc:
        return {"file": path.name, "error": str(exc)}


def shown_argument(arg):
    """A command-line argument as the report shows it: an absolute path (alone or after
    "=") by its file name, so that no machine's directories are recorded."""
    head, eq, value = arg.rpartition("=") if arg.startswith("--") and "=" in arg else ("", "", arg)
    return head + eq + (pathlib.PurePath(value).name if os.path.isabs(value) else value)


def environment(args):
    return {
        "build": build_id(),
        "command": "python bench/run.py" + "".join(f" {shown_argument(a)}" for a in sys.argv[1:]),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "git": git_state(),
        "cpu": cpu_info(),
        "loadavg_start": loadavg(),
        "simd": tinynet._core.simd,
        "tinynet": getattr(tinynet, "__version__", "?"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numpy_blas": numpy_blas(),
        "torch": torch_info(),
        "threads": args.threads,
        "repeats": args.repeats,
        "target_ms": args.target_ms,
    }
