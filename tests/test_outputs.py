"""Output folders: nothing half-written, nothing replaced without --force, --force replaces one folder."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from aa_trigger.errors import AATriggerError
from aa_trigger.outputs import PROJECT_MARKER, RUN_MARKER, atomic_folder, check_name, ensure_free, remove_stale_partials


def test_atomic_folder_leaves_nothing_on_failure(tmp_path):
    final = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with atomic_folder(final, False, RUN_MARKER) as tmp:
            (tmp / "half.txt").write_text("x")
            raise RuntimeError("killed")
    assert not final.exists() and list(tmp_path.iterdir()) == []
    with atomic_folder(final, False, RUN_MARKER) as tmp:
        (tmp / RUN_MARKER).write_text("{}")
    assert (final / RUN_MARKER).is_file()
    with pytest.raises(AATriggerError, match="exists"):
        ensure_free(final, False, RUN_MARKER)
    with atomic_folder(final, True, RUN_MARKER) as tmp:  # --force replaces that one run
        (tmp / RUN_MARKER).write_text('{"new": 1}')
    assert (final / RUN_MARKER).read_text() == '{"new": 1}' and len(list(tmp_path.iterdir())) == 1


@pytest.mark.parametrize("make, message", [
    (lambda p: p.mkdir(), "not an aa_trigger run folder"),
    (lambda p: (p.mkdir(), (p / "precious.txt").write_text("x")), "not an aa_trigger run folder"),
    (lambda p: (p.mkdir(), (p / PROJECT_MARKER).write_text("{}")), "not an aa_trigger run folder"),
    (lambda p: p.write_text("a file"), "not an aa_trigger run folder"),
])
def test_force_replaces_only_a_folder_of_its_kind(tmp_path, make, message):
    target = tmp_path / "target"
    make(target)
    with pytest.raises(AATriggerError, match=message):
        with atomic_folder(target, True, RUN_MARKER):
            pass
    assert target.exists()


@pytest.mark.parametrize("name", [".", "..", "a/b", "../x", ".hidden", ""])
def test_run_names_are_one_plain_component(name):
    with pytest.raises(AATriggerError, match="plain folder name"):
        check_name(name, "--run-name")


def test_train_refuses_a_run_name_that_is_a_path(tmp_path):
    res = subprocess.run([sys.executable, "-m", "aa_trigger.train", "--run-name", ".", "--force", "--output",
                          str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and "plain folder name" in res.stderr and len(res.stderr.strip().splitlines()) == 1


_RACER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from aa_trigger.outputs import atomic_folder, RUN_MARKER
    from aa_trigger.cli import run_job
    def job():
        with atomic_folder(Path(sys.argv[1]), False, RUN_MARKER) as tmp:
            (tmp / RUN_MARKER).write_text(sys.argv[2])
            time.sleep(float(sys.argv[3]))
    code, _ = run_job(job, "run folder")
    sys.exit(code)
""")


def test_two_jobs_racing_for_one_name_never_replace_each_other(tmp_path):
    final = tmp_path / "run"
    slow = subprocess.Popen([sys.executable, "-c", _RACER, str(final), "slow", "3"], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not list(tmp_path.glob(".run.partial-*")) and time.time() < deadline:
        time.sleep(0.05)  # until the slow job has checked that the name is free and is working
    fast = subprocess.run([sys.executable, "-c", _RACER, str(final), "fast", "0"], capture_output=True, text=True)
    slow_err = slow.communicate(timeout=60)[1]
    assert fast.returncode == 0
    assert slow.returncode == 2 and "created by another job" in slow_err
    assert (final / RUN_MARKER).read_text() == "fast"
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_sigterm_unwinds_like_ctrl_c_and_stale_partials_are_removed(tmp_path):
    final = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-c", _RACER, str(final), "x", "60"], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not list(tmp_path.glob(".run.partial-*")) and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 143 and "terminated; no run folder was written" in err
    assert list(tmp_path.iterdir()) == []
    # a job killed outright (SIGKILL) leaves its partial folder; the next job removes it
    stale = tmp_path / ".run.partial-999999999"
    stale.mkdir()
    (stale / "half").write_text("x")
    assert remove_stale_partials(final) == [stale] and not stale.exists()
    mine = tmp_path / f".run.partial-{os.getpid()}"  # a live process's partial folder stays
    mine.mkdir()
    assert remove_stale_partials(final) == [] and mine.exists()
