"""What a benchmark ran on, printed beside its figures (docs/benchmarks.md quotes it)."""
from __future__ import annotations

import os
import platform
from pathlib import Path

GIB = 1024 ** 3


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB
    except (ValueError, OSError, AttributeError):
        return 0.0


def machine_info() -> dict:
    return {"nproc": os.cpu_count(), "cpu": _cpu_model(), "ram GiB": round(_ram_gib(), 1),
            "python": platform.python_version(), "system": platform.system()}


def machine() -> str:
    """One line: cores, CPU model, memory, Python."""
    m = machine_info()
    return f"{m['nproc']} cores, {m['cpu']}, {m['ram GiB']:.0f} GiB, Python {m['python']}, {m['system']}"


if __name__ == "__main__":
    print(machine())
