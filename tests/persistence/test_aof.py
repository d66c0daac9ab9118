"""The append-only file: Redis 7.0's multi-part layout written byte for byte like Redis,
rewrites, runtime switching, timestamps, and the pure parts (manifest, command reader).

Loading failures and truncated files, compared with real Redis on the same files, are in
``test_aof_loading.py``; files exchanged with real Redis and its tools in
``test_aof_interop.py``; SIGKILL during a write load in ``test_crash.py``; the files step by step
during rewrites, runtime switching and shutdowns beside Redis in ``test_aof_runtime.py``; the
fsync policies seen through strace in ``test_aof_fsync.py``.
"""

from __future__ import annotations

import re
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from server.persistence.aof import (
    Manifest,
    ManifestError,
    StreamFormatError,
    StreamTruncated,
    encode_command,
    read_commands,
)
from tests.persistence.aof_support import (
    REPO,
    ServerProcess,
    check_aof,
    incr_files,
    log_messages,
    manifest_lines,
    wait_ready,
    wait_rewrite_done,
)
from tests.persistence.support import diff, populate, redis_on, snapshot
from tests.support.servers import REDIS_SERVER, free_port, vermilion
from tests.support.waiting import wait_for


@pytest.fixture
def dirs(tmp_path):
    """Two data directories: ``r`` for real Redis, ``v`` for Vermilion."""
    for name in ("r", "v"):
        (tmp_path / name).mkdir()
    return tmp_path


# -- the manifest ---------------------------------------------------------------------------------


def test_manifest_round_trips_and_names_files_like_redis():
    m = Manifest.parse(b"file appendonly.aof.2.base.rdb seq 2 type b\n"
                       b"# a comment\n"
                       b"file appendonly.aof.1.incr.aof seq 1 type h\n"
                       b"file appendonly.aof.3.incr.aof seq 3 type i\n"
                       b"file \"odd name.aof\" seq 4 type i extra pair\n")
    assert m.base.name == "appendonly.aof.2.base.rdb" and m.base_seq == 2
    assert [i.name for i in m.history] == ["appendonly.aof.1.incr.aof"]
    assert [i.name for i in m.incr] == ["appendonly.aof.3.incr.aof", "odd name.aof"]
    assert m.format() == ("file appendonly.aof.2.base.rdb seq 2 type b\n"
                          "file appendonly.aof.1.incr.aof seq 1 type h\n"
                          "file appendonly.aof.3.incr.aof seq 3 type i\n"
                          "file \"odd name.aof\" seq 4 type i\n")
    assert m.new_incr("appendonly.aof") == "appendonly.aof.5.incr.aof"
    assert m.new_base("appendonly.aof", rdb_preamble=False) == "appendonly.aof.3.base.aof"
    assert m.history[0].name == "appendonly.aof.2.base.rdb"
    m.mark_rewritten_incr_as_history(keep_last=True)
    assert [i.name for i in m.incr] == ["appendonly.aof.5.incr.aof"]
    assert [i.type for i in m.history] == ["h"] * 4


@pytest.mark.parametrize("text,reason", [
    (b"", "Found an empty AOF manifest"),
    (b"file a seq 1 type b", "The AOF manifest file contains too long line"),  # no newline
    (b"file " + b"a" * 1100 + b" seq 1 type b\n", "The AOF manifest file contains too long line"),
    (b"   \n", "Invalid AOF manifest file format"),
    (b"file a seq 1\n", "Invalid AOF manifest file format"),
    (b"file a seq 1 type\n", "Invalid AOF manifest file format"),
    (b"file a seq x type b\n", "Invalid AOF manifest file format"),
    (b"file \"a seq 1 type b\n", "Invalid AOF manifest file format"),
    (b"file dir/a seq 1 type b\n", "File can't be a path, just a filename"),
    (b"file a seq 1 type b\nfile b seq 2 type b\n", "Found duplicate base file information"),
    (b"file a seq 2 type i\nfile b seq 2 type i\n", "Found a non-monotonic sequence number"),
    (b"file a seq 1 type x\n", "Unknown AOF file type"),
])
def test_manifest_errors_give_redis_reasons(text, reason):
    with pytest.raises(ManifestError) as exc:
        Manifest.parse(text)
    assert exc.value.reason == reason


# -- the command reader ---------------------------------------------------------------------------

STREAM = (encode_command([b"SELECT", b"0"]) + b"#TS:1700000000\r\n" + encode_command([b"set", b"k", b"v"])
          + encode_command([b"RPUSH", b"l", b"", b"a\r\nb"]))


