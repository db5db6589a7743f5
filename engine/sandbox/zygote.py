"""The fork server of sandbox workers: a small process that forks warm worker processes.

Forking the engine's own process is unsafe (it has threads: web requests, the scheduler), and
starting a fresh interpreter per worker is slow (imports). So each process that needs
workers starts one zygote with fork+exec (subprocess), the zygote imports the sandbox once,
then forks a worker for each request: a fork of a single-threaded, warm interpreter. Unlike
multiprocessing's fork server, it never imports the host's `__main__` script.

The parent talks to it over a SOCK_SEQPACKET socket pair, one request at a time:
- b"S" + memory bytes, with the worker's end of a socket pair attached (SCM_RIGHTS): fork a
  worker serving that socket; the answer is b"P" + its pid;
- b"R" + pid: wait for that worker to end (the parent has killed it); the answer is b"R" +
  its exit code (negative: the signal that ended it).
The zygote exits when the parent's end closes (the parent died or shut it down); its workers
die with it (PR_SET_PDEATHSIG, see worker.py).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import sys
from multiprocessing.connection import Connection


def _serve(control: socket.socket) -> None:
    from engine.sandbox import worker  # imported once, before any fork

    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 64, 1)
        except OSError:
            return
        if not message:
            return
        kind, number = message[:1], struct.unpack("!q", message[1:9])[0]
        if kind == b"S" and fds:
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    control.close()
                    worker.serve(Connection(fds[0]), number)
                except BaseException:  # noqa: BLE001 - a worker never returns to the zygote
                    code = 1
                finally:
                    os._exit(code)
            os.close(fds[0])
            control.send(b"P" + struct.pack("!q", pid))
        elif kind == b"R":
            try:
                _, status = os.waitpid(number, 0)
                code = os.waitstatus_to_exitcode(status)
            except ChildProcessError:
                code = 0
            control.send(b"R" + struct.pack("!q", code))
        else:
            for fd in fds:
                os.close(fd)


def main() -> None:
    """`python -c 'from engine.sandbox.zygote import main; main()' SYS_PATH_JSON FD`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent to handle
    sys.path[:] = json.loads(sys.argv[1])
    _serve(socket.socket(fileno=int(sys.argv[2])))
