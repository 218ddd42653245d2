"""How the suite writes its numbers: times, byte counts, ratios and markdown tables."""
import numpy as np


def fmt_time(s):
    """Seconds with three significant digits and a unit (s, ms, µs, ns); "—" for none."""
    if s is None or not np.isfinite(s):
        return "—"
    for unit, f in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if s >= f:
            v = s / f
            return f"{v:.3g} {unit}" if v < 100 else f"{v:.0f} {unit}"
    return f"{s * 1e9:.2g} ns"


def fmt_bytes(b):
    """A signed byte count in MiB, KiB or B; "—" for none."""
    if b is None:
        return "—"
    sign = "-" if b < 0 else ""
    b = abs(b)
    for unit, f in (("MiB", 2**20), ("KiB", 2**10)):
        if b >= f:
            return f"{sign}{b / f:.1f} {unit}"
    return f"{sign}{b} B"


def fmt_ratio(r):
    """A ratio as "1.23×", "12.3×" or "123×"; "—" for none."""
    if r is None or not np.isfinite(r):
        return "—"
    return f"{r:.2f}×" if r < 10 else f"{r:.1f}×" if r < 100 else f"{r:.0f}×"


def md_table(header, rows):
    """A markdown table: the header row, the separator, one line per row."""
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)
