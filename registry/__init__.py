"""Discovery: mDNS/DNS-SD announce and browse, static and file fallbacks, and trust.

- ``DiscoverSource(DiscoverSettings(...))``: a ``discover`` entry's tools, following
  the live set of matching, trusted services.
- ``DnsSettings``: services named by DNS SRV records (a cluster without multicast).
- ``Announcer``: keeps a service announced as ``_brainjar._tcp.local.``.
- ``Registry`` + ``browse`` / ``watch_file`` / ``static_sightings``: the live
  table, for ``brainjar discover`` and for anyone who wants it.

mDNS runs on loopback (``127.0.0.1``) unless told otherwise (``interfaces``).
"""

from ._announce import SERVICE_TYPE, Announcer, txt_properties
from ._browser import browse
from ._dns import DnsSettings
from ._interfaces import DEFAULT_INTERFACES, resolve_interfaces
from ._registry import Policy, Registry
from ._source import DiscoverSettings, DiscoverSource, policy_from_config, start_feeds
from ._static import read_address_file, static_sightings, watch_file
from ._table import Service, Sighting

__all__ = [
    "DEFAULT_INTERFACES",
    "SERVICE_TYPE",
    "Announcer",
    "DiscoverSettings",
    "DiscoverSource",
    "DnsSettings",
    "Policy",
    "Registry",
    "Service",
    "Sighting",
    "browse",
    "policy_from_config",
    "read_address_file",
    "resolve_interfaces",
    "start_feeds",
    "static_sightings",
    "txt_properties",
    "watch_file",
]
