"""The cache entry format: round trips, and the rank order versioned writes obey."""

from strategies.entry import ABSENT, DIRTY, TOMBSTONE, VALUE, Entry, Row, decode, rank


def test_entries_round_trip_through_their_encoding():
    for entry in (
        Entry(VALUE, 7, b"payload\nwith newline|and bars", soft_at=1, expires_at=2, delta=3),
        Entry(ABSENT, 4),
        Entry(TOMBSTONE, 9, expires_at=123),
        Entry(DIRTY, 0, b"", write_id="ab12cd34.17"),
    ):
        assert decode(entry.encode()) == entry


def test_a_row_becomes_a_value_or_an_absent_entry():
    assert Entry.from_row(Row(b"x", 3)).kind == VALUE
    assert Entry.from_row(Row(None, 3)).kind == ABSENT
    assert Entry.from_row(Row(None, 3)).row == Row(None, 3)


def test_values_this_library_did_not_write_decode_as_nothing():
    assert decode(None) is None
    assert decode(b"plain value") is None
    assert decode(b"~c1|V|notanumber||1|2|3\nx") is None
    assert decode(b"~c1|Q|1||1|2|3\nx") is None
    assert decode(b"~c1|V|1||1|2|3") is None  # no header end


def test_a_tombstone_beats_older_values_and_loses_to_the_value_of_its_own_version():
    assert rank(VALUE, 4) < rank(TOMBSTONE, 5) < rank(VALUE, 5) < rank(TOMBSTONE, 6)
    assert rank(ABSENT, 5) == rank(VALUE, 5)
