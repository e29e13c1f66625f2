"""The dashboard on a real X display: Qt failures (missing xcb libraries, no X server) become one line, not a
SIGABRT, and under Xvfb the dashboard maps its window, draws and exits 0. Real Qt in child processes."""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PyQt6 import QtGui

from dashboard import theme
from dashboard.qt_platform import PROBE, XCB_LIBRARY_PACKAGES, qt_platform_problem, unloadable_libraries

ROOT = Path(__file__).resolve().parents[2]
# grabs the X screen every 0.25 s until the dashboard's background covers a fifth of it; saves that grab
GRAB = """
import sys, time
import numpy as np
from PyQt6.QtGui import QGuiApplication, QImage
app = QGuiApplication(sys.argv[:1])
deadline = time.monotonic() + float(sys.argv[1])
while time.monotonic() < deadline:
    image = app.primaryScreen().grabWindow(0).toImage().convertToFormat(QImage.Format.Format_RGB32)
    pixels = np.frombuffer(image.constBits().asstring(image.sizeInBytes()), np.uint32)
    if np.isin(pixels & 0xFFFFFF, [int(c, 16) for c in sys.argv[3:]]).mean() > 0.2:
        sys.exit(0 if image.save(sys.argv[2]) else 1)
    time.sleep(0.25)
sys.exit(1)
"""


def free_display() -> str:
    """A display number with no X server (no socket, no lock file)."""
    number = next(n for n in range(4242, 4342)
                  if not os.path.exists(f"/tmp/.X11-unix/X{n}") and not os.path.exists(f"/tmp/.X{n}-lock"))
    return f":{number}"


def xcb_env(display: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    return {**env, "QT_QPA_PLATFORM": "xcb", "DISPLAY": display, **extra}


def use_xcb(monkeypatch: pytest.MonkeyPatch, display: str, **extra: str) -> None:
    """Set this process's environment as ``xcb_env`` does (the check's child processes inherit it)."""
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    for name, value in {"QT_QPA_PLATFORM": "xcb", "DISPLAY": display, **extra}.items():
        monkeypatch.setenv(name, value)


def skip_without_xcb_libraries() -> None:
    missing = unloadable_libraries()
    if missing:
        pytest.skip(f"Qt's xcb plugin cannot load {', '.join(missing)} here (see README, Install)")


def colours(image: QtGui.QImage) -> np.ndarray:
    image = image.convertToFormat(QtGui.QImage.Format.Format_RGB32)
    return np.frombuffer(image.constBits().asstring(image.sizeInBytes()), np.uint32) & 0xFFFFFF


@pytest.fixture
def xvfb() -> Iterator[str]:
    """An Xvfb server on a display number it picks itself (-displayfd); yields DISPLAY."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb): no real X server to run the dashboard in")
    skip_without_xcb_libraries()
    read, write = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                              pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    try:
        ready, _, _ = select.select([read], [], [], 30)
        number = os.read(read, 64).decode().strip() if ready else ""
        assert number, "Xvfb did not start"
        yield f":{number}"
    finally:
        os.close(read)
        server.terminate()
        server.wait(timeout=10)


def test_headless_platforms_are_not_probed(monkeypatch):
    for platform in ("offscreen", "minimal"):
        monkeypatch.setenv("QT_QPA_PLATFORM", platform)
        monkeypatch.setenv("DISPLAY", free_display())
        assert qt_platform_problem() is None


def test_an_unloadable_xcb_library_names_its_package(monkeypatch, tmp_path):
    # an empty file found first on LD_LIBRARY_PATH: the loader rejects it, so Qt's xcb plugin cannot load
    (tmp_path / "libxcb-cursor.so.0").write_bytes(b"")
    env = xcb_env(free_display(), LD_LIBRARY_PATH=str(tmp_path))
    bare = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60)
    assert bare.returncode == -signal.SIGABRT  # what the app did before it probed
    use_xcb(monkeypatch, env["DISPLAY"], LD_LIBRARY_PATH=str(tmp_path))
    problem = qt_platform_problem()
    assert problem is not None and "\n" not in problem
    assert f"cannot load {tmp_path}/libxcb-cursor.so.0" in problem
    assert "`sudo apt-get install libxcb-cursor0" in problem and "--no-gui" in problem


def test_a_display_without_an_x_server_is_named(monkeypatch):
    skip_without_xcb_libraries()
    display = free_display()
    use_xcb(monkeypatch, display)
    assert qt_platform_problem() == (f"Qt could not connect to display {display!r} (no X server there? check "
                                     "DISPLAY); --no-gui runs without a display")


def test_app_says_one_line_and_exits_2_instead_of_aborting(lsl_name):
    env = xcb_env(free_display())
    bare = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60)
    assert bare.returncode == -signal.SIGABRT  # no X server (or no xcb libraries): Qt aborts
    out = subprocess.run([sys.executable, "app.py", "--eeg", "brainflow:synthetic", "--cam", "demo", "--duration",
                          "5", "--lsl-loopback", "--name", lsl_name], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("error: the dashboard cannot start: Qt")
    assert "--no-gui runs without a display" in out.stderr


def test_dashboard_runs_in_xvfb_and_draws(xvfb, lsl_name, tmp_path, monkeypatch):
    env = xcb_env(xvfb)
    use_xcb(monkeypatch, xvfb)
    assert qt_platform_problem() is None
    shot, screen = tmp_path / "dashboard.png", tmp_path / "screen.png"
    app = subprocess.Popen([sys.executable, "app.py", "--eeg", "brainflow:synthetic", "--cam", "demo", "--duration",
                            "8", "--lsl-loopback", "--name", lsl_name, "--screenshot", str(shot)],
                           cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        grab = subprocess.run([sys.executable, "-c", GRAB, "60", str(screen), theme.BACKGROUND[1:], theme.PANEL[1:]],
                              env=env, capture_output=True, text=True, timeout=90)
        _, err = app.communicate(timeout=90)
    finally:
        app.kill()
    assert app.returncode == 0, err
    assert "cannot start" not in err
    # the window was mapped on the X server (the screen shows the dashboard's background), not only rendered
    assert grab.returncode == 0, grab.stderr
    assert len(np.unique(colours(QtGui.QImage(str(screen))))) > 50
    picture = QtGui.QImage(str(shot))
    assert not picture.isNull() and picture.width() >= 640 and picture.height() >= 400
    assert len(np.unique(colours(picture))) > 50  # plots, text and badges, not a blank window


def test_readme_and_ci_install_the_same_packages_the_check_names():
    readme = re.search(r"`sudo apt-get install ([^`]+)`", (ROOT / "README.md").read_text()).group(1).split()
    ci = re.search(r"--no-install-recommends xvfb(.+?);", (ROOT / ".ci/run").read_text(), re.S).group(1)
    assert readme == ci.replace("\\", " ").split()
    assert set(readme) <= set(XCB_LIBRARY_PACKAGES.values())
