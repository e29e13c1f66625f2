"""Hot-swap: a thread watching a folder for new checkpoint bundles and swapping them into the running pipeline.

A bundle (``<name>.json`` manifest + the weights file it names, normally ``<name>.safetensors``)
counts as complete only when both files exist and the manifest parses as JSON; until then it is
*waiting* (shown in the status), and one still incomplete after ``settle_seconds`` is refused.
A complete bundle is loaded and validated here, in the background (``load_predictor``: safetensors
only, tensor names and shapes against the architecture), then judged by the one hot-swap policy
(``realtime.swap_policy``: the live streams can feed it, a real forward pass on the current windows
gives finite outputs) and swapped in, between two windows. A bundle that fails any step is refused
with the reason (status line, ``Pipeline.status().swap``, log) and the running model keeps going.
A file that changes after it was judged is judged again; an unchanged manifest is parsed once, not
at every poll. A pickled checkpoint (``.pt``, ``.pkl``...) dropped into the folder is never loaded:
it is reported once as ignored, with the reason. Bundles already in the folder when watching starts
are not swapped in (``--model DIR`` loads the newest of them at start).
"""

from __future__ import annotations

import collections
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from models.bundle import PICKLE_REFUSAL, pickled_checkpoints
from models.contracts import Predictor
from models.live import predictor_state
from models.manifest import named_weights_file
from realtime.status import state_suffix
from realtime.swap_policy import HotSwapPolicy, SwapTarget
from realtime.worker import Worker

log = logging.getLogger("emolive.hot_swap")

POLL_SECONDS = 0.5
#: A bundle still incomplete (weights missing, manifest not JSON) after this long is refused.
SETTLE_SECONDS = 10.0
EVENT_HISTORY = 50

Signature = tuple[int, int, int, int]  # manifest (mtime_ns, size), weights (mtime_ns, size); -1 when absent


@dataclass(frozen=True)
class SwapEvent:
    """One verdict on a bundle: swapped in, or refused with the reason."""

    time: float  # wall clock (time.time())
    bundle: str  # manifest file name
    accepted: bool
    model_id: str
    message: str


@dataclass
class _Pending:
    signature: Signature
    since: float
    reason: str
    predictor: Predictor | None = None  # loaded and checked, waiting for its inputs to be available


def _stat(path: Path) -> tuple[int, int]:
    try:
        st = path.stat()
    except OSError:
        return -1, -1
    return st.st_mtime_ns, st.st_size


def _weights_path(manifest: Path) -> tuple[Path | None, str]:
    """(weights file the manifest names, "") or (None, why the manifest cannot be used yet)."""
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"manifest does not parse as JSON ({exc})"
    name = named_weights_file(data)
    if name is None:
        return manifest.with_suffix(".safetensors"), ""
    if not isinstance(name, str) or Path(name).name != name:
        return None, f"weights file {name!r} must be a file name beside the manifest"
    return manifest.parent / name, ""


