"""libvirt behind two modules: host.py (the connection, capabilities, inventory) and guest.py (one VM).

Nothing else in the agent imports libvirt; everything above this package sees
HypervisorError with a stable code instead of libvirtError.
"""

from .errors import HypervisorError

__all__ = ["HypervisorError"]
