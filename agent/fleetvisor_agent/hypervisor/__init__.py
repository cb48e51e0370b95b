"""libvirt behind two front modules: host.py (the connection, capabilities, inventory, events) and guest.py (one VM).

Behind them: translate.py (the state, reason and error tables), snapshots.py
(one VM's snapshots), storage.py (pool volumes and pools), detail.py (what
vm.detail reads), events.py (libvirt's event loop and the lifecycle
subscription). Nothing else in the agent imports libvirt; everything above this
package sees HypervisorError with a stable code instead of libvirtError.
"""

from .errors import HypervisorError

__all__ = ["HypervisorError"]