class BundleWatcher(Worker):
    """Polls ``folder`` every ``poll_seconds``; every new complete bundle is validated, tried, then swapped in."""

    stop_timeout = 10.0

    def __init__(self, folder: str | Path, target: SwapTarget, device: str = "cpu",
                 poll_seconds: float = POLL_SECONDS, settle_seconds: float = SETTLE_SECONDS,
                 backend: str = "torch") -> None:
        super().__init__("hot-swap")
        self.folder = Path(folder)
        self.policy = HotSwapPolicy(target)
        self.device = device
        self.backend = backend
        self.poll_seconds = poll_seconds
        self.settle_seconds = settle_seconds
        self.events: collections.deque[SwapEvent] = collections.deque(maxlen=EVENT_HISTORY)
        self._judged: dict[Path, Signature] = {}
        self._weights_of: dict[Path, tuple[tuple[int, int], Path | None, str]] = {}  # parsed once per manifest stat
        self._ignored: set[tuple[Path, tuple[int, int]]] = set()  # pickled checkpoints already reported
        self._pending: dict[Path, _Pending] = {}

    # -- life cycle ----------------------------------------------------------------------
    def start(self) -> None:
        """Note the bundles already there (not swapped in), then watch from a background thread."""
        if not self.folder.is_dir():
            raise FileNotFoundError(f"weights folder {self.folder} does not exist")
        for manifest, signature in self._scan().items():
            self._judged[manifest] = signature
        for event in self._report_pickles():
            self.events.append(event)
            log.warning("%s", event.message)
        if self._judged:
            log.info("%d bundle(s) already in %s are not swapped in; watching for new ones", len(self._judged),
                     self.folder)
        super().start()

    def _run(self) -> None:
        while not self._sleep(self.poll_seconds):
            try:
                self.poll()
            except Exception as exc:  # the watcher must never take the app down
                log.exception("hot-swap watcher: %s", exc)

    # -- what the status shows -----------------------------------------------------------
    @property
    def last_event(self) -> SwapEvent | None:
        return self.events[-1] if self.events else None

    def waiting(self) -> dict[str, str]:
        """Bundles seen but not judged yet: file name -> why."""
        return {p.name: w.reason for p, w in list(self._pending.items())}

    def summary(self) -> str:
        """One phrase for the status line: the latest verdict, then what is waiting."""
        parts = []
        if (e := self.last_event) is not None:
            parts.append(e.message)
        parts += [f"waiting for {name}: {why}" for name, why in self.waiting().items()]
        return "; ".join(parts)

    # -- one poll ------------------------------------------------------------------------
    def _manifest_weights(self, manifest: Path) -> tuple[Path | None, str]:
        """``_weights_path`` of ``manifest``, parsed again only when the manifest file changed."""
        stat = _stat(manifest)
        cached = self._weights_of.get(manifest)
        if cached is None or cached[0] != stat:
            cached = self._weights_of[manifest] = (stat, *_weights_path(manifest))
        return cached[1], cached[2]

    def _scan(self) -> dict[Path, Signature]:
        out = {}
        for manifest in sorted(self.folder.glob("*.json")):
            if manifest.name.startswith("."):
                continue
            weights, _ = self._manifest_weights(manifest)
            out[manifest] = (*_stat(manifest), *(_stat(weights) if weights is not None else (-1, -1)))
        for gone in set(self._weights_of) - set(out):
            del self._weights_of[gone]
        return out

    def _report_pickles(self) -> list[SwapEvent]:
        """A refusal, once per file version, for each pickled checkpoint dropped into the folder."""
        events = []
        for path in pickled_checkpoints(self.folder):
            key = (path, _stat(path))
            if key not in self._ignored:
                self._ignored.add(key)
                events.append(SwapEvent(time.time(), path.name, False, "",
                                        f"ignored {path.name}: {PICKLE_REFUSAL}; the running model keeps going"))
        return events

    def poll(self) -> list[SwapEvent]:
        """Judge every new or changed bundle (oldest manifest first); return the verdicts of this poll."""
        found = self._scan()
        for gone in set(self._pending) - set(found):
            del self._pending[gone]
        verdicts = self._report_pickles()
        for event in verdicts:
            self.events.append(event)
            log.warning("%s", event.message)
        for manifest in sorted(found, key=lambda p: found[p][0]):
            signature = found[manifest]
            if self._judged.get(manifest) == signature:
                continue
            judged = self._consider(manifest, signature)
            if judged is not None:
                self._judged[manifest] = signature
                self._pending.pop(manifest, None)
                self.events.append(judged)
                (log.info if judged.accepted else log.warning)("%s", judged.message)
                verdicts.append(judged)
        return verdicts

    def _wait(self, manifest: Path, signature: Signature, reason: str,
              predictor: Predictor | None = None) -> SwapEvent | None:
        """Keep ``manifest`` waiting, or refuse it once it has waited ``settle_seconds`` unchanged."""
        pending = self._pending.get(manifest)
        if pending is None or pending.signature != signature:
            pending = self._pending[manifest] = _Pending(signature, time.monotonic(), reason, predictor)
        pending.reason = reason
        if time.monotonic() - pending.since >= self.settle_seconds:
            return self._refuse(manifest, f"{reason} (for {self.settle_seconds:g} s)")
        return None

    def _refuse(self, manifest: Path, reason: str, model_id: str = "") -> SwapEvent:
        return SwapEvent(time.time(), manifest.name, False, model_id,
                         f"refused {manifest.name}: {reason}; the running model keeps going")

    def _consider(self, manifest: Path, signature: Signature) -> SwapEvent | None:
        weights, why = self._manifest_weights(manifest)
        if weights is None:
            return self._wait(manifest, signature, why)
        if not weights.is_file():
            return self._wait(manifest, signature, f"its weights file {weights.name} is not there yet")
        pending = self._pending.get(manifest)
        predictor = pending.predictor if pending is not None and pending.signature == signature else None
        if predictor is None:
            from models.predictor import load_predictor

            try:
                predictor = load_predictor(str(manifest), self.device, backend=self.backend)
            except Exception as exc:  # BundleError, NotLive, a registry error...: all refusals with their reason
                return self._refuse(manifest, str(exc))
        verdict = self.policy.swap_in(predictor)
        if verdict.retry:
            return self._wait(manifest, signature, verdict.reason, predictor)
        if not verdict.accepted:
            return self._refuse(manifest, verdict.reason, predictor.model_id)
        return SwapEvent(time.time(), manifest.name, True, predictor.model_id,
                         f"swapped in {predictor.model_id}{state_suffix(predictor_state(predictor))} "
                         f"from {manifest.name}")
