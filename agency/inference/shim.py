"""The BLAS shim (shim.c), built for this machine at install time and found at run time.

    python -m agency.inference.shim build [--force]   # what `make venv` runs
    python -m agency.inference.shim status

`build` compiles shim.c with the machine's C compiler (`$CC`, else `cc` or `gcc`) into
the shim directory: the Python environment's `lib/agency-shim/` in a virtualenv (so
`make venv` installs it beside the packages), otherwise `~/.cache/agency/`, or
`$AGENCY_SHIM_DIR`. A library is named by two hashes: of what it was built for (the
source, the compiler flags, this CPU's model and feature flags) and of the compiler
(its path and `--version`), so a change of any of them builds a new one; a JSON file
beside it says what went into it. Building is skipped when the library exists. Without
a compiler, or when compiling fails, `build` says so and exits 0: the engine then runs
on OpenBLAS alone.

At run time `find()` looks for a library built for this source, flags and CPU (newest
first, any compiler: a deployment need not have one) and never compiles; the engine
loads it, or logs why not and goes on without it (blas.py).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SOURCE = Path(__file__).with_name("shim.c")
FLAGS = ("-O2", "-pthread", "-shared", "-fPIC")
PREFIX = "libagency-shim-"
BUILD_COMMAND = "make venv (or: python -m agency.inference.shim build)"
# /proc/cpuinfo fields that identify the CPU and its features (x86, then Arm); not the
# ones that change while it runs (cpu MHz, bogomips) or with updates (microcode).
_CPU_FIELDS = (
    "vendor_id", "cpu family", "model", "model name", "stepping", "flags",
    "CPU implementer", "CPU architecture", "CPU variant", "CPU part", "Features",
)  # fmt: skip


@dataclass(frozen=True)
class Build:
    library: Path | None
    message: str


def shim_dir() -> Path:
    configured = os.environ.get("AGENCY_SHIM_DIR")
    if configured:
        return Path(configured)
    if sys.prefix != sys.base_prefix:
        return Path(sys.prefix) / "lib" / "agency-shim"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "agency"


def cpu_identity() -> str:
    """The CPU's model and feature flags (first processor of /proc/cpuinfo)."""
    fields = {"machine": platform.machine()}
    try:
        block = Path("/proc/cpuinfo").read_text().split("\n\n")[0]
    except OSError:
        block = ""
    for line in block.splitlines():
        name, _, value = line.partition(":")
        if name.strip() in _CPU_FIELDS:
            fields[name.strip()] = " ".join(value.split())
    return json.dumps(fields, sort_keys=True)


def target_key() -> str:
    """What a library must have been built for: this source, these flags, this CPU."""
    digest = hashlib.sha256(SOURCE.read_bytes())
    digest.update(json.dumps([FLAGS, cpu_identity()]).encode())
    return digest.hexdigest()[:16]


def compiler() -> list[str] | None:
    configured = shlex.split(os.environ.get("CC", ""))
    if configured:
        return configured if shutil.which(configured[0]) else None
    found = shutil.which("cc") or shutil.which("gcc")
    return [found] if found else None


def compiler_identity(command: list[str]) -> str:
    """The compiler's resolved path, arguments and version line."""
    path = os.path.realpath(shutil.which(command[0]) or command[0])
    try:
        out = subprocess.run(
            [*command, "--version"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    version = out.splitlines()[0] if out else "unknown version"
    return " ".join([path, *command[1:], "|", version])


def find(directory: Path | None = None) -> tuple[Path | None, str]:
    """(the library to load, '') or (None, why there is none)."""
    directory = directory or shim_dir()
    candidates = sorted(
        directory.glob(f"{PREFIX}{target_key()}-*.so"),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for library in candidates:
        if _trusted(directory) and _trusted(library):
            return library, ""
    if candidates:
        return None, f"{directory} or its library is writable by others; not loaded"
    return None, f"not built for this CPU and source in {directory}; run {BUILD_COMMAND}"


def build(directory: Path | None = None, *, force: bool = False) -> Build:
    """Compile the shim for this machine unless it is there already."""
    if sys.platform != "linux":
        return Build(None, "not needed: MLX uses Accelerate on macOS")
    directory = directory or shim_dir()
    command = compiler()
    if command is None:
        found, _ = find(directory)
        if found is not None:
            return Build(found, f"no C compiler; keeping {found}")
        return Build(
            None, "no C compiler (set CC or install gcc): the engine will use OpenBLAS alone"
        )
    identity = compiler_identity(command)
    compiler_key = hashlib.sha256(identity.encode()).hexdigest()[:8]
    library = directory / f"{PREFIX}{target_key()}-{compiler_key}.so"
    if library.is_file() and not force:
        return Build(library, f"up to date: {library}")
    try:
        directory.mkdir(mode=0o755, parents=True, exist_ok=True)
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(dir=directory) as scratch:
            built = Path(scratch) / library.name
            done = subprocess.run(
                [*command, *FLAGS, "-o", str(built), str(SOURCE)],
                capture_output=True,
                text=True,
                timeout=300,
            )
            if done.returncode != 0 or not built.is_file():
                tail = " ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
                return Build(
                    None,
                    f"compiling failed ({' '.join(command)}, exit {done.returncode}: {tail}): "
                    "the engine will use OpenBLAS alone",
                )
            built.chmod(0o755)
            manifest = {
                "source_sha256": hashlib.sha256(SOURCE.read_bytes()).hexdigest(),
                "compiler": identity,
                "flags": list(FLAGS),
                "cpu": json.loads(cpu_identity()),
                "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
            library.with_suffix(".json").write_text(json.dumps(manifest, indent=2) + "\n")
            os.replace(built, library)  # atomic: concurrent builders agree
    except (OSError, subprocess.SubprocessError) as err:
        return Build(
            None, f"cannot build in {directory} ({err}): the engine will use OpenBLAS alone"
        )
    _remove_older(directory, library)
    return Build(library, f"built {library} in {time.perf_counter() - started:.1f} s")


def _remove_older(directory: Path, kept: Path) -> None:
    """Libraries built here before for this CPU (another source, flags or compiler)."""
    cpu = json.loads(cpu_identity())
    for manifest in directory.glob(f"{PREFIX}*.json"):
        library = manifest.with_suffix(".so")
        if library == kept:
            continue
        try:
            if json.loads(manifest.read_text()).get("cpu") == cpu:
                library.unlink(missing_ok=True)
                manifest.unlink()
        except (OSError, ValueError):
            continue


def _trusted(path: Path) -> bool:
    """Writable by its owner only, and owned by us, root or the Python environment's
    owner: loading it is then no riskier than importing the environment's code."""
    st = path.stat()
    owners = {os.getuid(), 0, Path(sys.prefix).stat().st_uid}
    return st.st_uid in owners and not st.st_mode & 0o022


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["build", "status"])
    parser.add_argument("--force", action="store_true", help="build even if up to date")
    args = parser.parse_args()
    if args.action == "status":
        library, why = find()
        print(library or f"no shim: {why}")
        return
    result = build(force=args.force)
    if result.library is None:
        print(f"warning: BLAS shim: {result.message}", file=sys.stderr)
    else:
        print(f"BLAS shim: {result.message}")


if __name__ == "__main__":
    main()
