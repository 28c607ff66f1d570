"""devstack's Supervisor with real processes: one that exits on its own is started
again; one held on purpose (the chaos run's SIGKILL) stays down until released."""
import signal

from devstack import services
from tests.waiting import wait_until


def sleeper(name, tmp_path):
    return services.Process(name, ["sleep", "60"], log=tmp_path / f"{name}.log")


def test_a_process_that_exits_on_its_own_is_started_again_and_reported(tmp_path):
    process = sleeper("worker", tmp_path).start()
    supervisor = services.Supervisor([process], interval=0.05).start()
    try:
        first = process.pid
        process.signal_group(signal.SIGTERM)
        wait_until(lambda: process.alive() and process.pid != first, timeout=5, message="the process to come back")
        assert [(name, code) for name, code, _ in supervisor.restarted] == [("worker", -signal.SIGTERM)]
    finally:
        supervisor.stop()
        process.stop()


def test_a_held_process_stays_down_until_released(tmp_path):
    process = sleeper("beat", tmp_path).start()
    told = []
    supervisor = services.Supervisor([process], on_restart=lambda p, code: told.append(p.name))
    try:
        supervisor.hold(process)
        process.kill()
        supervisor.check()
        assert not process.alive() and supervisor.restarted == []
        supervisor.release(process)
        supervisor.check()
        assert process.alive() and told == ["beat"]
    finally:
        process.stop()
