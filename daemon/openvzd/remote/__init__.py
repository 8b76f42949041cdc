"""Remote access to openvzd: the TLS listener, the TCP+SASL listener and the
helper that the SSH transport runs on the daemon's host.

TLS is served by grpc itself (mutual x509, per-call access from the client's
subject DN). SASL and SSH are byte-stream bridges in front of the daemon's own
unix sockets: once a client has authenticated, its stream is joined to the
read-write or the read-only socket, so the read-only rule of those sockets
applies unchanged.
"""
