"""Loading an AOF directory at startup, compared with real Redis 7.0 on identical copies of the
same files: what loads, what the files look like afterwards, and the log lines; and what
refuses to start (exit status 1, Redis's reason in the log) -- never a partial dataset.

Each case builds the files by hand (RESP commands, a base RDB saved by real Redis), copies
them into two directories, and starts ``redis-server`` on one and ``python -m server`` on the
other with the same options.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import redis

from server.persistence.aof import encode_command, read_commands
from tests.persistence.aof_support import failed_start, log_messages, ready_or_exited, server, spawn
from tests.persistence.support import diff, snapshot
from tests.support.servers import real_redis

INCR = "appendonly.aof.1.incr.aof"
BASE = "appendonly.aof.1.base.rdb"
MANIFEST_INCR = "file %s seq 1 type i\n" % INCR
MANIFEST_BOTH = "file %s seq 1 type b\nfile %s seq 1 type i\n" % (BASE, INCR)

#: Log messages about AOF loading that both servers must write identically.
_AOF_LINE = re.compile(
    r"AOF|append|Truncat|truncat|MULTI|manifest|MANIFEST|>>>|Reading|Unknown command|RDB base|preamble|"
    r"migrated|Found|Invalid|File can.t|Unable to obtain|RDB")
#: ... except lines that are not about loading, or that carry a duration.
_IGNORED = re.compile(r"Calling fsync|seconds$|Creating AOF|Opening AOF|bye bye|User requested")


def cmds(*commands) -> bytes:
    return b"".join(encode_command([a if isinstance(a, bytes) else str(a).encode() for a in c]) for c in commands)


SELECT0 = ("SELECT", 0)
SETS = cmds(SELECT0, ("set", "a", 1), ("set", "b", 2), ("RPUSH", "l", "x", "y"), ("SELECT", 3), ("SET", "c", 3))
TXN = cmds(("MULTI",), ("SET", "t1", 1), ("INCR", "t1"), ("SET", "t2", 2), ("EXEC",))


@pytest.fixture(scope="module")
def base_rdb(tmp_path_factory) -> bytes:
    """An RDB saved by real Redis 7.0 (keys in db 0 and db 1)."""
    d = tmp_path_factory.mktemp("rdb")
    with real_redis("--dir", str(d)) as rp:
        r = redis.Redis(port=rp.port)
        r.set("base:str", "v")
        r.hset("base:hash", mapping={"f": 1})
        r.select(1)
        r.zadd("base:z", {"m": 1.5})
        r.save()
    return (d / "dump.rdb").read_bytes()


def build(root: Path, files: dict, manifest: str | None, dirname: str = "appendonlydir") -> None:
    """The same files in ``root/r`` and ``root/v``; ``files`` names -> bytes (a name
    starting with ``../`` goes into the data directory itself)."""
    for side in ("r", "v"):
        data = root / side
        aof = data / dirname
        aof.mkdir(parents=True)
        for name, content in files.items():
            target = data / name[3:] if name.startswith("../") else aof / name
            target.write_bytes(content)
        if manifest is not None:
            (aof / "appendonly.aof.manifest").write_text(manifest)


def aof_lines(log: str) -> list[str]:
    return [m for m in log_messages(log) if _AOF_LINE.search(m) and not _IGNORED.search(m)]


def load_both(root: Path, *args: str) -> dict:
    """Start both servers on their copy; return {kind: (dataset, AOF log lines)}."""
    out = {}
    for kind, side in (("redis", "r"), ("vermilion", "v")):
        with server(kind, root / side, "--appendonly", "yes", *args) as sp:
            out[kind] = (snapshot(sp.port, encodings=False), None, sp)
        sp.proc.wait(10)
        out[kind] = (out[kind][0], aof_lines(sp.log()))
    return out


def refuse_both(root: Path, *args: str, appendonly: str = "yes") -> dict:
    """Start both servers expecting a refusal; return {kind: AOF log lines}, after checking
    that each exited with status 1."""
    out = {}
    for kind, side in (("redis", "r"), ("vermilion", "v")):
        status, log = failed_start(kind, root / side, "--appendonly", appendonly, *args)
        assert status == 1, (kind, log[-2000:])
        out[kind] = aof_lines(log)
    return out


def sizes(root: Path, side: str, dirname: str = "appendonlydir") -> dict:
    return {p.name: p.stat().st_size for p in sorted((root / side / dirname).iterdir())}


# -- complete files -----------------------------------------------------------------------------------


def test_base_and_incr_load_like_redis(tmp_path, base_rdb):
    build(tmp_path, {BASE: base_rdb, INCR: SETS + TXN}, MANIFEST_BOTH)
    got = load_both(tmp_path)
    assert not diff(got["redis"][0], got["vermilion"][0])
    assert (3, b"t1") in got["vermilion"][0] and (1, b"base:z") in got["vermilion"][0]
    assert got["vermilion"][1] == got["redis"][1]


def test_annotations_and_empty_files_are_fine(tmp_path):
    build(tmp_path, {BASE: b"", INCR: b"#TS:1700000000\r\n" + SETS + b"#anything\r\n"}, MANIFEST_BOTH)
    got = load_both(tmp_path)
    assert not diff(got["redis"][0], got["vermilion"][0])
    assert len(got["vermilion"][0]) == 4


# -- truncated tails ------------------------------------------------------------------------------------


@pytest.mark.parametrize("cut", [1, 5, 9, 14])
def test_a_truncated_last_file_is_cut_back_to_the_last_whole_command(tmp_path, cut):
    data = SETS[:-cut]
    build(tmp_path, {INCR: data}, MANIFEST_INCR)
    got = load_both(tmp_path)
    assert not diff(got["redis"][0], got["vermilion"][0])
    assert (3, b"c") not in got["vermilion"][0] and (0, b"l") in got["vermilion"][0]
    assert got["vermilion"][1] == got["redis"][1]
    assert any("!!! Truncating the AOF %s at offset" % INCR in line for line in got["redis"][1])
    assert sizes(tmp_path, "v") == sizes(tmp_path, "r")


def test_a_transaction_without_exec_is_rolled_back(tmp_path):
    data = SETS + TXN[: TXN.index(b"*1\r\n$4\r\nEXEC")]
    build(tmp_path, {INCR: data}, MANIFEST_INCR)
    got = load_both(tmp_path)
    assert not diff(got["redis"][0], got["vermilion"][0])
    assert not any(key == b"t1" for _, key in got["vermilion"][0])
    assert got["vermilion"][1] == got["redis"][1]
    assert "Revert incomplete MULTI/EXEC transaction in AOF file %s" % INCR in got["vermilion"][1]
    assert sizes(tmp_path, "v") == sizes(tmp_path, "r") == {"appendonly.aof.manifest": len(MANIFEST_INCR),
                                                            INCR: len(SETS)}


def test_a_transaction_cut_mid_command_is_rolled_back_to_before_multi(tmp_path):
    """The dataset is Redis's; the file is cut before the MULTI, where Redis leaves a
    dangling MULTI (see the aof module's design note)."""
    data = SETS + TXN[:-3]
    build(tmp_path, {INCR: data}, MANIFEST_INCR)
    got = load_both(tmp_path)
    assert not diff(got["redis"][0], got["vermilion"][0])
    assert "Revert incomplete MULTI/EXEC transaction in AOF file %s" % INCR in got["vermilion"][1]
    assert sizes(tmp_path, "v")[INCR] == len(SETS)


def test_without_aof_load_truncated_a_short_file_is_fatal(tmp_path):
    build(tmp_path, {INCR: SETS[:-3]}, MANIFEST_INCR)
    got = refuse_both(tmp_path, "--aof-load-truncated", "no")
    assert got["vermilion"] == got["redis"], got
    assert any(line.startswith("Unexpected end of file reading the append only file %s" % INCR)
               for line in got["redis"])


def test_a_truncated_file_that_is_not_the_last_is_fatal(tmp_path):
    manifest = MANIFEST_INCR + "file appendonly.aof.2.incr.aof seq 2 type i\n"
    build(tmp_path, {INCR: SETS[:-3], "appendonly.aof.2.incr.aof": TXN}, manifest)
    got = refuse_both(tmp_path)
    assert got["vermilion"] == got["redis"], got
    assert "Fatal error: the truncated file is not the last file" in got["redis"]


# -- files that must not load ------------------------------------------------------------------------------


def test_a_malformed_middle_is_fatal(tmp_path):
    build(tmp_path, {INCR: SETS[:30] + b"garbage\r\n" + SETS[30:]}, MANIFEST_INCR)
    got = refuse_both(tmp_path)
    assert got["vermilion"] == got["redis"], got
    assert any(line.startswith("Bad file format reading the append only file %s" % INCR) for line in got["redis"])


def test_an_unknown_command_is_fatal(tmp_path):
    build(tmp_path, {INCR: SETS + cmds(("NOSUCHCMD", "x"))}, MANIFEST_INCR)
    got = refuse_both(tmp_path)
    assert got["vermilion"] == got["redis"], got
    assert "Unknown command 'NOSUCHCMD' reading the append only file %s" % INCR in got["redis"]


def test_a_file_missing_from_the_manifest_is_fatal(tmp_path):
    build(tmp_path, {INCR: SETS}, MANIFEST_BOTH)
    got = refuse_both(tmp_path)
    assert got["vermilion"] == got["redis"], got
    assert "Unable to obtain the AOF file %s length. stat: No such file or directory" % BASE in got["redis"]


@pytest.mark.parametrize("damage", ["checksum", "truncated"])
def test_a_damaged_rdb_base_is_fatal(tmp_path, base_rdb, damage):
    bad = base_rdb[:-3] + b"\x00\x00\x00" if damage == "checksum" else base_rdb[: len(base_rdb) // 2]
    build(tmp_path, {BASE: bad, INCR: SETS}, MANIFEST_BOTH)
    got = refuse_both(tmp_path)
    # rdbLoadRio's report (the offset and the source location differ), after which Redis exits
    # at once; Vermilion then adds the line loadSingleAppendOnlyFile logs for a failed RDB.
    def norm(lines):
        return [re.sub(r"offset \d+, function at \S+", "offset N, function at F", x) for x in lines]

    theirs, ours = norm(got["redis"]), norm(got["vermilion"])
    assert any(x.startswith("Internal error in RDB reading offset N") for x in theirs)
    assert ours[: len(theirs)] == theirs
    assert set(ours[len(theirs):]) <= {"Terminating server after rdb file reading failure.",
                                       "Error reading the RDB base file %s, AOF loading aborted" % BASE,
                                       "Short read or OOM loading DB. Unrecoverable error, aborting now."}


@pytest.mark.parametrize("manifest", [
    "",
    "file appendonly.aof.1.incr.aof seq 1\n",
    "file ../x seq 1 type i\n",
    "file a seq 2 type i\nfile b seq 1 type i\n",
    "file a seq 1 type b\nfile b seq 1 type b\n",
    "file a seq 1 type z\n",
    "file appendonly.aof.1.incr.aof seq 1 type i",  # no final newline: "too long line"
])
def test_a_bad_manifest_is_fatal_with_redis_report(tmp_path, manifest):
    build(tmp_path, {INCR: SETS}, manifest)
    got = refuse_both(tmp_path)
    assert got["vermilion"] == got["redis"], got
    assert "*** FATAL AOF MANIFEST FILE ERROR ***" in "\n".join(got["vermilion"])


def test_a_bad_manifest_is_fatal_even_with_the_aof_off(tmp_path):
    """Redis reads the manifest at startup whatever ``appendonly`` says."""
    build(tmp_path, {INCR: SETS}, "garbage\n")
    got = refuse_both(tmp_path, appendonly="no")
    assert got["vermilion"] == got["redis"]
    assert "Invalid AOF manifest file format\n" in got["vermilion"]


# -- what is loaded, and from where --------------------------------------------------------------------------


@pytest.mark.parametrize("preamble", [False, True], ids=["resp", "rdb-preamble"])
def test_an_old_single_file_aof_is_migrated_into_the_directory(tmp_path, base_rdb, preamble):
    old = (base_rdb if preamble else b"") + SETS + TXN
    for side in ("r", "v"):
        (tmp_path / side).mkdir()
        (tmp_path / side / "appendonly.aof").write_bytes(old)
    got = load_both(tmp_path)
    assert not diff(got["redis"][0], got["vermilion"][0])
    assert (3, b"t2") in got["vermilion"][0]
    assert ((0, b"base:str") in got["vermilion"][0]) == preamble
    assert got["vermilion"][1] == got["redis"][1]
    assert ("Successfully migrated an old-style AOF file (appendonly.aof) into the AOF directory "
            "(appendonlydir).") in got["vermilion"][1]
    for side in ("r", "v"):
        assert not (tmp_path / side / "appendonly.aof").exists()
    assert (tmp_path / "v" / "appendonlydir" / "appendonly.aof.manifest").read_text() == \
        (tmp_path / "r" / "appendonlydir" / "appendonly.aof.manifest").read_text()


def test_with_appendonly_on_the_rdb_file_is_not_read(tmp_path, base_rdb):
    """AOF wins over RDB: with no AOF yet, a dump.rdb is ignored and the AOF starts empty."""
    for side in ("r", "v"):
        (tmp_path / side).mkdir()
        (tmp_path / side / "dump.rdb").write_bytes(base_rdb)
    got = load_both(tmp_path)
    assert got["redis"][0] == got["vermilion"][0] == {}
    assert sizes(tmp_path, "v").keys() == sizes(tmp_path, "r").keys() == {
        BASE, INCR, "appendonly.aof.manifest"}


def test_the_aof_wins_over_the_rdb_file(tmp_path, base_rdb):
    build(tmp_path, {INCR: SETS, "../dump.rdb": base_rdb}, MANIFEST_INCR)
    got = load_both(tmp_path)
    assert not diff(got["redis"][0], got["vermilion"][0])
    assert not any(key.startswith(b"base:") for _, key in got["vermilion"][0])


def test_a_custom_directory_and_file_name(tmp_path):
    name = "my file.aof"
    incr = name + ".1.incr.aof"
    manifest = "file \"%s\" seq 1 type i\n" % incr
    for side in ("r", "v"):
        d = tmp_path / side / "aofs"
        d.mkdir(parents=True)
        (d / incr).write_bytes(SETS)
        (d / (name + ".manifest")).write_text(manifest)
    got = load_both(tmp_path, "--appenddirname", "aofs", "--appendfilename", name)
    assert not diff(got["redis"][0], got["vermilion"][0])
    assert len(got["vermilion"][0]) == 4
    shutil.rmtree(tmp_path / "r")


def test_every_cut_of_the_last_file_loads_the_whole_commands_before_it(tmp_path):
    """DEBUG LOADAOF on every prefix of a stream with a transaction: the keys are those of
    the complete commands (an unfinished MULTI contributes nothing), and the file is cut back
    to the end of the last one that counts."""
    stream = cmds(SELECT0, ("SET", "a", 1), ("MULTI",), ("SET", "b", 2), ("SET", "c", 3), ("EXEC",),
                  ("SET", "d", 4))
    bounds = []  # (end offset, keys present once everything up to there is loaded)
    keys, pending = set(), None
    for argv, end in read_commands(stream, 0):
        name = argv[0]
        if name == b"MULTI":
            pending = set()
        elif name == b"EXEC":
            keys |= pending
            pending = None
        elif name == b"SET":
            (pending if pending is not None else keys).add(argv[1])
        if pending is None:
            bounds.append((end, set(keys)))
    data = tmp_path / "data"
    data.mkdir()
    with server("vermilion", data, "--appendonly", "yes") as sp:
        r = sp.client()
        aof = data / "appendonlydir"
        incr = aof / "appendonly.aof.1.incr.aof"
        for cut in range(len(stream) + 1):
            incr.write_bytes(stream[:cut])
            assert r.execute_command("DEBUG", "LOADAOF") == b"OK"
            end, expected = max([(0, set())] + [b for b in bounds if b[0] <= cut], key=lambda b: b[0])
            assert set(r.keys()) == expected, cut
            assert incr.stat().st_size == end, cut


@pytest.mark.parametrize("long_annotation", [False, True], ids=["lenient", "long-annotation"])
def test_records_redis_reads_leniently_load_the_same(tmp_path, long_annotation):
    """Leading zeros and spaces in the counts (atoi/strtol), two arbitrary bytes after an
    argument (skipped unchecked), bare LF line endings; and an annotation longer than the
    1023 bytes fgets reads, whose rest is then a malformed line (fatal in both)."""
    stream = (b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"
              b"*03\r\n$3\r\nSET\r\n$01\r\nk\r\n$1\r\nv\r\n"
              b"* 3\r\n$ 3\r\nSET\r\n$2 \r\nk2\r\n$1\r\nvxx"
              b"*2\n$4\nINCR\r\n$1\nn\r\n")
    if long_annotation:
        stream += b"#" + b"a" * 2000 + b"\r\n"
    build(tmp_path, {INCR: stream}, MANIFEST_INCR)
    got = {}
    for kind, side in (("redis", "r"), ("vermilion", "v")):
        sp = spawn(kind, tmp_path / side, "--appendonly", "yes")
        try:
            if ready_or_exited(sp):
                got[kind] = ("running", snapshot(sp.port, encodings=False))
            else:
                got[kind] = ("exited", sp.proc.returncode, aof_lines(sp.log()))
        finally:
            sp.stop()
    assert got["vermilion"] == got["redis"], got
    assert got["redis"][0] == ("exited" if long_annotation else "running")
