"""The lab: fault schedules, the fault proxy against real servers, and a short end-to-end run
that must produce its tables and a real PNG chart."""

import asyncio
import json

import pytest

import strategies.lab as lab
from strategies import connect
from strategies.lab.faults import Fault, FaultProxy, fault_windows, parse_schedule
from tests.support.servers import real_redis


def test_fault_schedules_parse_into_timed_events():
    faults = parse_schedule("slow@16+2:600ms, kill@5+4, pause@12+1.5, restart@30, kill@40")
    assert faults == [
        Fault("kill", 5.0, 4.0), Fault("restart", 9.0), Fault("pause", 12.0, 1.5),
        Fault("slow", 16.0, 2.0, 0.6), Fault("restart", 30.0), Fault("kill", 40.0),
    ]
    assert fault_windows(faults) == [(5.0, 9.0, "killed"), (12.0, 13.5, "paused"), (16.0, 18.0, "slow 600ms"),
                                     (40.0, float("inf"), "killed")]
    assert parse_schedule("") == []


@pytest.mark.parametrize("bad", ["explode@3", "pause@3", "slow@3+1", "kill@-1", "kill@99999", "kill"])
def test_bad_fault_schedules_are_refused(bad):
    with pytest.raises(ValueError):
        parse_schedule(bad)


async def test_the_proxy_relays_and_can_kill_stall_and_slow_traffic(cache_server):
    proxy = await FaultProxy(cache_server.port).start()
    client = connect(f"redis://127.0.0.1:{proxy.port}/0", timeout=0.3)
    loop = asyncio.get_running_loop()
    try:
        assert await client.set("k", "v") and await client.get("k") == b"v"
        proxy.delay(0.1)
        started = loop.time()
        assert await client.get("k") == b"v"
        assert loop.time() - started >= 0.1
        proxy.delay(0.0)
        proxy.stall()
        with pytest.raises(Exception) as info:
            await client.get("k")
        assert "Timeout" in type(info.value).__name__
        proxy.resume()
        assert await client.get("k") == b"v"
        await proxy.kill()
        with pytest.raises(Exception) as info:
            await client.get("k")
        assert "Connection" in type(info.value).__name__
        await proxy.revive()
        assert await client.get("k") == b"v"
    finally:
        await client.aclose()
        await proxy.stop()


QUICK_RUN = [
    "--strategies", "look-aside,write-back", "--duration", "2", "--rate", "200", "--keys", "200",
    "--faults", "kill@0.5+0.7", "--breaker-wait", "0.3", "--flush-interval", "0.2",
    "--policies", "none,lease", "--stampede-duration", "1", "--stampede-ttl", "0.25",
    "--recompute", "30ms", "--processes", "2", "--readers", "3",
]


def check_outputs(out, capsys):
    printed = capsys.readouterr().out
    report = (out / "report.md").read_text()
    assert report.strip() in printed
    assert "| look-aside |" in report and "| write-back |" in report
    assert "| none |" in report and "| lease |" in report
    png = (out / "chart.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and 10_000 < len(png) < 200_000
    results = json.loads((out / "results.json").read_text())
    by_name = {r["strategy"]: r for r in results["main"]}
    assert by_name["look-aside"]["errors"] == 0
    assert by_name["look-aside"]["inconsistent_after"] == 0
    assert by_name["look-aside"]["breaker_transitions"] >= 2  # the kill opened it; it closed again
    write_back = by_name["write-back"]
    assert write_back["unflushed_at_kill"] is not None  # the kill took its snapshot
    assert write_back["lost_writes_reported"] <= write_back["unflushed_at_kill"]
    assert write_back["loss_unaccounted"] == 0  # lost exactly the unflushed writes, each named
    stampede = {r["policy"]: r for r in results["stampede"]}
    assert stampede["lease"]["db_calls"] < stampede["none"]["db_calls"]


def test_the_lab_runs_on_an_in_process_vermilion_node(tmp_path, capsys):
    assert lab.main([*QUICK_RUN, "--out", str(tmp_path)]) == 0
    check_outputs(tmp_path, capsys)


def test_the_lab_runs_against_a_redis_url(tmp_path, capsys):
    with real_redis() as server:
        assert lab.main([*QUICK_RUN, "--redis-url", f"redis://127.0.0.1:{server.port}/3", "--out", str(tmp_path)]) == 0
    check_outputs(tmp_path, capsys)


@pytest.mark.parametrize("argv", [
    ["--duration", "0"],
    ["--rate", "1e9"],
    ["--redis-url", "redis://192.0.2.7:6379/0"],
    ["--db", "postgresql://user@192.0.2.7/db"],
    ["--strategies", "write-sideways"],
])
def test_the_lab_refuses_unbounded_or_non_loopback_settings(argv):
    with pytest.raises(SystemExit):
        lab.main(argv)


async def test_every_second_of_a_run_has_its_hit_ratio_sample_including_the_last():
    from strategies.lab.workload import Config, run_all

    cfg = Config(strategies=("look-aside",), duration=2, rate=200, keys=100, faults="")
    (result,) = await run_all(cfg, [])
    assert [result.seconds[s].lookups > 0 for s in range(2)] == [True, True]
