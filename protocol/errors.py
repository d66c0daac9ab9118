"""Protocol errors: the request stream is malformed and the connection must close.

Redis answers a protocol error with ``-ERR Protocol error: <reason>`` and then closes the
connection; anything pipelined after the bad request is dropped. The reason strings below
are the ones redis-server 7.0 sends (networking.c processInlineBuffer/processMultibulkBuffer).
"""


class ProtocolError(Exception):
    """The request stream cannot be parsed; reply with ``reply`` and close."""

    __slots__ = ("reason",)

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason

    @property
    def reply(self) -> bytes:
        # The offending byte is echoed raw (latin-1 maps it back to itself); CR and LF in an
        # error text become spaces, as in every Redis error reply.
        text = self.reason.encode("latin-1").replace(b"\r", b" ").replace(b"\n", b" ")
        return b"-ERR Protocol error: " + text + b"\r\n"


TOO_BIG_INLINE = "too big inline request"
UNBALANCED_QUOTES = "unbalanced quotes in request"
TOO_BIG_MBULK_COUNT = "too big mbulk count string"
INVALID_MBULK_LEN = "invalid multibulk length"
UNAUTH_MBULK_LEN = "unauthenticated multibulk length"
TOO_BIG_BULK_COUNT = "too big bulk count string"
INVALID_BULK_LEN = "invalid bulk length"
UNAUTH_BULK_LEN = "unauthenticated bulk length"


def expected_dollar(got: int) -> str:
    return "expected '$', got '%s'" % chr(got)
