"""A fresh Jupyter kernel that runs one cell at a time under a time limit, for the grader.

Built on nbclient (what papermill and nbval use). A cell that runs past its limit is interrupted
(SIGINT, i.e. ``KeyboardInterrupt`` in the student's code); if the kernel does not answer within
a few seconds after that — a C-level hang, or code that blocks SIGINT — it is killed, and every
later request reports that the kernel is gone. Nothing the student's code does can stop the
grader from moving on to the next submission.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

#: Seconds a kernel gets to answer after an interrupt before it is killed.
INTERRUPT_GRACE_S = 5
STARTUP_TIMEOUT_S = 120


@dataclass
class CellResult:
    ok: bool
    error: str | None = None        # "NameError: ..." when the cell raised
    timed_out: bool = False
    killed: bool = False             # the kernel is gone (killed after a timeout, or died)
    images: int = 0                  # image outputs (figures) the cell displayed
    outputs: list = field(default_factory=list)


class Kernel:
    """``with Kernel(cwd, env) as k: k.run(source, timeout)`` — see the module docstring."""

    def __init__(self, cwd: str, env: dict[str, str], kernel_name: str = "python3"):
        import nbformat
        from nbclient import NotebookClient

        self.cwd, self.env = cwd, env
        self.client = NotebookClient(nbformat.v4.new_notebook(), kernel_name=kernel_name, timeout=None,
                                     allow_errors=False, record_timing=False, startup_timeout=STARTUP_TIMEOUT_S,
                                     resources={"metadata": {"path": cwd}})
        self.alive = False
        self._context = None

    def __enter__(self) -> "Kernel":
        _quiet_abandoned_polls()
        self._context = self.client.setup_kernel(env=self.env, cwd=self.cwd)
        self._context.__enter__()
        self.alive = True
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self._context is not None:
                self._context.__exit__(None, None, None)
        except Exception:  # a killed kernel cannot be shut down politely; it is gone either way
            pass
        self.kill()

    def run(self, source: str, timeout: float) -> CellResult:
        """Execute ``source``; give up after ``timeout`` seconds (interrupt, then kill)."""
        import nbformat
        from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

        if not self.alive:
            return CellResult(False, "the kernel was stopped earlier", killed=True)
        cell = nbformat.v4.new_code_cell(source)
        self.client.nb.cells.append(cell)
        self.client.timeout = max(1, math.ceil(timeout))
        try:
            self.client.execute_cell(cell, len(self.client.nb.cells) - 1)
        except CellTimeoutError:
            killed = not self._recover()
            return CellResult(False, f"did not finish within {timeout:.0f} s" +
                              (" and did not respond to an interrupt, so the kernel was stopped" if killed
                               else " and was interrupted"), timed_out=True, killed=killed,
                              images=_images(cell), outputs=list(cell.get("outputs", [])))
        except CellExecutionError as error:
            return CellResult(False, f"{error.ename}: {error.evalue}".strip(), images=_images(cell),
                              outputs=list(cell.get("outputs", [])))
        except DeadKernelError:
            self.alive = False
            return CellResult(False, "the kernel died (the code crashed the Python process or exited it)",
                              killed=True)
        return CellResult(True, images=_images(cell), outputs=list(cell.get("outputs", [])))

    def _recover(self) -> bool:
        """Interrupt the kernel and see whether it answers; kill it if not. True if it is usable."""
        from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

        try:
            _sync(self.client.km.interrupt_kernel)
        except Exception:  # no kernel left to interrupt
            self.kill()
            return False
        import nbformat

        ping = nbformat.v4.new_code_cell("pass")
        self.client.nb.cells.append(ping)
        self.client.timeout = INTERRUPT_GRACE_S  # read at call time, so tests can shorten it
        try:
            self.client.execute_cell(ping, len(self.client.nb.cells) - 1)
            return True
        except CellExecutionError:  # the KeyboardInterrupt surfaced here: the kernel is answering
            return True
        except (CellTimeoutError, DeadKernelError):
            self.kill()
            return False

    def kill(self) -> None:
        """Stop the kernel process (and its process group) at once."""
        if not self.alive and self.client.km is None:
            return
        self.alive = False
        km = self.client.km
        try:
            if km is not None and km.has_kernel:
                _sync(km.shutdown_kernel, now=True)
        except Exception:  # already dead
            pass
        try:
            if self.client.kc is not None:
                self.client.kc.stop_channels()
        except Exception:
            pass


def _quiet_abandoned_polls() -> None:
    """After a timeout nbclient abandons its output-polling task; asyncio would print that task's
    exception ("Task exception was never retrieved") when it is collected. The timeout is already
    reported, so that message is dropped; any other goes to the loop's previous handler."""
    from jupyter_core.utils import ensure_event_loop

    loop = ensure_event_loop()
    previous = loop.get_exception_handler()
    if getattr(previous, "_fr_course", False):
        return

    def handler(loop, context):
        if "_async_poll_output_msg" in repr(context.get("future")):
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    handler._fr_course = True
    loop.set_exception_handler(handler)


def _sync(method, *args, **kwargs):
    """Call a kernel-manager method whether it is synchronous or (nbclient's default) async."""
    from nbclient.util import ensure_async, run_sync

    async def call():
        return await ensure_async(method(*args, **kwargs))

    return run_sync(call)()


def _images(cell) -> int:
    return sum(1 for out in cell.get("outputs", [])
               if out.get("output_type") in ("display_data", "execute_result")
               and any(key.startswith("image/") for key in out.get("data", {})))
