"""Check that Qt can open a window before the dashboard starts, and say what to install when it cannot.

Qt aborts the whole process (SIGABRT) when its platform plugin cannot load (missing xcb libraries) or
cannot reach the display; a short child process takes that abort instead, and its stderr names the cause.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

# The system libraries Qt 6's xcb platform plugin, QtGui and QtDBus link (PyQt6 bundles the rest) -> the
# Debian/Ubuntu package that provides each.
XCB_LIBRARY_PACKAGES: dict[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
}
HEADLESS_PLATFORMS = ("offscreen", "minimal")
# no core file when Qt aborts: the abort is the expected answer
PROBE = ("import resource, sys\nresource.setrlimit(resource.RLIMIT_CORE, (0, 0))\n"
         "from PyQt6.QtGui import QGuiApplication\nQGuiApplication(sys.argv[:1])")
UNLOADABLE = ("import ctypes, sys\nfor name in sys.argv[1:]:\n    try:\n        ctypes.CDLL(name)\n"
              "    except OSError:\n        print(name)")
# QT_DEBUG_PLUGINS=1: '... cannot load: Cannot load library /x/libqxcb.so: libxcb-icccm.so.4: cannot open ...'
_LIBRARY = re.compile(r"Cannot load library \S+: ([^\s:]+\.so[\d.]*): ")
_DISPLAY = re.compile(r"could not connect to display ?(\S*)")
_PLUGIN = re.compile(r'Could not (?:load|find) the Qt platform plugin "([^"]*)"')
NO_GUI = "--no-gui runs without a display"


def qt_platform_problem(timeout: float = 10.0) -> str | None:
    """None when Qt can start a GUI application with this environment's platform; else one line: why, what to do.

    Skipped (None) for the headless platforms (QT_QPA_PLATFORM=offscreen or minimal).
    """
    if os.environ.get("QT_QPA_PLATFORM", "").split(":")[0] in HEADLESS_PLATFORMS:
        return None
    env = {**os.environ, "QT_DEBUG_PLUGINS": "1"}
    try:
        probe = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,
                               timeout=timeout)
    except subprocess.TimeoutExpired:
        return (f"Qt did not open display {os.environ.get('DISPLAY', '')!r} within {timeout:g} s "
                f"(is its X server responding?); {NO_GUI}")
    return None if probe.returncode == 0 else describe_failure(probe.stderr, timeout)


def unloadable_libraries(timeout: float = 10.0) -> list[str]:
    """The libraries of ``XCB_LIBRARY_PACKAGES`` that the dynamic loader cannot load (in a child process)."""
    return subprocess.run([sys.executable, "-c", UNLOADABLE, *XCB_LIBRARY_PACKAGES], capture_output=True, text=True,
                          timeout=timeout).stdout.split()


def describe_failure(stderr: str, timeout: float = 10.0) -> str:
    """One line from the stderr of a failed Qt start: the packages of the missing libraries, or the display.

    Qt names the first library its plugin could not load; the others missing are found by trying to load each.
    """
    plugin = _PLUGIN.search(stderr)
    named = _LIBRARY.findall(stderr)
    if named:
        libraries: dict[str, str] = {}  # file name -> as the loader named it (a path, when found but unusable)
        for lib in named + unloadable_libraries(timeout):
            libraries.setdefault(os.path.basename(lib), lib)
        packages = " ".join(dict.fromkeys(XCB_LIBRARY_PACKAGES.get(name, name) for name in libraries))
        which = f" {plugin.group(1)}" if plugin else ""
        return (f"Qt's platform plugin{which} cannot load {', '.join(libraries.values())}: on Debian/Ubuntu "
                f"install them with `sudo apt-get install {packages}`; {NO_GUI}, needing none of them")
    display = _DISPLAY.search(stderr)
    if display:
        return (f"Qt could not connect to display {display.group(1) or os.environ.get('DISPLAY', '')!r} "
                f"(no X server there? check DISPLAY); {NO_GUI}")
    if plugin:
        return f"Qt found no usable platform plugin {plugin.group(1)!r}; {NO_GUI}"
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith(("qt.core.", " ", "{", "}"))]
    return f"Qt could not start ({lines[-1].strip() if lines else 'no message'}); {NO_GUI}"
