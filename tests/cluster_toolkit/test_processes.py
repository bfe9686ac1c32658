import os
import signal

import pytest

from cluster_toolkit.processes import Terminated, exit_code, signals_deferred, sigterm_raises


@pytest.fixture
def python_sigint():
    """Python's own Ctrl-C handler (a background job starts with SIGINT ignored)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def test_sigterm_raises_terminated_and_the_exit_codes_follow_the_signal():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated) as caught, sigterm_raises():
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):  # handlers run between bytecodes
            pass
    assert exit_code(caught.value) == 143 and exit_code(KeyboardInterrupt()) == 130
    assert signal.getsignal(signal.SIGTERM) == before


def test_a_signal_during_a_deferred_block_arrives_after_it(python_sigint):
    done = []
    with pytest.raises(KeyboardInterrupt):
        with signals_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):
                pass
            done.append("commit finished")
    assert done == ["commit finished"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
