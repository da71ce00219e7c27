"""People.ai's line pass: its JSON Lines validated, contracted and framed, in Python or native.

:mod:`.record_lines` runs the pass over a fragment, piece by piece; :mod:`.scan` and
:mod:`.decode` are the Python pass's looks at a line and its slow way; ``lines.cpp`` is the
native pass (:mod:`.native` loads it, :mod:`.native_build` builds it, :mod:`.native_status`
says which pass an installation runs).
"""