def test_reader_yields_commands_with_their_end_offsets():
    got = list(read_commands(STREAM, 0))
    assert [argv for argv, _ in got] == [[b"SELECT", b"0"], [b"set", b"k", b"v"], [b"RPUSH", b"l", b"", b"a\r\nb"]]
    assert got[-1][1] == len(STREAM)
    assert STREAM[got[0][1]:].startswith(b"#TS:")


def test_every_cut_of_a_stream_is_a_truncation_after_the_last_whole_command():
    ends = [end for _, end in read_commands(STREAM, 0)]
    for cut in range(len(STREAM)):
        whole = [e for e in ends if e <= cut]
        rest = re.sub(rb"^#[^\n]*\n", b"", STREAM[max([0] + whole):cut])  # a whole annotation
        seen = []
        try:
            for _, end in read_commands(STREAM[:cut], 0):
                seen.append(end)
            clean = True
        except StreamTruncated:
            clean = False
        assert seen == whole
        assert clean == (rest == b"" or rest.startswith(b"#")), cut


@pytest.mark.parametrize("data", [b"+OK\r\n", b"*0\r\n", b"*x\r\n", b"*1\r\n+SET\r\n", b"*1\r\n$-1\r\n"])
def test_reader_refuses_malformed_records(data):
    with pytest.raises(StreamFormatError):
        list(read_commands(data, 0))


def test_reader_skips_the_two_bytes_after_an_argument_unchecked_as_redis_does():
    assert [a for a, _ in read_commands(b"*1\r\n$4\r\nPINGxx", 0)] == [[b"PING"]]


# -- what is written -------------------------------------------------------------------------------

#: A script of writes whose propagated form covers Redis 7.0's rewrites (EX -> PXAT,
#: EXPIRE -> PEXPIREAT, INCRBYFLOAT -> SET KEEPTTL, GETEX PERSIST -> PERSIST, a past TTL ->
#: DEL, a script -> MULTI/EXEC), SELECT changes, transactions, and PUBLISH (replicas only).
SCRIPT = [
    (0, ["set", "a", "1"]),
    (0, ["SET", "b", "2", "EX", "100"]),
    (2, ["SET", "c", "x"]),
    (3, ["MULTI"]), (3, ["SET", "d", "1"]), (3, ["INCR", "d"]), (3, ["EXEC"]),
    (3, ["INCRBYFLOAT", "f", "1.5"]),
    (0, ["EXPIRE", "a", "100"]),
    (0, ["RPUSH", "l", "a", "b", "c"]), (0, ["LPOP", "l"]),
    (0, ["HSET", "h", "f", "v"]), (0, ["SADD", "s", "x"]), (0, ["ZADD", "z", "1", "m"]),
    (0, ["PUBLISH", "ch", "msg"]),
    (0, ["GETEX", "a", "PERSIST"]),
    (0, ["SETEX", "e", "100", "v"]),
    (0, ["EVAL", "redis.call('set','e1','1'); redis.call('incr','e1')", "0"]),
    (0, ["EXPIRE", "b", "-1"]),
    (2, ["DEL", "c"]),
    (5, ["FLUSHDB"]),
]


def _run_script(port: int) -> None:
    conn = redis.Redis(port=port, single_connection_client=True)
    current = 0
    for db, cmd in SCRIPT:
        if db != current:
            conn.execute_command("SELECT", db)
            current = db
        conn.execute_command(*cmd)
    conn.close()


def _normalize_times(data: bytes) -> bytes:
    return re.sub(rb"\$13\r\n1\d{12}\r\n", b"$13\r\n<ms>\r\n", data)


def _written_script(aof_dir: Path) -> bytes:
    """The incr file once the script's last command is in it: under everysec a write waits
    (up to 2 s) while a background fsync runs, so on a busy disk the tail may come late."""
    incr = incr_files(aof_dir)[0]
    return wait_for(lambda: (lambda d: d if d.endswith(b"FLUSHDB\r\n") else None)(incr.read_bytes()),
                      what="the script's last command in the AOF")


def test_the_incr_file_matches_redis_byte_for_byte(dirs):
    with redis_on(dirs / "r", "--appendonly", "yes") as rp:
        _run_script(rp.port)
        theirs = _written_script(dirs / "r" / "appendonlydir")
        their_manifest = manifest_lines(dirs / "r" / "appendonlydir")
    with vermilion(dir=str(dirs / "v"), appendonly="yes") as node:
        _run_script(node.port)
        ours = _written_script(dirs / "v" / "appendonlydir")
        our_manifest = manifest_lines(dirs / "v" / "appendonlydir")
    assert our_manifest == their_manifest == ["file appendonly.aof.1.base.rdb seq 1 type b",
                                              "file appendonly.aof.1.incr.aof seq 1 type i"]
    assert b"PUBLISH" not in ours
    assert _normalize_times(ours) == _normalize_times(theirs)


