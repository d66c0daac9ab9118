"""Pure data structures and arithmetic, free of I/O and of the server (see DESIGN.md).

- ``longdouble``   x87 80-bit ``long double`` parsing, addition and printing (INCRBYFLOAT)
- ``list``         RList, the list value (a deque of elements kept in reply form)
"""
