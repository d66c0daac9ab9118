"""The master's PSYNC decision (masterTryPartialResynchronization), state by state."""

from __future__ import annotations

from replication.psync import NO_REPLID, History, decide

ID1 = "1" * 40
ID2 = "2" * 40


def history(**kw) -> History:
    base = dict(replid=ID1, replid2=NO_REPLID, second_replid_offset=-1, offset=500, backlog_first=101)
    base.update(kw)
    return History(**base)


def test_the_current_id_within_the_backlog_continues():
    for offset in (101, 300, 501):
        assert decide(history(), ID1, offset).partial


def test_ids_compare_case_insensitively():
    assert decide(history(replid="ab" * 20), "AB" * 20, 200).partial


def test_outside_the_backlog_means_a_full_resync():
    d = decide(history(), ID1, 100, "r:1")
    assert not d.partial and d.reason == "backlog"
    assert d.log == "Unable to partial resync with replica r:1 for lack of backlog (Replica request was: 100)."
    assert d.warning == ""
    d = decide(history(), ID1, 502, "r:1")
    assert not d.partial and d.reason == "backlog"
    assert d.warning == ("Warning: replica r:1 tried to PSYNC with an offset that is greater than the master "
                         "replication offset.")


def test_no_backlog_means_a_full_resync():
    assert decide(history(backlog_first=None), ID1, 200).reason == "backlog"


def test_the_previous_id_is_valid_up_to_the_switch_offset():
    h = history(replid2=ID2, second_replid_offset=301)
    assert decide(h, ID2, 301).partial
    d = decide(h, ID2, 302)
    assert not d.partial and d.reason == "replid2-offset"
    assert d.log == ("Partial resynchronization not accepted: Requested offset for second ID was 302, but I can "
                     "reply up to 301")


def test_an_unknown_id_is_refused_with_redis_log_line():
    d = decide(history(), "3" * 40, 200)
    assert d.reason == "replid"
    assert d.log == ("Partial resynchronization not accepted: Replication ID mismatch (Replica asked for '%s', my "
                     "replication IDs are '%s' and '%s')" % ("3" * 40, ID1, NO_REPLID))


def test_a_question_mark_asks_for_a_full_resync():
    d = decide(history(), "?", -1, "r:2")
    assert (d.partial, d.reason, d.log) == (False, "requested", "Full resync requested by replica r:2")
