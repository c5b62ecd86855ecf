"""Run a child process, streaming its stdout and stderr live while keeping a copy of each.

The child gets its own process group so that Ctrl-C in the terminal reaches only us; we then
stop the whole group (SIGINT, then SIGTERM, then SIGKILL) and re-raise KeyboardInterrupt.
"""

from __future__ import annotations

import codecs
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

Output = Callable[[str, str], None]


def terminal_output(stream: str, text: str) -> None:
    """The default sink: the child's streams go to ours."""
    target = sys.stderr if stream == "stderr" else sys.stdout
    target.write(text)
    target.flush()


def run_streaming(
    command: str | Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str],
    output: Output,
    log_dir: Path,
    tick: Callable[[], None] | None = None,
    tick_every: float = 30.0,
) -> int:
    """Run `command` (a shell string or an argv) to the end and return its exit code.

    Output goes to `output(stream, text)` as it arrives and to `log_dir/{stdout,stderr}.txt`.
    `tick()` is called every `tick_every` seconds while the child runs (heartbeats).
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        command,
        shell=isinstance(command, str),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=os.name == "posix",
    )
    try:
        _pump(proc, output, log_dir, tick, tick_every)
        return proc.wait()
    except BaseException:
        stop_process_group(proc)
        raise


def _pump(
    proc: subprocess.Popen[bytes],
    output: Output,
    log_dir: Path,
    tick: Callable[[], None] | None,
    tick_every: float,
) -> None:
    assert proc.stdout is not None and proc.stderr is not None
    selector = selectors.DefaultSelector()
    files = {}
    decoders = {}
    for name, pipe in (("stdout", proc.stdout), ("stderr", proc.stderr)):
        selector.register(pipe, selectors.EVENT_READ, name)
        files[name] = open(log_dir / f"{name}.txt", "wb")
        decoders[name] = codecs.getincrementaldecoder("utf-8")(errors="replace")
    last_tick = time.monotonic()
    exited_at: float | None = None
    try:
        while selector.get_map():
            # A background grandchild may hold the pipes open after the child exits: don't wait
            # for it forever.
            if exited_at is None and proc.poll() is not None:
                exited_at = time.monotonic()
            if exited_at is not None and time.monotonic() - exited_at > 2.0:
                break
            for key, _ in selector.select(timeout=1.0):
                name = key.data
                data = os.read(key.fd, 65536)
                if not data:
                    selector.unregister(key.fileobj)
                    tail = decoders[name].decode(b"", final=True)
                    if tail:
                        output(name, tail)
                    continue
                files[name].write(data)
                text = decoders[name].decode(data)
                if text:
                    output(name, text)
            if tick is not None and time.monotonic() - last_tick >= tick_every:
                last_tick = time.monotonic()
                tick()
    finally:
        selector.close()
        for handle in files.values():
            handle.close()


def stop_process_group(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """Stop the child and everything it started: a polite signal first, a hard one last."""
    if proc.poll() is not None:
        return
    if os.name != "posix":
        proc.kill()
        proc.wait()
        return
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
    # Children the group leader left behind get the same end.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
