"""model_perf: tell Model Performance Monitor what cannot be seen from outside a run.

    import model_perf as mp

    with mp.phase("model_load"):
        pipe = load_pipeline(...)
    mp.set(model_load_time_seconds=12.3, optimizations=["xformers"], quantization="fp8", offload=True)
    mp.phase("denoise")            # also a plain call: starts "denoise", ending the phase before
    for i in range(steps):
        ...
        mp.step(i + 1, steps)

Inside a VS Code terminal opened while the extension runs (or a child of `model-perf run`), the
environment holds MODEL_PERF_CHANNEL and MODEL_PERF_TOKEN and each call sends one short JSON line
to the extension. Anywhere else every call returns at once and does nothing. No call ever raises
into your script: when the channel is gone or refuses us, the helper goes quiet for the rest of
the run. Standard library only; Python 3.8 or newer. A single file: copy it next to a script to
use it without the extension (it then does nothing).

Where the GPU tool cannot show a run's own GPU memory (WSL, MIG, a container), the helper sends
PyTorch's allocator peak (`torch.cuda.max_memory_reserved()`, current device) at each phase end
and at exit, but only when the script has already imported torch and initialised CUDA: the
helper never imports torch or starts CUDA itself.
"""

import atexit
import os
import sys
import threading
import time

__all__ = ["phase", "set", "step", "enabled"]

_CHANNEL = os.environ.get("MODEL_PERF_CHANNEL", "")
_TOKEN = os.environ.get("MODEL_PERF_TOKEN", "")
_TIMEOUT_SECONDS = 0.5
_PHASE_NAME_MAX = 64
_SET_FIELDS = {
    "model_load_time_seconds": (int, float, type(None)),
    "optimizations": (list, tuple),
    "quantization": (str, type(None)),
    "offload": (bool,),
    "steps": (int,),
    "steps_completed": (int,),
    "model_type": (str,),
    "resolution": (str,),
}

_lock = threading.Lock()
_sock = None
_quiet = not (_CHANNEL and _TOKEN)
_last_step_sent = 0.0
# A phase was started and not ended with `with`: the next phase() ends it, memory figure included.
_phase_open = False


def enabled():
    """True while messages are being sent (a channel is set and has not failed)."""
    return not _quiet


def _go_quiet():
    global _quiet, _sock
    _quiet = True
    try:
        if _sock is not None:
            _sock.close()
    except Exception:
        pass
    _sock = None


def _connect():
    import socket

    if _CHANNEL.startswith("unix:") and hasattr(socket, "AF_UNIX"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(_TIMEOUT_SECONDS)
        s.connect(_CHANNEL[len("unix:"):])
        return s
    if _CHANNEL.startswith("tcp:"):
        host, _, port = _CHANNEL[len("tcp:"):].rpartition(":")
        # Loopback only: the token must never leave this machine.
        if host not in ("127.0.0.1", "localhost", "::1", "[::1]"):
            raise ValueError("not a loopback address")
        s = socket.create_connection((host.strip("[]"), int(port)), timeout=_TIMEOUT_SECONDS)
        s.settimeout(_TIMEOUT_SECONDS)
        return s
    raise ValueError("unknown channel")


def _send(kind, fields):
    """Sends one message; any failure silences the helper for the rest of the run."""
    global _sock
    if _quiet:
        return
    try:
        import json

        message = {"token": _TOKEN, "v": 1, "pid": os.getpid(), "type": kind}
        message.update(fields)
        line = (json.dumps(message, separators=(",", ":"), default=str) + "\n").encode("utf-8")
        with _lock:
            if _quiet:
                return
            if _sock is None:
                _sock = _connect()
                hello = {"token": _TOKEN, "v": 1, "pid": os.getpid(), "type": "hello"}
                _sock.sendall((json.dumps(hello, separators=(",", ":")) + "\n").encode("utf-8"))
            _sock.sendall(line)
    except BaseException as err:  # noqa: B902 - never raise into the user's script
        with _lock:
            _go_quiet()
        if isinstance(err, KeyboardInterrupt):
            raise


def _torch_peak_reserved_mb():
    """PyTorch's allocator peak on the current device in MiB, or None. Never imports torch and
    never initialises CUDA: only a script that already uses CUDA through torch has a figure."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    try:
        cuda = getattr(torch, "cuda", None)
        if cuda is None or not cuda.is_initialized():
            return None
        return float(cuda.max_memory_reserved()) / (1024.0 * 1024.0)
    except Exception:
        return None


def _send_memory():
    if _quiet:
        return
    peak = _torch_peak_reserved_mb()
    if peak is not None:
        _send("memory", {"framework": "torch", "peak_reserved_mb": peak})


atexit.register(_send_memory)


class _Phase(object):
    """Started when created; ended by `with` (or by the next phase)."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        global _phase_open
        _phase_open = False
        _send("phase", {"name": self.name, "event": "end", "t": time.time() * 1000.0})
        _send_memory()
        return False

    def end(self):
        self.__exit__(None, None, None)


def phase(name):
    """Marks the start of phase `name` (model_load, warmup, denoise, decode, save, ...).

    Use it as a context manager to mark its end too, or call it to move to the next phase."""
    global _phase_open
    name = str(name)[:_PHASE_NAME_MAX]
    # A new phase ends the one still open: the peak so far belongs to that end too.
    if _phase_open:
        _send_memory()
    _phase_open = True
    _send("phase", {"name": name, "event": "start", "t": time.time() * 1000.0})
    return _Phase(name)


def set(**fields):  # noqa: A001 - `mp.set(...)` reads well at the call site
    """Reports facts about the run: model_load_time_seconds, optimizations, quantization,
    offload, steps, steps_completed, model_type, resolution. Unknown names are ignored."""
    if _quiet:
        return
    clean = {}
    for key, value in fields.items():
        kinds = _SET_FIELDS.get(key)
        if kinds is None or not isinstance(value, kinds):
            continue
        if isinstance(value, bool) and key != "offload":
            continue
        if key == "optimizations":
            value = [str(v)[:64] for v in value][:32]
        clean[key] = value
    if clean:
        _send("metrics", clean)


def step(done, total=None):
    """Reports steps done (and the total). Sent at most five times a second, and always the last."""
    global _last_step_sent
    if _quiet:
        return
    now = time.monotonic()
    last = total is not None and done >= total
    if not last and now - _last_step_sent < 0.2:
        return
    _last_step_sent = now
    fields = {"steps_completed": int(done)}
    if total is not None:
        fields["steps"] = int(total)
    _send("metrics", fields)
