"""redis.conf files, command-line options and CONFIG REWRITE: the loader's rules and errors as
units, then CONFIG REWRITE compared line by line with what redis-server writes for the same file
and the same CONFIG SETs."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import pytest
import redis

from server import Node
from server.config import Config, FileError, OpenError, options_from_argv
from tests.support.servers import REDIS_SERVER, free_port, wait_port


def load(text: str, config: Config | None = None) -> Config:
    config = config or Config()
    config.load_string(text)
    return config


def file_error(text: str) -> FileError:
    with pytest.raises(FileError) as info:
        load(text)
    return info.value


# -- syntax ------------------------------------------------------------------------------------


def test_comments_blank_lines_quotes_and_case():
    c = load(
        "# a comment\n"
        "\n"
        "   # an indented comment\n"
        "MaxMemory 10MB\n"
        '\tmasterauth "a \\"quoted\\" \\x41"\n'
        "requirepass 'it''s'\n".replace("''", "\\'")
        + "dbfilename   spaced.rdb   \r\n"
    )
    assert c["maxmemory"] == 10 << 20
    assert c["masterauth"] == 'a "quoted" A'
    assert c["requirepass"] == "it's"
    assert c["dbfilename"] == "spaced.rdb"


@pytest.mark.parametrize("unit, factor", [("k", 1000), ("kb", 1024), ("m", 10**6), ("MB", 1 << 20), ("g", 10**9), ("Gb", 1 << 30)])
def test_memory_units_in_files(unit, factor):
    assert load(f"maxmemory 3{unit}\n")["maxmemory"] == 3 * factor


def test_save_lines_accumulate_and_replace_the_defaults():
    assert load("save 900 1\nsave 300 10\n")["save"] == [(900, 1), (300, 10)]
    assert load("save 900 1\nsave ''\n")["save"] == []
    assert load('save ""\nsave 10 1\n')["save"] == [(10, 1)]
    assert load("hz 5\n")["save"] == [(3600, 1), (300, 100), (60, 10000)]
    # One quoted argument holding several values is split (as --save "5 1 7 3" needs).
    assert load('save "5 1 7 3"\n')["save"] == [(5, 1), (7, 3)]


def test_an_include_ends_the_accumulation_of_save_lines(tmp_path):
    # A Redis quirk: loading the included file ends the "reading a file" state.
    (tmp_path / "empty.conf").write_text("")
    c = Config()
    c.values["dir"] = str(tmp_path)
    load("save 10 1\ninclude empty.conf\nsave 20 2\n", c)
    assert c["save"] == [(20, 2)]


@pytest.mark.parametrize(
    "value, shown, reason",
    [("700", "700", None), ('" 7"', "7", None), ('""', "0", None), ("8", None, "argument couldn't be parsed as an octal number"),
     ("1000", None, "argument must be between 0 and 777 inclusive"), ("-1", None, "argument must be between 0 and 777 inclusive")],
)
def test_unixsocketperm_is_octal(value, shown, reason):
    if reason is None:
        assert load(f"unixsocketperm {value}\n").format("unixsocketperm") == shown
    else:
        assert file_error(f"unixsocketperm {value}\n").reason == reason


def test_startup_sets_read_values_like_a_config_line():
    # What Node(save="", bind="127.0.0.1 -::1") does.
    c = Config()
    c.set("save", "", startup=True)
    c.set("bind", "127.0.0.1 -::1", startup=True)
    c.set("daemonize", "yes", startup=True)  # immutable at runtime, fine at startup
    assert (c["save"], c["bind"], c["daemonize"]) == ([], ["127.0.0.1", "-::1"], True)


def test_client_output_buffer_limit_lines_set_one_class_each():
    c = load("client-output-buffer-limit normal 1mb 2mb 3\nclient-output-buffer-limit pubsub 0 0 0\n")
    assert c.format("client-output-buffer-limit") == "normal 1048576 2097152 3 slave 268435456 67108864 60 pubsub 0 0 0"


def test_includes_nest_and_resolve_against_dir(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "one.conf").write_text("hz 33\ninclude d/two.conf\n")
    (tmp_path / "d" / "two.conf").write_text("maxmemory-samples 7\n")
    c = load(f"dir {tmp_path}\ninclude one.conf\n")
    assert (c["hz"], c["maxmemory-samples"]) == (33, 7)


def test_include_with_a_glob_reads_every_match_and_none_is_fine(tmp_path):
    (tmp_path / "a.conf").write_text("hz 11\n")
    (tmp_path / "b.conf").write_text("timeout 12\n")
    c = load(f"include {tmp_path}/*.conf\ninclude {tmp_path}/none-*.conf\n")
    assert (c["hz"], c["timeout"]) == (11, 12)


def test_deprecated_and_other_directives_are_accepted():
    c = load(
        "list-max-ziplist-entries 5\nlist-max-ziplist-value 6\nlua-replicate-commands yes\n"
        'rename-command FLUSHALL ""\nrename-command GET get2\nuser bob on >pw ~* +@all\nsentinel\n'
    )
    assert c.renamed_commands == [("FLUSHALL", ""), ("GET", "get2")]
    assert c.users == [["bob", "on", ">pw", "~*", "+@all"]]


@pytest.mark.parametrize(
    "text, lineno, line, reason",
    [
        ("port 1\nmaxmemory abc\n", 2, "maxmemory abc", "argument must be a memory value"),
        ('port "1\n', 1, 'port "1', "Unbalanced quotes in configuration line"),
        ("hz 1 2\n", 1, "hz 1 2", "wrong number of arguments"),
        ("hz\n", 1, "hz", "wrong number of arguments"),
        ("foo bar\n", 1, "foo bar", "Bad directive or wrong number of arguments"),
        ("include\n", 1, "include", "Bad directive or wrong number of arguments"),
        ("mymodule.opt\n", 1, "mymodule.opt", "Module config specified without value"),
        ("sentinel monitor a 1 2\n", 1, "sentinel monitor a 1 2", "sentinel directive while not in sentinel mode"),
        ("rename-command NOPE x\n", 1, "rename-command NOPE x", "No such command in rename-command"),
        ("rename-command GET SET\n", 1, "rename-command GET SET", "Target command name already exists"),
        ("replicaof 127.0.0.1 99999\n", 1, "replicaof 127.0.0.1 99999", "Invalid master port"),
        ("  save 10 x  \n", 1, "save 10 x", "Invalid save parameters"),
    ],
)
def test_errors_name_the_line_as_redis_does(text, lineno, line, reason):
    err = file_error(text)
    assert (err.lineno, err.line, err.reason) == (lineno, line, reason)


def test_fatal_report_text():
    err = file_error("port 1\nmaxmemory abc\n")
    assert err.report("7.0.15") == (
        "\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n"
        "Reading the configuration file, at line 2\n"
        ">>> 'maxmemory abc'\n"
        "argument must be a memory value\n"
    )


def test_checks_after_loading_have_no_line(tmp_path):
    err = file_error(f"logfile {tmp_path}/no/such/dir/x.log\n")
    assert (err.lineno, err.reason) == (None, "Can't open the log file: No such file or directory")
    err = file_error("cluster-enabled yes\nreplicaof 127.0.0.1 6380\n")
    assert err.reason == "replicaof directive not allowed in cluster mode"


def test_an_error_in_an_included_file_names_its_line(tmp_path):
    (tmp_path / "bad.conf").write_text("# first\nhz abc\n")
    err = file_error(f"port 1\n\ninclude {tmp_path}/bad.conf\n")
    assert (err.lineno, err.line) == (2, "hz abc")


def test_a_missing_file_is_an_open_error(tmp_path):
    with pytest.raises(OpenError) as info:
        Config().load(str(tmp_path / "missing.conf"))
    assert str(info.value) == f"Fatal error, can't open config file '{tmp_path}/missing.conf': No such file or directory"


def test_load_reads_file_then_stdin_then_options(tmp_path):
    conf = tmp_path / "r.conf"
    conf.write_text("hz 20\ntimeout 5\nmaxmemory 1mb\n")
    c = Config()
    c.load(str(conf), ["--timeout", "6", "-"], stdin=io.BytesIO(b"hz 30\nmaxmemory 2mb\n"))
    assert (c["hz"], c["timeout"], c["maxmemory"]) == (30, 6, 2 << 20)
    assert c.file == str(conf)


# -- the command line ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, has_file, options, stdin",
    [
        (["--port", "7000"], False, 'port "7000" ', False),
        (["--save", ""], False, 'save "" ', False),
        (["--save"], False, 'save ""', False),
        (["--save", "--port", "1"], False, 'save ""\nport "1" ', False),
        (["--replicaof", "127.0.0.1", "6380"], False, 'replicaof "127.0.0.1" "6380" ', False),
        (["--port 7000"], False, "port 7000 ", False),
        (["--requirepass", "--x"], False, 'requirepass "--x" ', False),
        (["-", "--port", "1"], False, 'port "1" ', True),
        (["--port", "1", "-"], True, 'port "1" ', True),
        (["--port", "-", "x"], False, 'port "-" "x" ', False),
        (["--sentinel", "--port", "1"], False, "sentinel \nport \"1\" ", False),
        (["--maxmemory", 'a"b\n'], False, 'maxmemory "a\\"b\\n" ', False),
    ],
)
def test_options_from_argv_match_redis_server(argv, has_file, options, stdin):
    assert options_from_argv(argv, has_file) == (options, stdin)


def test_command_line_values_can_hold_several_words():
    c = Config()
    c.load(None, ["--replicaof", "127.0.0.1", "6380", "--save", "5 1 7 3", "--bind", "127.0.0.1", "::1"])
    assert c["replicaof"] == ("127.0.0.1", 6380)
    assert c["save"] == [(5, 1), (7, 3)]
    assert c["bind"] == ["127.0.0.1", "::1"]


def test_command_line_error_is_reported_at_its_line():
    with pytest.raises(FileError) as info:
        Config().load(None, ["--port", "1", "2"])
    assert (info.value.lineno, info.value.line, info.value.reason) == (2, 'port "1" "2"', "wrong number of arguments")


# -- CONFIG REWRITE --------------------------------------------------------------------------------

ORIGINAL = """\
# Redis config for rewrite test
port {port}
logfile "{dir}/{name}.log"
dir {dir}

