"""libvirt's own RPC protocol as a second front-end on the core, so unmodified
libvirt clients (virsh, libvirt-python, virt-manager, ...) manage openvzd's
containers: xdr.py and protocol.py (the wire), procedures/ (what each call
does, through the CoreFacade only), server.py (the unix sockets), tls.py (libvirt's TLS
transport), events.py (lifecycle events in libvirt's numbers).
docs/libvirt-protocol.md describes the protocol as the 9.0 client speaks it."""
