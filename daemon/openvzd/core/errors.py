"""The one error type and its kinds, as front-ends import them (they may not
import vz/, where the type lives so that vz/ imports nothing above it)."""

from openvzd.vz.errors import ErrorKind, OpenvzError

__all__ = ["ErrorKind", "OpenvzError"]
