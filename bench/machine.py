"""The machine and software a benchmark run measured, for the header of its report.

Versions come from package metadata, so describing the machine never imports TensorFlow.
"""

import os
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

# Distribution names; the first one installed of each group is reported.
PACKAGES: dict[str, tuple[str, ...]] = {
    "TensorFlow": ("tensorflow-cpu", "tensorflow"),
    "Keras": ("keras",),
    "NumPy": ("numpy",),
    "pandas": ("pandas",),
    "scikit-learn": ("scikit-learn",),
    "SQLAlchemy": ("sqlalchemy",),
    "matplotlib": ("matplotlib",),
}


@dataclass(frozen=True)
class Machine:
    date: str  # UTC, minutes
    cpu: str
    cores: int  # usable by this process (affinity), not the host's count
    memory_gb: float
    load_average: tuple[float, float, float]  # other work on a shared box shows here
    system: str
    python: str
    versions: dict[str, str]
    settings_env: dict[str, str]  # FORECASTER_* overrides in effect (secrets left out)


def describe_machine(cpuinfo: Path = Path("/proc/cpuinfo"), meminfo: Path = Path("/proc/meminfo")) -> Machine:
    return Machine(
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        cpu=_cpu_model(cpuinfo),
        cores=len(os.sched_getaffinity(0)),
        memory_gb=_memory_gb(meminfo),
        load_average=os.getloadavg(),
        system=f"{platform.system()} {platform.release()}",
        python=platform.python_version(),
        versions={label: package_version(*names) for label, names in PACKAGES.items()},
        settings_env={k: v for k, v in sorted(os.environ.items()) if k.startswith("FORECASTER_") and "TOKEN" not in k},
    )


def _cpu_model(cpuinfo: Path) -> str:
    return _field(cpuinfo, "model name") or platform.processor() or "unknown"


def _memory_gb(meminfo: Path) -> float:
    value = _field(meminfo, "MemTotal")  # "23456789 kB"
    return int(value.split()[0]) / 1024**2 if value else float("nan")


def _field(path: Path, key: str) -> str:
    """The value of the first `key: value` line of a /proc file; "" off Linux."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return ""
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith(key)), "")


def package_version(*names: str) -> str:
    """The installed version of the first of `names` (a distribution's other spellings) found."""
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "not installed"
