"""The OpenADR 3 wire models vtn_lite validates requests with (pydantic), and event spans on them.

They sit here, not in the gateway: the gateway parses OpenADR by hand and never loads pydantic
(docs/packaging.md), so its package does not ship them. Both sides share the pydantic-free parts
(:mod:`ven_edge.oadr3.timefmt`, :mod:`ven_edge.oadr3.spans`, :mod:`ven_edge.oadr3.operations`).
"""
