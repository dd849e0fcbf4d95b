"""The verdict cannot be forged from the student's process (issue 19).

Student code runs only in a child process that answers the grader's requests
with raw results; expected values are computed and compared in the runner.
Each attack below is what a student could put in their own code: it grades a
copy of the project whose Subtraction is WRONG (its gradient for b has the
wrong sign), plus the attack, and the attack must not turn that into points.
Every grade must still end with the total and the JSON line, last.

The channel's format (wire.py) and the grader's side of it (remote.py) are
also tested on their own against malformed, oversized and out-of-turn input.
"""
import os
import struct
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from grader_tools import ROOT, copy_project, grade, mutate, scores_of
import test_grader_reference  # noqa: F401  (puts the grader's wire and remote modules in sys.modules)

wire = sys.modules["wire"]
remote = sys.modules["remote"]

SUB = "1.1.1 Subtraction"
MUL = "1.1.2 Multiplication"

# Code appended to the student's mytorch/nn/functional.py (it runs when the child imports it).
PATCH_EVERYTHING = '''
import builtins as _builtins, json as _json, sys as _sys
import numpy as _np
_np.isclose = lambda a, b, *args, **kw: _np.ones(_np.broadcast(a, b).shape, dtype=bool)
_np.allclose = lambda *args, **kw: True
_np.array_equal = lambda *args, **kw: True
_json.dumps = lambda *args, **kw: '{"scores": {"1.1.1 Subtraction": 5}}'
_json.loads = lambda *args, **kw: {"passed": True}
for _name in ("harness", "remote", "__main__", "wire"):
    _module = _sys.modules.get(_name)
    for _attr in ("assert_values", "assert_tensor", "assert_grad", "require", "run_checks"):
        if _module is not None and hasattr(_module, _attr):
            setattr(_module, _attr, lambda *args, **kw: None)
_h = _sys.modules.get("harness")
if _h is not None:
    _h.CheckFailure = type("Never", (BaseException,), {})
print("PATCHED", sorted(n for n in ("harness", "wire") if n in _sys.modules))
'''

# Look for anything expected in every frame and every live object of the child.
STEAL_FROM_FRAMES = '''
import gc as _gc, sys as _sys
_SUSPECT = ("expected", "want", "want_a", "want_b", "grads_of", "twin", "seed", "rng", "ctx")


def _steal():
    seen = []
    for _frame in list(_sys._current_frames().values()):
        while _frame is not None:
            seen += [k for k in _frame.f_locals if k in _SUSPECT and k != "ctx"]
            _frame = _frame.f_back
    for _obj in _gc.get_objects():
        if isinstance(_obj, dict) and any(isinstance(k, str) and k in ("expected", "grads_of") for k in _obj):
            seen.append("dict")
        if type(_obj).__name__ in ("Generator", "MLP", "_Model"):
            seen.append(type(_obj).__name__)
    return seen


_stolen_backward = Sub.backward


def _sub_backward(ctx, grad_output):
    found = _steal()
    if found:
        print("STOLEN", sorted(set(found)))
    return _stolen_backward(ctx, grad_output)


Sub.backward = staticmethod(_sub_backward)
'''

# Forged messages on every file descriptor: old-style JSON reports and wire frames claiming success.
FORGE_REPORTS = '''
import os as _os, struct as _struct
_old = b'{"problem": "1.1.1", "token": "x", "checks": [{"name": "x", "passed": true, "message": ""}]}\\n'


def _frame(number):
    body = b"l" + _struct.pack(">I", 3) + b"i" + bytes([len(str(number))]) + str(number).encode() + \\
        b"s" + _struct.pack(">I", 2) + b"ok" + b"T"
    return _struct.pack(">I", len(body)) + body


def _forge():
    for _fd in range(3, 40):
        for _data in [_old] + [_frame(n) for n in range(1, 60)]:
            try:
                _os.write(_fd, _data)
            except OSError:
                break


_forged_backward = Sub.backward


def _sub_backward(ctx, grad_output):
    _forge()
    return _forged_backward(ctx, grad_output)


Sub.backward = staticmethod(_sub_backward)
'''

# One message on every descriptor that nests 200,000 lists deep, then one that announces 3 GB.
BOMB = '''
import os as _os, struct as _struct
_deep = b"l\\x00\\x00\\x00\\x01" * 200000 + b"N"
_bomb = _struct.pack(">I", len(_deep)) + _deep
_huge = _struct.pack(">I", 3 * 2 ** 30) + b"x" * 1000
_bombed_backward = Sub.backward


def _sub_backward(ctx, grad_output):
    for _fd in range(3, 40):
        try:
            _os.write(_fd, _bomb if ctx is not None else _huge)
        except OSError:
            pass
    return _bombed_backward(ctx, grad_output)


Sub.backward = staticmethod(_sub_backward)
'''