def _persistence_fields(port: int) -> list[str]:
    return list(redis.Redis(port=port).info("persistence"))  # in the order the server sent


@pytest.mark.parametrize("appendonly", ["no", "yes"])
def test_info_persistence_has_redis_fields_in_redis_order(dirs, appendonly):
    with redis_on(dirs / "r", "--appendonly", appendonly) as rp:
        theirs = _persistence_fields(rp.port)
    with vermilion(dir=str(dirs / "v"), appendonly=appendonly) as node:
        ours = _persistence_fields(node.port)
        info = redis.Redis(port=node.port).info("persistence")
    assert ours == theirs
    assert info["aof_enabled"] == (appendonly == "yes")


def test_sizes_in_info_follow_the_files(tmp_path):
    with vermilion(dir=str(tmp_path), appendonly="yes") as node:
        r = redis.Redis(port=node.port)
        for i in range(50):
            r.set("k%d" % i, "v" * i)
        # (a write may wait while a background fsync runs: everysec postpones it up to 2 s)
        info = wait_for(lambda: (lambda i: i if i["aof_buffer_length"] == 0 else None)(r.info("persistence")),
                          what="the buffer to be written")
        incr = incr_files(tmp_path / "appendonlydir")[0]
        assert info["aof_current_size"] == incr.stat().st_size  # the start-up base is not counted
        assert info["aof_base_size"] == 0
        r.bgrewriteaof()
        info = wait_rewrite_done(r)
        base = tmp_path / "appendonlydir" / "appendonly.aof.2.base.rdb"
        assert info["aof_base_size"] == info["aof_current_size"] == base.stat().st_size
        r.set("more", "x")
        assert r.info("persistence")["aof_current_size"] == base.stat().st_size + incr_files(
            tmp_path / "appendonlydir")[0].stat().st_size


# -- rewrites ------------------------------------------------------------------------------------------


def raw(r: redis.Redis, *args):
    """The reply as sent (status texts included), without redis-py's callbacks."""
    conn = r.connection_pool.get_connection()
    try:
        conn.send_command(*args)
        return conn.read_response()
    finally:
        r.connection_pool.release(conn)


def test_bgrewriteaof_replies_like_redis(dirs):
    """started / already in progress / scheduled (during a BGSAVE, and inside MULTI)."""
    def replies(port: int) -> list:
        r = redis.Redis(port=port)
        r.config_set("rdb-key-save-delay", 100_000)  # each key takes 0.1 s: the children linger
        for i in range(10):
            r.set("k%d" % i, i)
        out = [raw(r, "BGREWRITEAOF")]
        try:
            raw(r, "BGREWRITEAOF")
        except redis.ResponseError as exc:
            out.append(str(exc))
        r.config_set("rdb-key-save-delay", 0)
        wait_for(lambda: not r.info("persistence")["aof_rewrite_in_progress"], what="rewrite")
        r.config_set("rdb-key-save-delay", 100_000)
        r.bgsave()
        out.append(raw(r, "BGREWRITEAOF"))
        out.append(r.info("persistence")["aof_rewrite_scheduled"])
        r.config_set("rdb-key-save-delay", 0)
        wait_rewrite_done(r)
        raw(r, "MULTI")
        raw(r, "BGREWRITEAOF")
        out.append(raw(r, "EXEC"))
        wait_rewrite_done(r)
        return out

    with redis_on(dirs / "r", "--appendonly", "yes") as rp:
        theirs = replies(rp.port)
    with vermilion(dir=str(dirs / "v"), appendonly="yes") as node:
        ours = replies(node.port)
    assert ours == theirs
    assert theirs[:2] == [b"Background append only file rewriting started",
                          "Background append only file rewriting already in progress"]


def _dataset(port: int) -> dict:
    return snapshot(port, encodings=False)


def test_a_rewrite_during_writes_loses_nothing(tmp_path):
    """Writes that arrive while the child writes the new base land in the new incr file;
    after the swap only the new base and incr remain, and a restart finds every key."""
    with vermilion(dir=str(tmp_path), appendonly="yes") as node:
        r = redis.Redis(port=node.port)
        populate(node.port, dbs=(0, 3))
        r.config_set("rdb-key-save-delay", 2000)  # ~0.15 s of child work
        assert r.bgrewriteaof() is True
        for i in range(300):
            r.set("during:%d" % i, i)
            r.incr("counter")
        r.delete("str:short")
        info = wait_rewrite_done(r)
        assert info["aof_last_bgrewrite_status"] == "ok"
        expected = _dataset(node.port)
    files = sorted(p.name for p in (tmp_path / "appendonlydir").iterdir())
    assert files == ["appendonly.aof.2.base.rdb", "appendonly.aof.2.incr.aof", "appendonly.aof.manifest"]
    assert not list(tmp_path.glob("temp-*"))
    with vermilion(dir=str(tmp_path), appendonly="yes") as node:
        assert not diff(expected, _dataset(node.port))


