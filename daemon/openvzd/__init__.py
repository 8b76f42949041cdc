"""openvzd: the OpenVZ container driver as a service."""

__version__ = "0.1.0"