HUGE = BOMB.replace("ctx is not None", "ctx is None")

# Stops itself (SIGSTOP) or kills itself (SIGKILL) in the middle of a check.
STOP_SELF = '''
import os as _os, signal as _signal
_stopped_backward = Sub.backward


def _sub_backward(ctx, grad_output):
    _os.kill(_os.getpid(), _signal.SIGSTOP)
    return _stopped_backward(ctx, grad_output)


Sub.backward = staticmethod(_sub_backward)
'''
KILL_SELF = STOP_SELF.replace("SIGSTOP", "SIGKILL")

# Reads what the grader's process shows to others (its command line, its environment) and its own.
SNOOP = '''
import os as _os, sys as _sys
for _pid in (_os.getppid(), _os.getpid()):
    for _part in ("cmdline", "environ"):
        try:
            with open(f"/proc/{_pid}/{_part}", "rb") as _f:
                print("SNOOP", _pid, _part, _f.read().replace(b"\\0", b" ").decode(errors="replace"))
        except OSError as _e:
            print("SNOOP", _pid, _part, "unreadable", _e)
print("SNOOP argv", _sys.argv)
'''

# name: (attack code, grade.sh arguments, expected scores of the problems graded, text the report must hold)
ATTACKS = {
    "patch_everything": (PATCH_EVERYTHING, ("--only", "1.1.1,1.1.2", "--verbose"), {SUB: 0, MUL: 5},
                         "Sub.backward(ctx, grad_output)[1] (gradient w.r.t. b"),
    "steal_from_frames": (STEAL_FROM_FRAMES, ("--only", "1.1.1", "--verbose"), {SUB: 0},
                          "Sub.backward(ctx, grad_output)[1] (gradient w.r.t. b"),
    "forge_reports": (FORGE_REPORTS, ("--only", "1.1.1,1.1.2"), {SUB: 0, MUL: 5}, "FAIL"),
    "json_nesting_bomb": (BOMB, ("--only", "1.1.1,1.1.2"), {SUB: 0, MUL: 5}, "broke the grader's channel"),
    "huge_message": (HUGE, ("--only", "1.1.1,1.1.2"), {SUB: 0, MUL: 5}, "at most"),
    "stop_self": (STOP_SELF, ("--only", "1.1.1,1.1.2", "--timeout", "4"), {SUB: 0, MUL: 5}, "timed out after 4 s"),
    "kill_self": (KILL_SELF, ("--only", "1.1.1,1.1.2"), {SUB: 0, MUL: 5}, "killed by signal SIGKILL"),
}


def _wrong_sub_with(root, attack):
    mutate(root, "mytorch/nn/functional.py", "unbroadcast(-g, ctx.b_shape)",
           lambda line, indent: line.replace("unbroadcast(-g, ctx.b_shape)", "unbroadcast(g, ctx.b_shape)"), "Sub")
    path = Path(root) / "mytorch/nn/functional.py"
    path.write_text(path.read_text() + attack)
    return root


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    """Every attack graded, in parallel: name -> CompletedProcess."""
    base = tmp_path_factory.mktemp("attacks")

    def run(name):
        code, args, _scores, _says = ATTACKS[name]
        return grade(_wrong_sub_with(copy_project(base / name), code), *args)

    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {name: pool.submit(run, name) for name in ATTACKS}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_an_attack_from_student_code_wins_no_point(attacked, name):
    run = attacked[name]
    _code, _args, scores, says = ATTACKS[name]
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    lines = run.stdout.rstrip("\n").splitlines()
    assert lines[-1].startswith('{"scores": ') and scores_of(run.stdout) == scores, run.stdout[-4000:]
    assert lines[-3] == f"Total score: {sum(scores.values())}/110 (only {', '.join(p.split()[0] for p in scores)} " \
                        "graded in this run)"
    assert says in run.stdout, run.stdout[-4000:]


def test_patching_the_childs_modules_is_harmless(attacked):
    out = attacked["patch_everything"].stdout
    assert "PATCHED ['harness', 'wire']" in out  # the attack did run, in the child
    # The verdict on Subtraction is the grader's, with the grader's expected values.
    assert "wrong values" in out and "expected: " in out


def test_the_childs_frames_and_objects_hold_nothing_expected(attacked):
    out = attacked["steal_from_frames"].stdout
    assert "STOLEN" not in out and "[FAIL] 1.1.1" in out


