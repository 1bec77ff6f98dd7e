"""Aurora's Thrift API: our IDL (aurora.thrift), its generated code (gen/), and the protocol layer.

`protocol` turns an HTTP body into a call on a handler object and the handler's Response back into a body,
in TJSON or TBinary as Aurora's /api does; `client` is the other end. Neither holds scheduler logic.
"""
