"""Hand-written request streams with what Redis 7.0 makes of them.

Each ``Case`` is a byte stream and the expected outcome: the requests Redis runs, the
protocol error it answers with (then closes), and the bytes it keeps waiting on. The reader
tests check both readers against these in every chunking; the wire tests send the same bytes
to real redis-server and to a Vermilion node. Requests use PING and ECHO so that a server's
replies show exactly how it split the stream.

``auth=False`` cases run as a client that has not authenticated (requirepass set).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from protocol import errors as E
from protocol.reader import INLINE_MAX_SIZE, MAX_BULK_LEN, UNAUTH_MAX_BULK_LEN
from tests.support.resp import encode_command


@dataclass(frozen=True)
class Case:
    id: str
    data: bytes
    requests: tuple = ()
    error: str | None = None
    #: Bytes held after the stream, waiting for the rest of a request (None: don't check).
    pending: int | None = 0
    auth: bool = True
    #: Also send it to real Redis (False for streams whose outcome depends on how TCP cuts
    #: them, i.e. above the 64 KB line limits).
    wire: bool = True
    reader_kw: dict = field(default_factory=dict)


def req(*args) -> bytes:
    return encode_command(*args)


PING = req("PING")
ALL_BYTES = bytes(range(256))

CASES = [
    # -- well-formed multibulk -------------------------------------------------------------------
    Case("multibulk_ping", PING, ((b"PING",),)),
    # hiredis parses a RESP3 false (#f) to False, its default "need more data" value.
    Case("resp3_false_line_after_requests", b"*0\r\n#f\r\n" + PING, ((b"#f",), (b"PING",))),
    Case("multibulk_echo", req("ECHO", "hello"), ((b"ECHO", b"hello"),)),
    Case("empty_bulk_argument", req("ECHO", ""), ((b"ECHO", b""),)),
    Case("every_byte_value_in_a_bulk", req("ECHO", ALL_BYTES), ((b"ECHO", ALL_BYTES),)),
    Case("crlf_and_nul_inside_a_bulk", req("ECHO", b"a\r\nb\0c\r\n"), ((b"ECHO", b"a\r\nb\0c\r\n"),)),
    Case("bulk_that_looks_like_requests", req("ECHO", b"\r\n*1\r\n$4\r\nPING\r\n"),
         ((b"ECHO", b"\r\n*1\r\n$4\r\nPING\r\n"),)),
    Case("lowercase_command_name", req("ping"), ((b"ping",),)),
    Case("pipeline_of_three", PING + req("ECHO", "a") + PING, ((b"PING",), (b"ECHO", b"a"), (b"PING",))),
    Case("big_pipeline", PING * 5000, ((b"PING",),) * 5000),
    Case("big_pipeline_of_echo", b"".join(req("ECHO", str(i)) for i in range(3000)),
         tuple((b"ECHO", str(i).encode()) for i in range(3000))),
    Case("bulk_above_64k", req("ECHO", b"x" * 200_000), ((b"ECHO", b"x" * 200_000),)),
    # -- empty and skipped requests ----------------------------------------------------------------
    Case("star_zero_is_no_request", b"*0\r\n"),
    Case("star_minus_one_is_no_request", b"*-1\r\n"),
    Case("any_negative_count_is_no_request", b"*-5\r\n*-9223372036854775808\r\n" + PING, ((b"PING",),)),
    Case("star_zero_between_requests", PING + b"*0\r\n" + PING, ((b"PING",), (b"PING",))),
    # Redis skips the byte after a CR and the two bytes after a bulk without looking at them.
    Case("byte_after_count_cr_is_not_checked", b"*1\rX$4\r\nPING\r\n", ((b"PING",),)),
    Case("byte_after_length_cr_is_not_checked", b"*1\r\n$4\rXPING\r\n", ((b"PING",),)),
    Case("two_bytes_after_bulk_are_skipped", b"*2\r\n$4\r\nECHO\r\n$1\r\naXY*1\r\n$4\r\nPING\r\n",
         ((b"ECHO", b"a"), (b"PING",))),
    # A bulk one byte short: "b\r" is skipped, and the "\n" left over is an empty inline line.
    Case("short_bulk_leaves_an_empty_inline_line", b"*2\r\n$4\r\nECHO\r\n$1\r\nab\r\n*1\r\n$4\r\nPING\r\n",
         ((b"ECHO", b"a"), (b"PING",))),
    # -- incomplete requests wait ------------------------------------------------------------------
    Case("cr_without_lf_at_end_waits", b"*1\r", pending=3),
    Case("count_line_without_cr_waits", b"*1", pending=2),
    Case("half_a_request_waits", PING + b"*2\r\n$4\r\nECHO\r\n$5\r\nhel", ((b"PING",),), pending=3),
    Case("bulk_missing_its_crlf_waits", b"*2\r\n$4\r\nECHO\r\n$2\r\nhi", pending=2),
    Case("largest_count_waits_without_allocating", b"*2147483647\r\n", pending=None),
    Case("largest_bulk_waits_without_allocating", b"*1\r\n$%d\r\n" % MAX_BULK_LEN, pending=None),
    Case("inline_line_without_newline_waits", b"PING", pending=4),
    Case("line_of_64k_without_newline_waits", b"a" * INLINE_MAX_SIZE, pending=INLINE_MAX_SIZE),
    # -- NUL stops Redis's line search (strchr) ---------------------------------------------------
    Case("nul_in_inline_line_never_ends_it", b"PI\0NG\r\n", pending=7),
    Case("nul_in_count_line_never_ends_it", b"*1\0\r\n$4\r\nPING\r\n", pending=15),
    Case("nul_in_length_line_never_ends_it", b"*1\r\n$4\0\r\nPING\r\n", pending=None),
    Case("nul_then_64k_is_too_big_inline", b"PING\0" + b"a" * INLINE_MAX_SIZE, (), E.TOO_BIG_INLINE),
    # -- inline commands -----------------------------------------------------------------------------
    Case("inline_crlf", b"PING\r\n", ((b"PING",),)),
    Case("inline_lf_only", b"PING\n", ((b"PING",),)),
    Case("inline_arguments", b"ECHO hello\r\n", ((b"ECHO", b"hello"),)),
    Case("inline_spaces_and_tabs", b"  ECHO \t  hello  \t\r\n", ((b"ECHO", b"hello"),)),
    Case("inline_blank_lines_are_ignored", b"\r\n\n   \r\n\t\n" + PING, ((b"PING",),)),
    Case("inline_cr_inside_line", b"ECHO a\rb\r\n", ((b"ECHO", b"a", b"b"),)),
    Case("inline_lone_cr_line", b"\r\r\n" + PING, ((b"PING",),)),
    Case("inline_vertical_tab_inside_word", b"ECHO a\x0bb\r\n", ((b"ECHO", b"a\x0bb"),)),
    Case("inline_form_feed_leading_space", b"\x0cECHO \x0ca\r\n", ((b"ECHO", b"a"),)),
    Case("inline_double_quotes", b'ECHO "a b"\r\n', ((b"ECHO", b"a b"),)),
    Case("inline_single_quotes", b"ECHO 'a b'\r\n", ((b"ECHO", b"a b"),)),
    Case("inline_empty_quotes", b'ECHO ""\r\n', ((b"ECHO", b""),)),
    Case("inline_double_quote_escapes", b'ECHO "\\n\\r\\t\\b\\a\\\\\\"\\q"\r\n', ((b"ECHO", b"\n\r\t\b\a\\\"q"),)),
    Case("inline_hex_escapes", b'ECHO "\\x41\\x00\\xff\\xfF"\r\n', ((b"ECHO", b"A\x00\xff\xff"),)),
    Case("inline_bad_hex_escape_is_literal", b'ECHO "\\xZZ\\x4"\r\n', ((b"ECHO", b"xZZx4"),)),
    Case("inline_single_quote_escape", b"ECHO 'it\\'s \\n'\r\n", ((b"ECHO", b"it's \\n"),)),
    Case("inline_quote_inside_word_opens_quoting", b'ECHO a"b c"\r\n', ((b"ECHO", b"ab c"),)),
    Case("inline_quote_then_vertical_tab_is_fine", b'ECHO "a"\x0b\r\n', ((b"ECHO", b"a"),)),
    Case("inline_long_line_with_newline_whole", b"ECHO " + b"x" * 70_000 + b"\r\n",
         ((b"ECHO", b"x" * 70_000),), wire=False),
    # -- protocol errors ------------------------------------------------------------------------------
    Case("unbalanced_double_quote", b'ECHO "abc\r\n', (), E.UNBALANCED_QUOTES),
    Case("unbalanced_single_quote", b"ECHO 'abc\r\n", (), E.UNBALANCED_QUOTES),
    Case("closing_quote_followed_by_text", b'ECHO "a"b\r\n', (), E.UNBALANCED_QUOTES),
    Case("closing_single_quote_followed_by_text", b"ECHO 'a'b\r\n", (), E.UNBALANCED_QUOTES),
    Case("escape_at_end_of_quoted", b'ECHO "abc\\\r\n', (), E.UNBALANCED_QUOTES),
    Case("unbalanced_after_good_requests", PING + b'ECHO "x\r\n' + PING, ((b"PING",),), E.UNBALANCED_QUOTES),
    Case("too_big_inline_request", b"a" * (INLINE_MAX_SIZE + 1), (), E.TOO_BIG_INLINE),
    Case("too_big_mbulk_count_string", b"*" + b"1" * INLINE_MAX_SIZE, (), E.TOO_BIG_MBULK_COUNT),
    Case("too_big_bulk_count_string", b"*1\r\n$" + b"1" * INLINE_MAX_SIZE, (), E.TOO_BIG_BULK_COUNT),
    Case("invalid_multibulk_length_letters", b"*abc\r\n", (), E.INVALID_MBULK_LEN),
    Case("invalid_multibulk_length_empty", b"*\r\n", (), E.INVALID_MBULK_LEN),
    Case("invalid_multibulk_length_leading_zero", b"*01\r\n", (), E.INVALID_MBULK_LEN),
    Case("invalid_multibulk_length_plus", b"*+1\r\n", (), E.INVALID_MBULK_LEN),
    Case("invalid_multibulk_length_space", b"* 1\r\n", (), E.INVALID_MBULK_LEN),
    Case("invalid_multibulk_length_minus_zero", b"*-0\r\n", (), E.INVALID_MBULK_LEN),
    Case("invalid_multibulk_length_above_int_max", b"*2147483648\r\n", (), E.INVALID_MBULK_LEN),
    Case("invalid_multibulk_length_above_int64", b"*9223372036854775808\r\n", (), E.INVALID_MBULK_LEN),
    Case("invalid_multibulk_length_lf_only", b"*1\n$4\r\nPING\r\n", (), E.INVALID_MBULK_LEN),
    Case("expected_dollar_got_colon", b"*1\r\n:1\r\n", (), E.expected_dollar(ord(":"))),
    Case("expected_dollar_got_star", b"*1\r\n*1\r\n$4\r\nPING\r\n", (), E.expected_dollar(ord("*"))),
    Case("expected_dollar_got_letter", b"*1\r\nPING\r\n", (), E.expected_dollar(ord("P"))),
    Case("expected_dollar_got_high_byte", b"*1\r\n\xff\r\n", (), E.expected_dollar(0xFF)),
    Case("expected_dollar_got_cr", b"*1\r\n\r\n", (), E.expected_dollar(13)),
    Case("expected_dollar_got_resp3_types", b"*3\r\n$4\r\nECHO\r\n_\r\n", (), E.expected_dollar(ord("_"))),
    Case("invalid_bulk_length_null", b"*1\r\n$-1\r\n", (), E.INVALID_BULK_LEN),
    Case("invalid_bulk_length_letters", b"*1\r\n$abc\r\n", (), E.INVALID_BULK_LEN),
    Case("invalid_bulk_length_empty", b"*1\r\n$\r\n", (), E.INVALID_BULK_LEN),
    Case("invalid_bulk_length_leading_zero", b"*1\r\n$04\r\nPING\r\n", (), E.INVALID_BULK_LEN),
    Case("invalid_bulk_length_plus", b"*1\r\n$+4\r\nPING\r\n", (), E.INVALID_BULK_LEN),
    Case("invalid_bulk_length_trailing_space", b"*1\r\n$4 \r\nPING\r\n", (), E.INVALID_BULK_LEN),
    Case("invalid_bulk_length_above_max", b"*1\r\n$%d\r\n" % (MAX_BULK_LEN + 1), (), E.INVALID_BULK_LEN),
    Case("invalid_bulk_length_lf_only", b"*1\r\n$4\nPING\r\n", (), E.INVALID_BULK_LEN),
    Case("requests_before_error_run", PING + PING + b"*1\r\n$x\r\n" + PING,
         ((b"PING",), (b"PING",)), E.INVALID_BULK_LEN),
    # -- limits before AUTH (CVE-2021-32675) ---------------------------------------------------------
    Case("unauth_ten_arguments_allowed", req("ECHO", *["a"] * 9), ((b"ECHO",) + (b"a",) * 9,), auth=False),
    Case("unauth_multibulk_length", req("ECHO", *["a"] * 10), (), E.UNAUTH_MBULK_LEN, auth=False),
    Case("unauth_16k_bulk_allowed", req("ECHO", b"x" * UNAUTH_MAX_BULK_LEN),
         ((b"ECHO", b"x" * UNAUTH_MAX_BULK_LEN),), auth=False),
    Case("unauth_bulk_length", b"*2\r\n$4\r\nECHO\r\n$16385\r\n", (), E.UNAUTH_BULK_LEN, auth=False),
    Case("unauth_invalid_count_wins", b"*2147483648\r\n", (), E.INVALID_MBULK_LEN, auth=False),
    Case("unauth_inline_is_not_limited", b"ECHO " + b"a " * 20 + b"\r\n", ((b"ECHO",) + (b"a",) * 20,), auth=False),
]