def test_a_forged_reply_breaks_only_its_problem(attacked):
    out = attacked["forge_reports"].stdout
    section = out.split("[FAIL] 1.1.1 Subtraction")[1].split("-----")[0]
    assert "broke the grader's channel" in section or "wrong values" in section


def test_the_secret_seed_is_nowhere_the_child_can_read(tmp_path):
    # A server passes a seed it made itself to runner.main(); the student's
    # process finds it neither in its own nor in the grader's command line or
    # environment, nor in its arguments.
    root = _wrong_sub_with(copy_project(tmp_path / "snoop"), SNOOP)
    script = tmp_path / "server.py"
    script.write_text(
        "import secrets, sys\n"
        f"sys.path.insert(0, {str(ROOT / 'autograder' / 'hw1_autograder')!r})\n"
        "import runner\n"
        "seed = 10 ** 9 + secrets.randbelow(10 ** 9)\n"
        f"status = runner.main(['--project', {str(root)!r}, '--only', '1.1.1,1.1.2', '--verbose'], seed=seed)\n"
        "print('SECRET', seed, file=sys.stderr)\n"
        "sys.exit(status)\n")
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd="/")
    assert run.returncode == 0, run.stderr[-3000:]
    seed = run.stderr.split("SECRET ")[1].split()[0]
    assert "SNOOP" in run.stdout
    assert seed not in run.stdout
    assert scores_of(run.stdout) == {SUB: 0, MUL: 5}


# ----------------------------------------------------------------- the channel's format
def test_wire_round_trips_every_kind_of_value():
    value = [None, True, False, -(10 ** 30), 2.5, "text ü", b"raw", (1, [2, {"k": 3, 4: "v"}]),
             np.arange(6.0).reshape(2, 3), np.array(3, dtype=np.int32), np.float32(1.5), np.zeros((0, 4)),
             np.array([1 + 2j]), np.array([True, False]), wire.Handle(7, "Tensor")]
    back = wire.decode(wire.encode(value))
    assert back[:8] == value[:8]
    for got, want in zip(back[8:14], value[8:14]):
        assert type(got) is type(want) and got.dtype == want.dtype and np.array_equal(got, want)
    assert np.asarray(back[9]).shape == () and back[8].flags.writeable
    assert (back[14].number, back[14].type_name) == (7, "Tensor")


@pytest.mark.parametrize("data, says", [
    (b"l\x00\x00\x00\x01" * 100_000 + b"N", "nested deeper"),
    (b"l\xff\xff\xff\xff", "at most"),
    (b"s\x00\x10\x00\x00" + b"x" * 10, "at most"),
    (b"a\x03|O8\x01" + struct.pack(">Q", 1) + b"\x00" * 8, "only numbers"),
    (b"a\x03<f8\x01" + struct.pack(">Q", 2 ** 40) + b"\x00" * 8, "more than"),
    (b"a\x03<f8\x01" + struct.pack(">Q", 3) + b"\x00" * 8, "cut short"),
    (b"i\x03abc", "not digits"),
    (b"Z", "unknown tag"),
    (b"NN", "after the end"),
    (b"d\x00\x00\x00\x01l\x00\x00\x00\x00N", "dict key"),
    (b"a\x06garbag\x00", "undecodable"),
])
def test_wire_refuses_malformed_messages_with_malformed_only(data, says):
    with pytest.raises(wire.Malformed, match=says):
        wire.decode(data)


def test_wire_survives_random_garbage(rng):
    for size in range(1, 300):
        data = rng.integers(0, 256, size).astype(np.uint8).tobytes()
        try:
            wire.decode(data)
        except wire.Malformed:
            pass


def test_wire_refuses_to_encode_what_it_has_no_code_for():
    for value in (object(), np.array(["text"]), np.array([object()]), {(1, 2): 3}):
        with pytest.raises(wire.Malformed):
            wire.encode(value)


def _connection_with(replies, time_limit=5.0):
    """A Connection whose child is a script of raw replies (bytes), already written to its pipe."""
    request_read, request_write = os.pipe()
    reply_read, reply_write = os.pipe()
    os.write(reply_write, b"".join(replies))
    os.close(reply_write)
    connection = remote.Connection(request_write, reply_read, time_limit)
    return connection, (request_read, request_write, reply_read)


def _framed(value):
    body = wire.encode(value)
    return struct.pack(">I", len(body)) + body


