"""A test run that is killed or terminated leaves no server of its fixtures behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from nvr_edge_testing.waiting import wait_for

INNER = textwrap.dedent('''
    import os, time
    from pathlib import Path
    import pytest
    from nvr_edge_testing.mosquitto import Mosquitto

    OUT = Path(os.environ["TIED_OUT"])

    @pytest.fixture
    def broker():
        server = Mosquitto(OUT / "broker").start()
        (OUT / "pid").write_text(str(server.process.pid))
        yield server
        server.stop()
        (OUT / "torn-down").write_text("yes")

    def test_waits(broker):
        time.sleep(120)
''')


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie awaiting its reaper is gone


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_the_broker_ends_with_the_run(tmp_path: Path, sig: signal.Signals) -> None:
    (tmp_path / "test_inner.py").write_text(INNER)
    run = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            str(tmp_path / "test_inner.py")], cwd=tmp_path,
                           env={**os.environ, "TIED_OUT": str(tmp_path)},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        pid = int(wait_for(lambda: (tmp_path / "pid").exists()
                           and (tmp_path / "pid").read_text(), 30, "the broker"))
        assert alive(pid)
        run.send_signal(sig)
        run.wait(30)
        wait_for(lambda: not alive(pid), 10, "the broker to end with the run")
        # SIGTERM: pytest was interrupted and ran the teardown; SIGKILL: the kernel killed it
        assert (tmp_path / "torn-down").exists() == (sig == signal.SIGTERM)
    finally:
        if run.poll() is None:
            run.kill()
