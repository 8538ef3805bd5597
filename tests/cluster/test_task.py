"""medaug.cluster.task: what a worker runs for one stage, in a fresh process, as DVC would."""

from __future__ import annotations

from medaug.cluster.task import (
    OUTPUT_TAIL_CHARS,
    WORKER_PID_ENV,
    StageCommand,
    StageResult,
    clear_outputs,
    command_environment,
    run_stage_command,
)


def test_task_clears_outputs_sets_threads_and_reports_failure(tmp_path):
    stale = tmp_path / "out"
    stale.mkdir()
    (stale / "old.txt").write_text("from an earlier attempt")
    spec = StageCommand(name="s", commands=('python -c "import os; print(os.environ[\'OMP_NUM_THREADS\'], '
                                            'os.environ[\'DVC_STAGE\'])"', "echo boom >&2; exit 4", "touch never"),
                        wdir=str(tmp_path), root=str(tmp_path), clear=(str(stale),), threads=3)
    result = run_stage_command(spec)
    assert not stale.exists() and not (tmp_path / "never").exists()
    assert result.returncode == 4 and result.failed_command.startswith("echo boom")
    assert "3 s" in result.output_tail and "boom" in result.output_tail


def test_every_command_runs_in_order_in_the_stage_folder(tmp_path):
    (tmp_path / "wdir").mkdir()
    spec = StageCommand(name="grid@1", commands=("echo one > a.txt", "cat a.txt; echo two"), wdir=str(tmp_path / "wdir"),
                        root=str(tmp_path))
    result = run_stage_command(spec)
    assert result.ok and result.failed_command == "" and result.output_tail.split() == ["one", "two"]
    assert (tmp_path / "wdir" / "a.txt").read_text() == "one\n" and result.name == "grid@1"


def test_the_output_tail_keeps_the_last_characters(tmp_path):
    spec = StageCommand(name="s", commands=(f"python -c \"print('x' * {OUTPUT_TAIL_CHARS}); print('end')\"",),
                        wdir=str(tmp_path), root=str(tmp_path))
    tail = run_stage_command(spec).output_tail
    assert len(tail) == OUTPUT_TAIL_CHARS and tail.endswith("x\nend\n")


def test_the_environment_has_the_threads_the_dvc_variables_and_no_cluster_address(monkeypatch):
    monkeypatch.setenv("MEDAUG_CLUSTER_ADDRESS", "tcp://scheduler:8786")
    monkeypatch.setenv("OMP_NUM_THREADS", "8")
    env = command_environment(StageCommand("train_vae@AD", ("true",), "/w", "/repo", threads=2))
    assert env["OMP_NUM_THREADS"] == env["ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS"] == "2"
    assert (env["DVC_ROOT"], env["DVC_STAGE"]) == ("/repo", "train_vae@AD") and env[WORKER_PID_ENV].isdigit()
    assert "MEDAUG_CLUSTER_ADDRESS" not in env
    fan_out = StageCommand("preprocess@x", ("true",), "/w", "/repo", env={"MEDAUG_CLUSTER_ADDRESS": "tcp://s:1",
                                                                         "OMP_NUM_THREADS": "5"})
    assert command_environment(fan_out)["MEDAUG_CLUSTER_ADDRESS"] == "tcp://s:1"
    assert command_environment(fan_out)["OMP_NUM_THREADS"] == "5"   # spec.env comes last


def test_clear_outputs_removes_files_folders_and_links_but_not_a_linked_folder(tmp_path):
    folder, file, target = tmp_path / "folder", tmp_path / "file.txt", tmp_path / "target"
    folder.mkdir()
    (folder / "inner.txt").write_text("x")
    file.write_text("x")
    target.mkdir()
    (target / "keep.txt").write_text("x")
    link = tmp_path / "link"
    link.symlink_to(target)
    clear_outputs((str(folder), str(file), str(link), str(tmp_path / "absent")))
    assert not folder.exists() and not file.exists() and not link.is_symlink()
    assert (target / "keep.txt").is_file()


def test_a_result_is_ok_only_with_return_code_zero():
    assert StageResult("s", 0, 1.0, "", "host").ok and not StageResult("s", 1, 1.0, "", "host").ok