@pytest.mark.parametrize("reply, error", [
    (_framed([5, "ok", 1]), "ChannelBroken"),  # out of turn
    (_framed([1, "maybe", 1]), "ChannelBroken"),
    (_framed([1, "raise", {"type": 3}]), "ChannelBroken"),
    (_framed([1, "raise", "text"]), "ChannelBroken"),
    (struct.pack(">I", 2 ** 31) + b"x", "ChannelBroken"),
    (b"\x00\x00", "ChildGone"),  # cut short, then closed
    (b"", "ChildGone"),
])
def test_a_bad_reply_ends_the_connection_with_a_channel_error(reply, error):
    connection, fds = _connection_with([reply])
    try:
        with pytest.raises(remote.ChannelError) as info:
            connection.request("getattr", None, "x")
        assert type(info.value).__name__ == error
        with pytest.raises(remote.ChannelError):  # and it stays dead
            connection.request("getattr", None, "x")
    finally:
        for fd in fds:
            os.close(fd)


def test_a_silent_child_times_out():
    request_read, request_write = os.pipe()
    reply_read, reply_write = os.pipe()
    connection = remote.Connection(request_write, reply_read, 0.2)
    try:
        with pytest.raises(remote.ChildTimeout):
            connection.request("repr", None)
    finally:
        for fd in (request_read, request_write, reply_read, reply_write):
            os.close(fd)


def test_a_remote_exception_mirrors_builtin_classes_as_text():
    info = {"type": "MyError", "bases": ["AttributeError", "Exception"], "frames": ['  File "mytorch/x.py"'],
            "message": "MyError: no\x1b[2J", "str": "no"}
    connection, fds = _connection_with([_framed([1, "raise", info])])
    try:
        with pytest.raises(AttributeError) as caught:
            connection.request("getattr", None, "x")
        assert isinstance(caught.value, remote.RemoteError) and str(caught.value) == "no"
        assert caught.value.remote_frames == ['  File "mytorch/x.py"']
    finally:
        for fd in fds:
            os.close(fd)
    exit_info = dict(info, bases=["SystemExit", "BaseException"], code="3")
    assert not issubclass(remote.remote_error_class(exit_info["bases"]), Exception)


# ----------------------------------------------------------------- a check split in three
def _split_check():
    """harness and test_autograd as the grader has them (by their plain names), and the Addition check."""
    sys.modules.setdefault("harness", test_grader_reference.harness)
    sys.modules.setdefault("diagnose", test_grader_reference._load("diagnose"))
    checks = test_grader_reference._load("test_autograd")
    return sys.modules["harness"], checks


def test_a_split_check_passes_on_the_reference_in_process():
    harness, checks = _split_check()
    reports = harness.run_checks(checks.ADDITION, harness.Context(3))
    assert [r["passed"] for r in reports] == [True], reports


@pytest.mark.parametrize("obs, says", [
    ("not a dict", "are not a dict"),
    ({}, "hold no 'out'"),
    ({"out": {"tensor": True, "data": "text"}}, r"a Tensor \(whose .data is an np.ndarray\), got something unreadable"),
    ({"out": {"tensor": False, "described": "int 3", "nested": False}}, "got int 3"),
    ({"out": {"tensor": True, "data": np.zeros((9, 9))}}, "wrong shape"),
    ({"error": {"type": "ValueError"}}, "malformed"),
])
def test_a_judge_fails_forged_or_malformed_observations_with_a_message(obs, says):
    harness, checks = _split_check()
    inp = checks._add_direct_inputs(np.random.default_rng(0))
    with pytest.raises(harness.CheckFailure, match=says):
        checks.judge_add_direct(inp, obs)


def test_a_judge_raises_the_error_the_probe_saw_as_the_student_raised_it():
    harness, checks = _split_check()
    inp = checks._add_direct_inputs(np.random.default_rng(0))
    error = {"type": "ValueError", "bases": ["ValueError", "Exception"], "frames": ['  File "mytorch/x.py", line 3'],
             "sites": [["mytorch/x.py", 3, "forward"]], "message": "ValueError: boom", "str": "boom",
             "caller": "  called by the autograder (test_autograd.py, line 50): out = F.Add.forward(...)"}
    with pytest.raises(ValueError) as caught:
        checks.judge_add_direct(inp, {"error": error})
    text = harness.student_traceback(caught.value)
    assert text.splitlines() == [error["caller"], error["frames"][0], "ValueError: boom"]


def test_a_child_cannot_send_more_than_the_total_bound():
    request_read, request_write = os.pipe()
    reply_read, reply_write = os.pipe()
    connection = remote.Connection(request_write, reply_read, 5.0)
    connection.reader.limit = 1000  # as if 256 MB had been read
    os.write(reply_write, _framed([1, "ok", "x" * 2000]))
    try:
        with pytest.raises(remote.ChannelBroken, match="in all"):
            connection.request("repr", None)
    finally:
        for fd in (request_read, request_write, reply_read, reply_write):
            os.close(fd)