# persistence
save 900 1
save 300 10
slave-read-only yes
maxmemory 100mb
hash-max-ziplist-entries 64
lua-time-limit 100
client-output-buffer-limit pubsub 32mb 8mb 60
notify-keyspace-events ""
list-max-ziplist-entries 5
rename-command FLUSHALL ""
   # indented comment
timeout 0
maxmemory-samples 3
maxmemory-samples 4
bind 127.0.0.1
"""

CHANGES = [
    ("maxmemory", "2gb"), ("save", "60 5"), ("hash-max-listpack-entries", "100"),
    ("notify-keyspace-events", "KEA"), ("client-output-buffer-limit", "normal 1mb 2mb 3 replica 4gb 1000 0"),
    ("timeout", "30"), ("maxmemory-clients", "5%"), ("replica-announce-ip", "1.2.3.4"),
    ("oom-score-adj-values", "1 2 3"), ("appendfsync", "always"), ("proto-max-bulk-len", "1048577"),
    ("latency-tracking-info-percentiles", "50 99.99"), ("masterauth", 'a b"c'),
]


def rewrite_with_redis(path: Path, port: int) -> str:
    proc = subprocess.Popen([REDIS_SERVER, str(path)], cwd=path.parent, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        r = redis.Redis(port=port)
        for name, value in CHANGES:
            r.config_set(name, value)
        r.config_rewrite()
        r.shutdown(nosave=True)
    except redis.ConnectionError:
        pass
    finally:
        proc.wait(10)
    return path.read_text()


def rewrite_with_vermilion(path: Path) -> tuple[str, int]:
    config = Config()
    config.load(str(path))
    with Node(config).running() as node:  # port 0 in the file: any free port
        r = redis.Redis(port=node.port)
        for name, value in CHANGES:
            r.config_set(name, value)
        r.config_rewrite()
    return path.read_text(), node.port


def test_rewrite_matches_redis_server(tmp_path):
    (tmp_path / "redis").mkdir()
    (tmp_path / "ours").mkdir()
    port = free_port()
    theirs = rewrite_with_redis(write_original(tmp_path / "redis", port), port)
    ours, our_port = rewrite_with_vermilion(write_original(tmp_path / "ours", 0))
    normal_theirs = theirs.replace(str((tmp_path / "redis").resolve()), "DIR").replace(f"port {port}\n", "port P\n")
    normal_ours = ours.replace(str((tmp_path / "ours").resolve()), "DIR").replace(f"port {our_port}\n", "port P\n")
    # Kept and rewritten lines come in file order; the appended ones in Redis's (hash) order.
    head_t, _, tail_t = normal_theirs.partition("# Generated by CONFIG REWRITE\n")
    head_o, _, tail_o = normal_ours.partition("# Generated by CONFIG REWRITE\n")
    assert head_o == head_t
    assert sorted(tail_o.splitlines()) == sorted(tail_t.splitlines())


def write_original(where: Path, port: int) -> Path:
    path = where / "redis.conf"
    path.write_text(ORIGINAL.format(port=port, dir=where.resolve(), name="server"))
    return path


def test_rewrite_keeps_the_signature_once_and_is_stable(tmp_path):
    conf = tmp_path / "r.conf"
    conf.write_text(f"dir {tmp_path}\nhz 20\n")
    c = Config()
    c.load(str(conf))
    c.set_many([("timeout", "9")])
    c.rewrite()
    first = conf.read_text()
    assert first.count("# Generated by CONFIG REWRITE") == 1
    assert "timeout 9\n" in first and "hz 20\n" in first
    c.rewrite()
    c.rewrite()
    assert conf.read_text().count("# Generated by CONFIG REWRITE") == 1
    again = Config()
    again.load(str(conf))
    assert (again["timeout"], again["hz"], again["save"]) == (9, 20, c["save"])


def test_rewrite_writes_the_default_user_with_a_hashed_password(tmp_path):
    conf = tmp_path / "r.conf"
    conf.write_text("")
    c = Config()
    c.load(str(conf))
    c.set_many([("requirepass", "foo")])
    c.rewrite()
    lines = conf.read_text().splitlines()
    assert "user default on #2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae ~* &* +@all" in lines
    assert 'requirepass "foo"' in lines


def test_rewrite_of_a_deleted_file_creates_it(tmp_path):
    conf = tmp_path / "gone.conf"
    conf.write_text("hz 12\n")
    c = Config()
    c.load(str(conf))
    os.unlink(conf)
    c.rewrite()
    assert "hz 12" in conf.read_text().splitlines()