def test_without_the_rdb_preamble_the_base_is_resp_commands(tmp_path):
    with vermilion(dir=str(tmp_path), appendonly="yes", aof_use_rdb_preamble="no") as node:
        r = redis.Redis(port=node.port)
        populate(node.port, dbs=(0, 7))
        r.bgrewriteaof()
        wait_rewrite_done(r)
        expected = _dataset(node.port)
    base = tmp_path / "appendonlydir" / "appendonly.aof.2.base.aof"
    assert base.read_bytes().startswith(b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n")
    assert check_aof(tmp_path / "appendonlydir" / "appendonly.aof.manifest").returncode == 0
    with vermilion(dir=str(tmp_path), appendonly="yes") as node:
        assert not diff(expected, _dataset(node.port))


def test_growth_triggers_an_automatic_rewrite(tmp_path):
    with vermilion(dir=str(tmp_path), appendonly="yes", auto_aof_rewrite_min_size="4kb",
                   auto_aof_rewrite_percentage=100) as node:
        r = redis.Redis(port=node.port)
        for i in range(300):
            r.set("k%d" % i, "v" * 20)
        wait_for(lambda: r.info("persistence")["aof_rewrites"] >= 1, what="an automatic rewrite")
        wait_rewrite_done(r)
        assert r.dbsize() == 300
    assert manifest_lines(tmp_path / "appendonlydir")[0].startswith("file appendonly.aof.2.base.rdb")


# -- switching at runtime ---------------------------------------------------------------------------


def test_config_set_appendonly_writes_the_dataset_then_appends(tmp_path):
    with vermilion(dir=str(tmp_path)) as node:
        r = redis.Redis(port=node.port)
        populate(node.port, dbs=(0,))
        assert not (tmp_path / "appendonlydir").exists()
        assert r.config_set("appendonly", "yes") is True
        r.set("after", "on")
        info = wait_rewrite_done(r)
        assert info["aof_enabled"] == 1
        assert manifest_lines(tmp_path / "appendonlydir") == ["file appendonly.aof.1.base.rdb seq 1 type b",
                                                             "file appendonly.aof.1.incr.aof seq 1 type i"]
        r.set("later", "x")
        expected = _dataset(node.port)
        assert r.config_set("appendonly", "no") is True
        r.set("not-logged", "x")
        assert r.info("persistence")["aof_enabled"] == 0
    assert b"not-logged" not in incr_files(tmp_path / "appendonlydir")[0].read_bytes()
    with vermilion(dir=str(tmp_path), appendonly="yes") as node:
        assert not diff(expected, _dataset(node.port))


def test_rewrite_with_the_aof_off_leaves_a_base_only(dirs):
    """As in Redis: the incr files become history and are deleted."""
    def layout(port: int, d: Path) -> list[str]:
        r = redis.Redis(port=port)
        r.set("a", 1)
        r.config_set("appendonly", "yes")
        wait_rewrite_done(r)
        r.config_set("appendonly", "no")
        r.set("b", 2)
        r.bgrewriteaof()
        wait_rewrite_done(r)
        return manifest_lines(d / "appendonlydir")

    with redis_on(dirs / "r") as rp:
        theirs = layout(rp.port, dirs / "r")
    with vermilion(dir=str(dirs / "v")) as node:
        ours = layout(node.port, dirs / "v")
    assert ours == theirs == ["file appendonly.aof.2.base.rdb seq 2 type b"]


# -- timestamps --------------------------------------------------------------------------------------------


def test_timestamp_annotations_work_with_redis_check_aof_truncation(tmp_path):
    with vermilion(dir=str(tmp_path), appendonly="yes", aof_timestamp_enabled="yes") as node:
        r = redis.Redis(port=node.port)
        r.set("first", 1)
        time.sleep(1.1)
        r.set("second", 2)
    incr = incr_files(tmp_path / "appendonlydir")[0]
    data = incr.read_bytes()
    stamps = [int(t) for t in re.findall(rb"#TS:(\d+)\r\n", data)]
    assert len(stamps) == 2 and stamps[1] > stamps[0]
    manifest = tmp_path / "appendonlydir" / "appendonly.aof.manifest"
    assert check_aof(manifest).returncode == 0
    p = check_aof(manifest, "--truncate-to-timestamp", str(stamps[1] - 1))  # cut at the 2nd annotation
    assert "Successfully truncated AOF" in p.stdout, p.stdout
    with vermilion(dir=str(tmp_path), appendonly="yes") as node:
        r = redis.Redis(port=node.port)
        assert r.get("first") == b"1" and r.get("second") is None


# -- replay semantics -------------------------------------------------------------------------------------


def test_debug_loadaof_reloads_the_files(tmp_path):
    with vermilion(dir=str(tmp_path), appendonly="yes") as node:
        r = redis.Redis(port=node.port)
        populate(node.port, dbs=(0, 2))
        expected = _dataset(node.port)
        assert r.execute_command("DEBUG", "LOADAOF") == b"OK"
        assert not diff(expected, _dataset(node.port))
        r.set("after", 1)
        assert r.get("after") == b"1"


def test_commands_replay_on_keys_whose_time_passed_meanwhile(dirs):
    """Nothing expires while loading (keyIsExpired): a PERSIST logged before the TTL ran
    out keeps the key, as in Redis."""
    past = int(time.time() * 1000) - 60_000
    stream = (encode_command([b"SELECT", b"0"])
              + encode_command([b"SET", b"k", b"v", b"PXAT", str(past).encode()])
              + encode_command([b"PERSIST", b"k"])
              + encode_command([b"SET", b"gone", b"v", b"PXAT", str(past).encode()])
              + encode_command([b"APPEND", b"gone", b"x"]))
    for name in ("r", "v"):
        d = dirs / name / "appendonlydir"
        d.mkdir()
        (d / "appendonly.aof.1.incr.aof").write_bytes(stream)
        (d / "appendonly.aof.manifest").write_text("file appendonly.aof.1.incr.aof seq 1 type i\n")
    with redis_on(dirs / "r", "--appendonly", "yes") as rp:
        rr = redis.Redis(port=rp.port)
        theirs = (rr.get("k"), rr.ttl("k"), rr.exists("gone"))
    with vermilion(dir=str(dirs / "v"), appendonly="yes") as node:
        r = redis.Redis(port=node.port)
        ours = (r.get("k"), r.ttl("k"), r.exists("gone"))
    assert ours == theirs == (b"v", -1, 0)


# -- a full disk ------------------------------------------------------------------------------------------


def test_a_failing_write_turns_writes_away_until_the_disk_recovers(tmp_path):
    """The AOF file hits a size limit (RLIMIT_FSIZE: writes fail with EFBIG after a short
    write): writes and PING get Redis's MISCONF error, reads still work, and once the limit
    is lifted the buffered writes reach the file and writes are accepted again.

    ``appendfsync no``: under everysec a write waits (up to 2 s) while a background fsync
    runs, so on a busy disk the SET that first fails would depend on timing."""
    limit = 100_000

    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

    def run(kind: str) -> list:
        d = tmp_path / kind
        d.mkdir()
        port = free_port()
        common = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(d), "--logfile", str(d / "log"),
                  "--save", "", "--appendonly", "yes", "--appendfsync", "no"]
        cmd = [REDIS_SERVER, *common] if kind == "redis" else [sys.executable, "-m", "server", *common]
        proc = subprocess.Popen(cmd, preexec_fn=limited, cwd=REPO, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        sp = ServerProcess(kind, port, proc, d / "log")
        try:
            wait_ready(sp)
            r = sp.client()
            out = []
            for i in range(200):
                try:
                    r.set("k%d" % i, "x" * 1000)
                except redis.ResponseError as exc:
                    out += [i, str(exc)]
                    break
            out.append(r.get("k1") == b"x" * 1000)
            for cmd in (("SET", "again", "1"), ("PING",)):
                try:
                    out.append(r.execute_command(*cmd))
                except redis.ResponseError as exc:
                    out.append(str(exc))
            out.append(r.info("persistence")["aof_last_write_status"])
            resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
            wait_for(lambda: r.info("persistence")["aof_last_write_status"] == "ok", what="recovery")
            out.append(r.set("after", "1"))
            messages = log_messages(sp.log())
            out.append([m for m in messages if "AOF" in m and "Creating" not in m and "fsync" not in m])
            return out
        finally:
            sp.stop()

    theirs, ours = run("redis"), run("vermilion")
    assert ours == theirs
    assert theirs[1] == "MISCONF Errors writing to the AOF file: No space left on device"
    assert theirs[-1][-1] == "AOF write error looks solved, Redis can write again."
